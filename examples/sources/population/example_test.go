package population_test

import (
	"fmt"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// A system's view of the shared population: who it knows, under which
// local id and identifier.
func Example() {
	pop := population.Generate(42, 1000)
	fmt.Println(pop.Stats())

	for _, p := range pop.InAll(population.Comune, population.SDS, population.CPI)[:1] {
		kind, _ := p.IDIn(population.SDS)
		fmt.Println(p.LocalID(population.Comune), p.LocalID(population.SDS), p.LocalID(population.CPI), kind)
	}
	// Output:
	// households 1000, people 2356 (2.36 per household), foreign citizens 990, working age 1695
	// comune 1347 people (576 households, 58%), sds 771 (33% of people), cpi 774 (46% of working age)
	// overlap: comune+sds 526, comune+cpi 489, sds+cpi 255, all three 189, two or more 892, none 545
	// codes: cf 2300 (omocodic 11), provisional only 56, provisional and cf 80 (linked in a record 78)
	// records 2892, typos 45 (1.6%), permits 822, reception exits 140
	// ANAG-0000131 ASS-2019-00049 SIL-FI-000911 cf
}
