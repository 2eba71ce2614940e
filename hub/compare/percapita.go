package compare

// PerCapitaRow is one territory's count of a count indicator (caseload,
// say) per 1,000 residents and per 1,000 foreign residents.
type PerCapitaRow struct {
	Territory string `json:"territory"`
	// Count is the published noisy count; absent when it is not shown
	// (suppressed, or under display_below).
	Count *int64 `json:"count,omitempty"`
	// Display is the count as views show it: "<10" when suppressed or
	// under the territory's display_below, else the number.
	Display string `json:"display"`
	// PerResidents and PerForeignResidents are counts per 1,000 residents
	// of the territories file; see [PerCapita] for the interval.
	PerResidents        Estimate `json:"per_1000_residents"`
	PerForeignResidents Estimate `json:"per_1000_foreign_residents"`
}

// PerCapitaTable is a count indicator per capita across the region's
// territories in one epoch, one row per territory of the file in its
// order, with the coverage of the per-resident rates.
type PerCapitaTable struct {
	Epoch    string         `json:"epoch"`
	Rows     []PerCapitaRow `json:"rows"`
	Coverage Coverage       `json:"coverage"`
}

// PerCapita divides each territory's published count by its residents and
// its foreign residents (per 1,000), from the values of one count
// indicator in one epoch. Territories with no value are rows with
// ReasonMissing, never zeros.
//
// # What the interval covers
//
// The count is the territory's noisy published count y; the interval is
// for the expected count λ of which the true count is a Poisson sample,
// with the noise's variance v added (Var(y) = λ + v), by a score
// interval (see countInterval), then divided by the population. It
// therefore covers the year-to-year (or quarter-to-quarter) chance
// variation of the count and the noise; the population is a census figure
// taken as exact.
//
// # What is withheld
//
// A suppressed count, or one under the territory's display_below, gives no
// rate either: the population is public, so the rate would give the count
// away. A count whose noise is not known gives no rate (no interval).
func PerCapita(ts []Territory, values []Value) (*PerCapitaTable, error) {
	byCode, err := index(ts, values)
	if err != nil {
		return nil, err
	}
	out := &PerCapitaTable{Epoch: epochOf(values), Rows: make([]PerCapitaRow, 0, len(ts))}
	outcome := make(map[string]Reason, len(ts))
	for _, t := range ts {
		v, ok := byCode[t.Code]
		row := PerCapitaRow{Territory: t.Code}
		var why Reason
		switch {
		case !ok:
			why = ReasonMissing
		case v.Suppressed:
			why, row.Display = ReasonSuppressed, displayCount(v)
		case v.Num < v.DisplayBelow:
			why, row.Display = ReasonBelowDisplay, displayCount(v)
		default:
			n := v.Num
			row.Count, row.Display = &n, displayCount(v)
			if !v.noiseKnown(true) {
				why = ReasonNoiseUnknown
			}
		}
		if why != "" {
			row.PerResidents, row.PerForeignResidents = withheld(why), withheld(why)
		} else {
			row.PerResidents = perThousand(v, t.Population, ReasonNoPopulation)
			row.PerForeignResidents = perThousand(v, t.ForeignResidents, ReasonNoForeignResidents)
		}
		outcome[t.Code] = why
		out.Rows = append(out.Rows, row)
	}
	out.Coverage = CoverageOf(outcome)
	return out, nil
}

// perThousand is the count of v per 1,000 of people, with its interval;
// withheld for the reason none when there are no people to count over.
func perThousand(v Value, people int64, none Reason) Estimate {
	if people <= 0 {
		return withheld(none)
	}
	point, lo, hi, clipped := countInterval(float64(v.Num), v.Noise.Num)
	k := 1000 / float64(people)
	return Estimate{Published: true, Value: point * k, Low: lo * k, High: hi * k, Clipped: clipped}
}
