package attack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/snodo-hub/snodo/schemas"
)

// Layout is the public shape of what a territory publishes, read from the
// indicator catalogue: the breakdown dimensions with their categories and
// the indicators with their measures. The attacker knows it (the catalogue
// is public); it also fixes the scope of a household's record: one category
// per dimension and one state per indicator.
type Layout struct {
	CatalogueVersion string
	Dims             []Dim
	Inds             []Ind
	dimIndex         map[string]int
	indIndex         map[string]int
}

// Dim is a breakdown dimension of the catalogue.
type Dim struct {
	ID     string
	Values []string
}

// Ind is an indicator of the catalogue as it is published.
//
// A household's state for an indicator is 0 when it is outside the
// indicator's population, and otherwise says which measures it adds 1 to:
// for a ratio 1 is the denominator only and 2 the numerator and the
// denominator; for a binned indicator 1+k is bin k; for a count or a sum
// (whose sum is withheld, so only the denominator is published) 1 is in.
type Ind struct {
	ID, Version, Kind string
	Measures          []string // published measures, in catalogue order (sums left out)
	States            int      // number of states, 0 included
	Dims              []int    // indices into Layout.Dims of the indicator's breakdowns
	Quarterly, Annual bool
}

// MeasuresOf returns the indices (into Measures) of the measures a
// household in state s adds 1 to.
func (ind *Ind) MeasuresOf(s int) []int {
	if s <= 0 {
		return nil
	}
	switch ind.Kind {
	case schemas.KindRatio: // measures: numerator, denominator
		if s == 2 {
			return []int{0, 1}
		}
		return []int{1}
	case schemas.KindBinned:
		return []int{s - 1}
	default: // count; sum: the denominator only
		return []int{0}
	}
}

// NewLayout reads the catalogue.
func NewLayout(cat *schemas.Catalogue) (*Layout, error) {
	l := &Layout{CatalogueVersion: cat.Version, dimIndex: map[string]int{}, indIndex: map[string]int{}}
	for _, b := range cat.Breakdowns {
		l.dimIndex[b.ID] = len(l.Dims)
		l.Dims = append(l.Dims, Dim{ID: b.ID, Values: slices.Clone(b.Values)})
	}
	for i := range cat.Indicators {
		ci := &cat.Indicators[i]
		ind := Ind{ID: ci.ID, Version: ci.Version, Kind: ci.Kind,
			Quarterly: ci.HasPeriodKind(schemas.PeriodQuarter), Annual: ci.HasPeriodKind(schemas.PeriodYear)}
		for _, m := range ci.Measures() {
			// Sums are withheld from every release (hub/federation
			// Withheld): only their denominator is published.
			if ci.Kind == schemas.KindSum && m == "sum" {
				continue
			}
			ind.Measures = append(ind.Measures, m)
		}
		switch ci.Kind {
		case schemas.KindRatio:
			ind.States = 3
		case schemas.KindBinned:
			ind.States = 1 + len(ci.Bins)
		case schemas.KindCount, schemas.KindSum:
			ind.States = 2
		default:
			return nil, fmt.Errorf("attack: indicator %s: unknown kind %q", ci.ID, ci.Kind)
		}
		for _, b := range ci.Breakdowns {
			d, ok := l.dimIndex[b]
			if !ok {
				return nil, fmt.Errorf("attack: indicator %s: breakdown %q is not in the catalogue", ci.ID, b)
			}
			ind.Dims = append(ind.Dims, d)
		}
		l.indIndex[ind.ID] = len(l.Inds)
		l.Inds = append(l.Inds, ind)
	}
	return l, nil
}

// DefaultLayout reads the embedded catalogue (schemas.Indicators).
func DefaultLayout() (*Layout, error) {
	cat, err := schemas.Indicators()
	if err != nil {
		return nil, fmt.Errorf("attack: the indicator catalogue: %w", err)
	}
	return NewLayout(cat)
}

// Record is one household-year in the scope of the attack: a category index
// per dimension (Layout.Dims order) and a state per indicator (Layout.Inds
// order).
type Record struct {
	Attrs  []uint8
	States []uint8
}

// Key is a compact comparable form of a record, for multiset matching.
func (r Record) Key() string {
	var b strings.Builder
	b.Grow(len(r.Attrs) + len(r.States))
	for _, a := range r.Attrs {
		b.WriteByte(a)
	}
	for _, s := range r.States {
		b.WriteByte(s)
	}
	return b.String()
}

// Clone returns a deep copy of r.
func (r Record) Clone() Record {
	return Record{Attrs: slices.Clone(r.Attrs), States: slices.Clone(r.States)}
}

// CellKey names a published cell: Dim and Value are empty for the total.
// The indicator version is left out: the catalogue has one version of each.
type CellKey struct {
	Indicator, Measure, Dim, Value string
}
