package disclosure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
)

// Mode is how a release protects its cells.
type Mode string

const (
	// ModeNoise adds discrete Gaussian noise to every cell that passes the
	// threshold and spends privacy budget (the default).
	ModeNoise Mode = "noise"
	// ModeRounding is the fallback without noise: a higher threshold,
	// counts rounded to a base, the suppression pattern carried forward
	// across releases and complementary suppression so that no suppressed
	// cell can be derived exactly from the published margins. It spends no
	// ρ, and gives no formal guarantee.
	ModeRounding Mode = "rounding"
)

// Settings are the disclosure settings of a territory (PRIVACY.md, "Snodo's
// design"). They are chosen by the territory, never by the region, and every
// release stores (and its envelope carries) the settings it was made with.
type Settings struct {
	Mode Mode

	// YearCap is the ρ (zCDP) a reporting year may spend in all; AnnualRho
	// and QuarterlyRho are spent by one annual or one quarterly release.
	// Defaults 1, 3/4 and 1/16 (the four quarterly headline releases share
	// 1/4). Only the noise mode spends ρ.
	YearCap      *big.Rat
	AnnualRho    *big.Rat
	QuarterlyRho *big.Rat

	// HeadlineShare is the share of a release's ρ given to its totals (the
	// headline figures regional bodies compare) when the release also has
	// breakdowns, as an annual release does: the totals' tables split
	// ρ·HeadlineShare, the breakdowns' tables the rest, so a total gets
	// far less noise than an even split would give it. 0 splits the ρ
	// evenly over all tables. Default 7/8 (PRIVACY.md goal 3: see
	// docs/design-documents/20261122-headline-accuracy.md).
	HeadlineShare *big.Rat

	// Threshold: a cell whose true count is below it is suppressed before
	// any noise or rounding (3 with noise, the Sistan minimum; 10 in the
	// rounding mode).
	Threshold int64

	// DisplayBelow and MinRateDenominator are applied by the region, and
	// carried here so that it knows the territory's choice: a noisy count
	// under DisplayBelow is shown as "<DisplayBelow", and a rate only when
	// its noisy denominator is at least MinRateDenominator.
	DisplayBelow       int64
	MinRateDenominator int64

	// RoundingBase: in the rounding mode every published count is rounded
	// to a multiple of it; in the noise mode public views round to it.
	RoundingBase int64
}

// DefaultSettings returns the default settings of PRIVACY.md: discrete
// Gaussian noise, ρ = 1 per year (3/4 annual, 1/16 for each of the four
// quarterly releases), 7/8 of a release's ρ for its totals, threshold 3,
// "<10" display, rates when the denominator is at least 20, public views
// rounded to 5.
func DefaultSettings() Settings {
	return Settings{
		Mode:               ModeNoise,
		YearCap:            big.NewRat(1, 1),
		AnnualRho:          big.NewRat(3, 4),
		QuarterlyRho:       big.NewRat(1, 16),
		HeadlineShare:      big.NewRat(7, 8),
		Threshold:          3,
		DisplayBelow:       10,
		MinRateDenominator: 20,
		RoundingBase:       5,
	}
}

// DefaultRoundingSettings returns the default settings of the fallback mode
// without noise: threshold 10, counts rounded to base 5.
func DefaultRoundingSettings() Settings {
	s := DefaultSettings()
	s.Mode = ModeRounding
	s.Threshold = 10
	return s
}

// Validate reports the first problem of s.
func (s Settings) Validate() error {
	switch s.Mode {
	case ModeNoise, ModeRounding:
	default:
		return fmt.Errorf("disclosure settings: mode %q is not %q or %q", s.Mode, ModeNoise, ModeRounding)
	}
	for _, r := range []struct {
		name string
		v    *big.Rat
	}{{"year cap", s.YearCap}, {"annual ρ", s.AnnualRho}, {"quarterly ρ", s.QuarterlyRho}} {
		if r.v == nil || r.v.Sign() <= 0 {
			return fmt.Errorf("disclosure settings: the %s must be a positive number, got %v", r.name, r.v)
		}
		if r.v.Cmp(s.YearCap) > 0 {
			return fmt.Errorf("disclosure settings: the %s %s exceeds the year cap %s", r.name, r.v.RatString(), s.YearCap.RatString())
		}
	}
	if s.HeadlineShare == nil || s.HeadlineShare.Sign() < 0 || s.HeadlineShare.Cmp(big.NewRat(1, 1)) >= 0 {
		return fmt.Errorf("disclosure settings: the headline share must be at least 0 and below 1 (the breakdowns need some ρ), got %v", s.HeadlineShare)
	}
	if s.Threshold < 1 {
		return fmt.Errorf("disclosure settings: the threshold must be at least 1, got %d", s.Threshold)
	}
	if s.Mode == ModeRounding && s.RoundingBase < 1 {
		return fmt.Errorf("disclosure settings: the rounding mode needs a rounding base of at least 1, got %d", s.RoundingBase)
	}
	if s.DisplayBelow < 0 || s.MinRateDenominator < 0 || s.RoundingBase < 0 {
		return errors.New("disclosure settings: display threshold, rate denominator and rounding base cannot be negative")
	}
	return nil
}

// settingsJSON is the stored and federated form of Settings; ρ values are
// exact rationals as text.
type settingsJSON struct {
	Mode               Mode   `json:"mode"`
	RhoYearCap         string `json:"rho_year_cap"`
	RhoAnnual          string `json:"rho_annual"`
	RhoQuarterly       string `json:"rho_quarterly"`
	HeadlineShare      string `json:"headline_share"`
	Threshold          int64  `json:"threshold"`
	DisplayBelow       int64  `json:"display_below"`
	MinRateDenominator int64  `json:"min_rate_denominator"`
	RoundingBase       int64  `json:"rounding_base"`
}

// MarshalJSON writes s with its ρ values as exact rationals ("1/16"). The
// keys are sorted, so the output is canonical JSON.
func (s Settings) MarshalJSON() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	// Field order of a map: encoding/json sorts the keys.
	return json.Marshal(map[string]any{
		"mode":                 s.Mode,
		"rho_year_cap":         s.YearCap.RatString(),
		"rho_annual":           s.AnnualRho.RatString(),
		"rho_quarterly":        s.QuarterlyRho.RatString(),
		"headline_share":       s.HeadlineShare.RatString(),
		"threshold":            s.Threshold,
		"display_below":        s.DisplayBelow,
		"min_rate_denominator": s.MinRateDenominator,
		"rounding_base":        s.RoundingBase,
	})
}

// UnmarshalJSON reads what MarshalJSON writes. Settings stored before the
// headline share existed have none: they split ρ evenly (share 0).
func (s *Settings) UnmarshalJSON(b []byte) error {
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("disclosure settings: %w", err)
	}
	var out Settings
	out.Mode = j.Mode
	var err error
	if j.HeadlineShare == "" {
		j.HeadlineShare = "0"
	}
	for _, r := range []struct {
		dst  **big.Rat
		text string
		name string
	}{{&out.YearCap, j.RhoYearCap, "rho_year_cap"}, {&out.AnnualRho, j.RhoAnnual, "rho_annual"}, {&out.QuarterlyRho, j.RhoQuarterly, "rho_quarterly"},
		{&out.HeadlineShare, j.HeadlineShare, "headline_share"}} {
		if *r.dst, err = ParseRat(r.text); err != nil {
			return fmt.Errorf("disclosure settings: %s: %w", r.name, err)
		}
	}
	out.Threshold, out.DisplayBelow, out.MinRateDenominator, out.RoundingBase = j.Threshold, j.DisplayBelow, j.MinRateDenominator, j.RoundingBase
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

var ratText = regexp.MustCompile(`^(0|[1-9][0-9]{0,30})(/[1-9][0-9]{0,30})?$`)

// ParseRat reads a non-negative exact rational written as "n" or "n/d"
// (what big.Rat.RatString writes for a reduced fraction). It refuses
// decimals and anything not in lowest terms, so that one number has one
// spelling in signed envelopes.
func ParseRat(s string) (*big.Rat, error) {
	if !ratText.MatchString(s) {
		return nil, fmt.Errorf("%q is not an exact rational n or n/d (for example 1/16)", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not an exact rational", s)
	}
	if r.RatString() != s {
		return nil, fmt.Errorf("%q is not in lowest terms: write %s", s, r.RatString())
	}
	return r, nil
}

// ratDecimal writes r as a short decimal for messages.
func ratDecimal(r *big.Rat) string {
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', 6, 64)
}
