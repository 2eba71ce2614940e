package disclosure_test

import (
	"fmt"
	"math/big"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// A quarterly headline table spends ρ = 1/4: σ² = 2, and each noisy cell is
// within ±3 of its true count 95% of the time.
func Example() {
	rho := big.NewRat(1, 4)
	sigma2, _ := disclosure.SigmaSquaredForRho(rho)
	h, _ := disclosure.HalfWidth95(sigma2)
	fmt.Println("σ² =", sigma2.RatString(), "half-width 95% =", h)

	counts := []int64{12, 0, 7, 31} // one cell per household, zeros included
	noisy, err := disclosure.Noise(counts, rho)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Store noisy with the release epoch; re-send it, never re-draw it.
	fmt.Println(len(noisy), "noisy cells")
	// Output:
	// σ² = 2 half-width 95% = 3
	// 4 noisy cells
}
