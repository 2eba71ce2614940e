package stats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// Breakdown and value of the total row of every table.
const (
	Total    = "total"
	TotalAll = "all"
)

// Cell is one count of a table: for the households whose breakdown has the
// value (Total/TotalAll for all of them), the count of the measure
// (numerator, denominator, a bin id, count, or sum). True counts: noise
// and thresholds are the disclosure package's job.
type Cell struct {
	Breakdown string `json:"breakdown"`
	Value     string `json:"value"`
	Measure   string `json:"measure"`
	Count     int64  `json:"count"`
}

// Table is an indicator computed for a period. Its cells are in catalogue
// order: the total first, then each breakdown of the indicator in its
// order, each value in the breakdown's order (unknown last), each measure
// in the indicator's order; zeros included.
type Table struct {
	Catalogue string    `json:"catalogue"` // catalogue version
	Indicator string    `json:"indicator"`
	Version   string    `json:"version"` // indicator version
	Period    string    `json:"period"`
	AsOf      time.Time `json:"as_of,omitzero"` // Options.AsOf; zero: all data stored
	Cells     []Cell    `json:"cells"`
}

// Cell returns the count of one cell (0, false when the table has none).
func (t *Table) Cell(breakdown, value, measure string) (int64, bool) {
	for _, c := range t.Cells {
		if c.Breakdown == breakdown && c.Value == value && c.Measure == measure {
			return c.Count, true
		}
	}
	return 0, false
}

// ErrNotImplemented is returned for a catalogue indicator this version of
// the hub cannot compute yet.
var ErrNotImplemented = errors.New("indicator not computed by this version of snodo")

// Options qualify a computation.
type Options struct {
	// AsOf is the observation date: events (responses, placements,
	// assessments, signatures, exits...) dated after it are treated as not
	// happened yet, so that a release computed later with more data
	// reproduces the same counts. Zero: everything stored counts.
	AsOf time.Time
}

// Computer computes the indicators of one catalogue. It is safe for
// concurrent use.
type Computer struct {
	cat *schemas.Catalogue
}

// New returns a Computer for the catalogue (see schemas.Indicators).
func New(cat *schemas.Catalogue) (*Computer, error) {
	if cat == nil {
		return nil, errors.New("stats: no indicator catalogue")
	}
	for _, ind := range cat.Indicators {
		for _, b := range ind.Breakdowns {
			if _, ok := cat.Breakdown(b); !ok {
				return nil, fmt.Errorf("stats: indicator %s uses breakdown %q, which the catalogue does not define", ind.ID, b)
			}
		}
	}
	return &Computer{cat: cat}, nil
}

// Implemented says whether the indicator can be computed.
func Implemented(id string) bool { _, ok := computers[id]; return ok }

// Compute computes one indicator for the period from one consistent
// snapshot of the store.
func (c *Computer) Compute(ctx context.Context, s *store.Store, id string, p Period, opt Options) (*Table, error) {
	ind, ok := c.cat.Indicator(id)
	if !ok {
		return nil, fmt.Errorf("indicator %q is not in catalogue %s", id, c.cat.Version)
	}
	if err := c.check(ind, p); err != nil {
		return nil, err
	}
	var d *dataset
	err := s.Snapshot(ctx, func(q store.Querier) (err error) {
		d, err = load(ctx, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("compute %s for %s: %w", id, p, err)
	}
	return c.compute(d, buildHouseholds(d), attrCache{}, ind, p, opt), nil
}

// ComputeAll computes, from one consistent snapshot, every implemented
// indicator of the catalogue published for the period's kind, in catalogue
// order. It also returns the ids of the indicators it skipped because they
// are not implemented.
func (c *Computer) ComputeAll(ctx context.Context, s *store.Store, p Period, opt Options) (tables []*Table, skipped []string, err error) {
	var d *dataset
	err = s.Snapshot(ctx, func(q store.Querier) (err error) {
		d, err = load(ctx, q)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("compute indicators for %s: %w", p, err)
	}
	h := buildHouseholds(d)
	cache := attrCache{}
	for i := range c.cat.Indicators {
		ind := &c.cat.Indicators[i]
		if !ind.HasPeriodKind(p.Kind) {
			continue
		}
		if !Implemented(ind.ID) {
			skipped = append(skipped, ind.ID)
			continue
		}
		tables = append(tables, c.compute(d, h, cache, ind, p, opt))
	}
	return tables, skipped, nil
}

func (c *Computer) check(ind *schemas.Indicator, p Period) error {
	if p.Kind != schemas.PeriodQuarter && p.Kind != schemas.PeriodYear {
		return fmt.Errorf("indicator %s: period kind %q unknown (use ParsePeriod)", ind.ID, p.Kind)
	}
	if !ind.HasPeriodKind(p.Kind) {
		return fmt.Errorf("indicator %s is published for %v periods only, not for a %s (%s)", ind.ID, ind.PeriodKinds, p.Kind, p)
	}
	if !Implemented(ind.ID) {
		return fmt.Errorf("indicator %s: %w", ind.ID, ErrNotImplemented)
	}
	return nil
}

// contribution is what one household adds to a table: a value per measure
// (0 or 1, or a clamped sum), and the person its breakdowns describe when
// the household has no reference person.
type contribution struct {
	subject  string
	measures []int64
}

// computeFunc returns each household's contribution, keyed by household.
type computeFunc func(e *env) map[string]*contribution

type env struct {
	d   *dataset
	h   *households
	ind *schemas.Indicator
	p   Period
	opt Options
}

// known says whether an event dated t has happened by the observation
// date.
func (e *env) known(t time.Time) bool {
	return !t.IsZero() && (e.opt.AsOf.IsZero() || !t.After(e.opt.AsOf))
}

// measure returns the index of a measure of the indicator.
func (e *env) measure(name string) int {
	for i, m := range e.ind.Measures() {
		if m == name {
			return i
		}
	}
	panic(fmt.Sprintf("stats: indicator %s has no measure %q", e.ind.ID, name))
}

func (e *env) contribute(out map[string]*contribution, root, subject string) *contribution {
	c := out[root]
	if c == nil {
		c = &contribution{subject: subject, measures: make([]int64, len(e.ind.Measures()))}
		out[root] = c
	}
	return c
}

// attrCache keeps the breakdown values of households (by household and
// subject person) across the tables of one period.
type attrCache map[[2]string]map[string]string

func (c *Computer) compute(d *dataset, h *households, cache attrCache, ind *schemas.Indicator, p Period, opt Options) *Table {
	e := &env{d: d, h: h, ind: ind, p: p, opt: opt}
	contribs := computers[ind.ID](e)
	measures := ind.Measures()

	type key struct{ breakdown, value string }
	sums := map[key][]int64{}
	add := func(k key, m []int64) {
		s := sums[k]
		if s == nil {
			s = make([]int64, len(measures))
			sums[k] = s
		}
		for i, v := range m {
			s[i] += v
		}
	}
	for root, ctr := range contribs {
		add(key{Total, TotalAll}, ctr.measures)
		attrs, ok := cache[[2]string{root, ctr.subject}]
		if !ok {
			attrs = h.attributes(d, root, ctr.subject, p)
			cache[[2]string{root, ctr.subject}] = attrs
		}
		for _, b := range ind.Breakdowns {
			bd, _ := c.cat.Breakdown(b)
			add(key{b, valueIn(bd, attrs[b])}, ctr.measures)
		}
	}

	t := &Table{Catalogue: c.cat.Version, Indicator: ind.ID, Version: ind.Version, Period: p.String(), AsOf: opt.AsOf}
	emit := func(k key) {
		s := sums[k]
		for i, m := range measures {
			var n int64
			if s != nil {
				n = s[i]
			}
			t.Cells = append(t.Cells, Cell{Breakdown: k.breakdown, Value: k.value, Measure: m, Count: n})
		}
	}
	emit(key{Total, TotalAll})
	for _, b := range ind.Breakdowns {
		bd, _ := c.cat.Breakdown(b)
		for _, v := range bd.Values {
			emit(key{b, v})
		}
	}
	return t
}

// valueIn maps a household's value to the breakdown's values: a value
// outside the list, or none, is unknown.
func valueIn(b *schemas.Breakdown, v string) string {
	for _, x := range b.Values {
		if x == v && v != "" {
			return v
		}
	}
	return schemas.Unknown
}
