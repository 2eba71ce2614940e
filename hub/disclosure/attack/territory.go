package attack

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/schemas"
)

// Lateness of a household-year's data: when its records reached the hub.
const (
	OnTime       = 0 // in every release of its year
	AfterQuarter = 1 // after its quarter's provisional release: in the annual release only
	AfterAnnual  = 2 // after the annual release: only in the announced revision
)

// HouseholdYear is a household's truth in one reporting year.
type HouseholdYear struct {
	Record
	// StartQ and EndQ are the quarters of the year it was active in: it
	// counts in the caseload of each, and in the flow indicators of StartQ.
	StartQ, EndQ int
	Late         int // OnTime, AfterQuarter or AfterAnnual
}

// Territory is a synthetic territory: households identified only by their
// index in Households (never an identifier), each with its truth per
// reporting year it was active in.
type Territory struct {
	Layout     *Layout
	Years      []int
	Households []map[int]*HouseholdYear // index: household; key: year
}

// TerritoryConfig sizes the synthetic territory.
type TerritoryConfig struct {
	Households int   // distinct households over all years (150)
	Years      []int // reporting years (2023, 2024, 2025)
	// LateAfterAnnual is the number of households per year whose data
	// arrives after the annual release (one per year by default, two in
	// the middle year, so that both the isolatable and the tangled case
	// occur).
	LateAfterAnnual []int
	Seed            uint64
}

// DefaultTerritoryConfig is the territory of PRIVACY.md goal 2: 150
// households over 2023–2025.
func DefaultTerritoryConfig(seed uint64) TerritoryConfig {
	return TerritoryConfig{Households: 150, Years: []int{2023, 2024, 2025}, LateAfterAnnual: []int{1, 2, 1}, Seed: seed}
}

// weights of each category of a dimension, in catalogue order. Rare
// categories (a reference person under 18, stateless, sex U) are there so
// that small cells exist, as they do in a real territory.
var dimWeights = map[string]map[string]float64{
	"sex":               {"F": 44, "M": 53, "U": 1, "unknown": 2},
	"age-band":          {"0-17": 1, "18-29": 16, "30-44": 33, "45-64": 38, "65+": 10, "unknown": 2},
	"household-type":    {"single-person": 44, "couple-no-children": 8, "couple-with-children": 12, "single-parent": 20, "multi-family": 3, "other": 7, "unknown": 6},
	"citizenship-group": {"italian": 50, "eu": 10, "non-eu": 36, "stateless": 1.5, "unknown": 2.5},
	"ethos-at-entry":    {"EL1": 20, "EL2": 15, "EL3": 15, "EL4": 10, "EL5": 8, "EL6": 7, "housed": 20, "unknown": 5},
}

// indParams are the chance that a household is in an indicator's
// population in a year and, for a ratio, that it is in the numerator. An
// indicator the table does not know gets the defaults.
type indParams struct{ in, num float64 }

var indTable = map[string]indParams{
	"referral-acceptance":        {0.70, 0.75},
	"referral-closed-loop":       {0.60, 0.55},
	"referral-response-time":     {0.65, 0},
	"time-to-housing":            {0.35, 0},
	"housing-retention-6m":       {0.25, 0.80},
	"housing-retention-12m":      {0.18, 0.70},
	"returns-to-homelessness":    {0.30, 0.15},
	"ethos-improvement":          {0.55, 0.40},
	"employment-rate":            {0.45, 0.30},
	"post-internship-employment": {0.08, 0.45},
	"activation-timeliness":      {0.50, 0.65},
	"social-network-gain":        {0.35, 0.50},
	"volunteer-support":          {0.30, 0.60},
	"caseload":                   {1, 0},
	"cost-per-pathway":           {0.60, 0},
}

func pick(r *rand.Rand, w []float64) int {
	var total float64
	for _, x := range w {
		total += x
	}
	u := r.Float64() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// NewTerritory draws a territory. Households persist across years (a
// reference person's sex, citizenship and ETHOS at entry stay, the age band
// follows the birth year, the household type changes now and then), about
// one in five leaves each year and new ones arrive, so an attacker can link
// years.
func NewTerritory(l *Layout, cfg TerritoryConfig) (*Territory, error) {
	if cfg.Households < 10 || len(cfg.Years) == 0 {
		return nil, fmt.Errorf("attack: a territory needs at least 10 households and a year, got %d and %d", cfg.Households, len(cfg.Years))
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5e0d0))
	t := &Territory{Layout: l, Years: cfg.Years, Households: make([]map[int]*HouseholdYear, cfg.Households)}
	ageDim, ageOK := l.dimIndex["age-band"]
	typeDim, typeOK := l.dimIndex["household-type"]

	// Entry year: about 70% are there from the first year, the rest
	// arrive later; each stays a number of years.
	for h := range t.Households {
		t.Households[h] = map[int]*HouseholdYear{}
		first := 0
		if r.Float64() > 0.7 {
			first = 1 + r.IntN(len(cfg.Years)-1+boolInt(len(cfg.Years) == 1))
			if first >= len(cfg.Years) {
				first = len(cfg.Years) - 1
			}
		}
		last := first
		for last+1 < len(cfg.Years) && r.Float64() < 0.8 {
			last++
		}
		attrs := make([]uint8, len(l.Dims))
		for d, dim := range l.Dims {
			w := make([]float64, len(dim.Values))
			for i, v := range dim.Values {
				w[i] = dimWeights[dim.ID][v]
				if w[i] == 0 {
					w[i] = 1
				}
			}
			attrs[d] = uint8(pick(r, w))
		}
		// The birth year behind the age band: the band is recomputed each
		// year, so it can move on (as hub/stats derives it).
		birth := 0
		if ageOK {
			birth = birthYear(r, l.Dims[ageDim].Values[attrs[ageDim]], cfg.Years[first])
		}
		for yi := first; yi <= last; yi++ {
			y := cfg.Years[yi]
			hy := &HouseholdYear{Record: Record{Attrs: append([]uint8(nil), attrs...), States: make([]uint8, len(l.Inds))}}
			if ageOK && birth != 0 {
				hy.Attrs[ageDim] = uint8(slicesIndex(l.Dims[ageDim].Values, ageBand(y-birth)))
			}
			if typeOK && yi > first && r.Float64() < 0.08 {
				hy.Attrs[typeDim] = uint8(r.IntN(len(l.Dims[typeDim].Values)))
				attrs[typeDim] = hy.Attrs[typeDim]
			}
			if yi == first {
				hy.StartQ = 1 + r.IntN(4)
			} else {
				hy.StartQ = 1
			}
			hy.EndQ = hy.StartQ + r.IntN(5-hy.StartQ)
			if yi < last {
				hy.EndQ = 4
			}
			t.drawStates(r, hy)
			if r.Float64() < 0.08 {
				hy.Late = AfterQuarter
			}
			t.Households[h][y] = hy
		}
	}
	// Households whose data arrives after the annual release: the
	// revision's late data.
	for yi, y := range cfg.Years {
		n := 0
		if yi < len(cfg.LateAfterAnnual) {
			n = cfg.LateAfterAnnual[yi]
		}
		active := t.Active(y)
		r.Shuffle(len(active), func(i, j int) { active[i], active[j] = active[j], active[i] })
		for _, h := range active[:min(n, len(active))] {
			t.Households[h][y].Late = AfterAnnual
		}
	}
	return t, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func slicesIndex(vs []string, v string) int {
	for i, x := range vs {
		if x == v {
			return i
		}
	}
	return len(vs) - 1
}

// birthYear draws a birth year consistent with the band in year y (0 for
// an unknown age).
func birthYear(r *rand.Rand, band string, y int) int {
	lo, hi := 0, 0
	switch band {
	case "0-17":
		lo, hi = 16, 17
	case "18-29":
		lo, hi = 18, 29
	case "30-44":
		lo, hi = 30, 44
	case "45-64":
		lo, hi = 45, 64
	case "65+":
		lo, hi = 65, 85
	default:
		return 0
	}
	return y - (lo + r.IntN(hi-lo+1))
}

func ageBand(age int) string {
	switch {
	case age < 18:
		return "0-17"
	case age < 30:
		return "18-29"
	case age < 45:
		return "30-44"
	case age < 65:
		return "45-64"
	default:
		return "65+"
	}
}

// drawStates draws a household-year's outcome for every indicator. Worse
// housing at entry (lower ETHOS) makes success a little less likely, so
// outcomes and dimensions are correlated as in a real caseload.
func (t *Territory) drawStates(r *rand.Rand, hy *HouseholdYear) {
	l := t.Layout
	shift := 0.0
	if d, ok := l.dimIndex["ethos-at-entry"]; ok {
		switch l.Dims[d].Values[hy.Attrs[d]] {
		case "EL1", "EL2":
			shift = -0.15
		case "housed":
			shift = 0.1
		}
	}
	for i, ind := range l.Inds {
		p, ok := indTable[ind.ID]
		if !ok {
			p = indParams{0.4, 0.5}
		}
		if r.Float64() >= p.in {
			continue
		}
		switch ind.Kind {
		case schemas.KindRatio:
			hy.States[i] = 1
			if r.Float64() < min(0.95, max(0.02, p.num+shift)) {
				hy.States[i] = 2
			}
		case schemas.KindBinned:
			k := ind.States - 1
			w := make([]float64, k)
			for b := range w {
				w[b] = float64(k - b) // earlier bins more common
			}
			hy.States[i] = uint8(1 + pick(r, w))
		default:
			hy.States[i] = 1
		}
	}
}

// Active returns the households active in year y, by index.
func (t *Territory) Active(y int) []int {
	var out []int
	for h, ys := range t.Households {
		if _, ok := ys[y]; ok {
			out = append(out, h)
		}
	}
	return out
}

// Truth returns the year's final truth (late data included): the
// household indices and their records.
func (t *Territory) Truth(y int) ([]int, []Record) {
	hs := t.Active(y)
	recs := make([]Record, len(hs))
	for i, h := range hs {
		recs[i] = t.Households[h][y].Record
	}
	return hs, recs
}

// Stage is what data a release of a year sees.
type Stage int

const (
	StageProvisional Stage = iota // a quarter's release: on-time data
	StageAnnual                   // the annual release, revision 0
	StageRevised                  // the announced revision: all data
)

// Cells returns the true counts of an epoch as the ledger receives them,
// mirroring hub/federation's cells(): an annual release carries, for every
// indicator published yearly, the total and every one-dimension breakdown
// of every measure (sums withheld, bins one partition); a quarterly release
// carries the totals of the indicators published quarterly. A quarter
// counts the households active in it for the caseload, and the households
// whose first activity of the year falls in it for the flow indicators.
func (t *Territory) Cells(epoch string, stage Stage) ([]disclosure.Cell, error) {
	e, err := disclosure.ParseEpoch(epoch)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	l := t.Layout
	type acc struct {
		total []int64   // per measure
		dim   [][]int64 // per measure, per (dim position, value) flattened
	}
	accs := make([]acc, len(l.Inds))
	for i, ind := range l.Inds {
		accs[i].total = make([]int64, len(ind.Measures))
		accs[i].dim = make([][]int64, len(ind.Measures))
		for m := range ind.Measures {
			accs[i].dim[m] = make([]int64, len(l.Dims)*maxValues(l))
		}
	}
	mv := maxValues(l)
	for _, ys := range t.Households {
		hy, ok := ys[e.Year]
		if !ok {
			continue
		}
		switch {
		case stage == StageProvisional && hy.Late != OnTime,
			stage == StageAnnual && hy.Late == AfterAnnual:
			continue
		}
		for i, ind := range l.Inds {
			if e.Kind == "quarterly" {
				if !ind.Quarterly {
					continue
				}
				if ind.Kind == schemas.KindCount {
					if e.Quarter < hy.StartQ || e.Quarter > hy.EndQ {
						continue
					}
				} else if e.Quarter != hy.StartQ {
					continue
				}
			} else if !ind.Annual {
				continue
			}
			for _, m := range ind.MeasuresOf(int(hy.States[i])) {
				accs[i].total[m]++
				for _, d := range ind.Dims {
					accs[i].dim[m][d*mv+int(hy.Attrs[d])]++
				}
			}
		}
	}
	var out []disclosure.Cell
	for i, ind := range l.Inds {
		if (e.Kind == "quarterly" && !ind.Quarterly) || (e.Kind == "annual" && !ind.Annual) {
			continue
		}
		for m, name := range ind.Measures {
			// As hub/federation releases them.
			part, within := disclosure.PartitionOf(ind.Kind, name)
			out = append(out, disclosure.Cell{Indicator: ind.ID, Version: ind.Version, Measure: name,
				Count: accs[i].total[m], Partition: part, Within: within})
			if e.Kind == "quarterly" { // totals only
				continue
			}
			for _, d := range ind.Dims {
				for v, val := range l.Dims[d].Values {
					out = append(out, disclosure.Cell{Indicator: ind.ID, Version: ind.Version, Measure: name,
						Breakdown: map[string]string{l.Dims[d].ID: val}, Count: accs[i].dim[m][d*mv+v], Partition: part, Within: within})
				}
			}
		}
	}
	return out, nil
}

func maxValues(l *Layout) int {
	n := 0
	for _, d := range l.Dims {
		n = max(n, len(d.Values))
	}
	return n
}

// Epochs returns a year's release epochs in order: the four quarters, then
// the year.
func Epochs(y int) []string {
	ys := strconv.Itoa(y)
	return []string{ys + "-Q1", ys + "-Q2", ys + "-Q3", ys + "-Q4", ys}
}
