package compare

import (
	"fmt"
	"math"
	"sort"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// PopulationBand is a band of resident population, [Min, Max) with Max 0
// meaning no upper bound.
type PopulationBand struct {
	ID  string `json:"id"`
	Min int64  `json:"min"`
	Max int64  `json:"max,omitempty"`
}

// PopulationBands are the bands benchmark groups use. Italian social
// services are organised in ambiti territoriali sociali and health-society
// districts of some 50,000 to 300,000 residents, while a province or a
// metropolitan city runs to a million: the cuts at 100,000, 250,000 and
// 500,000 separate a small ambito, a large ambito or small province, a
// province, and a metropolitan area, whose services differ in kind (a
// single social-services office against several, one housing-emergency
// desk against a network). A function, not a variable, so that no caller
// can change them for everyone.
func PopulationBands() []PopulationBand {
	return []PopulationBand{
		{ID: "lt-100k", Min: 0, Max: 100_000},
		{ID: "100k-250k", Min: 100_000, Max: 250_000},
		{ID: "250k-500k", Min: 250_000, Max: 500_000},
		{ID: "ge-500k", Min: 500_000},
	}
}

// bandOf is the ID of the population band holding p.
func bandOf(p int64) string {
	bands := PopulationBands()
	for _, b := range bands {
		if p >= b.Min && (b.Max == 0 || p < b.Max) {
			return b.ID
		}
	}
	return bands[0].ID // p < 0 cannot pass LoadTerritories
}

// Tercile is one third of the region's territories by foreign-resident
// share, with the lowest and highest share in it.
type Tercile struct {
	Tercile  int     `json:"tercile"` // 1 lowest shares … 3 highest
	MinShare float64 `json:"min_share"`
	MaxShare float64 `json:"max_share"`
}

// Group is a benchmark group: the territories of one population band and
// one foreign-resident-share tercile.
type Group struct {
	// ID is "<band>/t<tercile>", e.g. "250k-500k/t2".
	ID      string   `json:"id"`
	Band    string   `json:"band,omitempty"`
	Tercile int      `json:"tercile,omitempty"` // 1 lowest shares … 3 highest
	Members []string `json:"members"`           // sorted codes
}

// Benchmarks assigns every territory to a benchmark group.
type Benchmarks struct {
	Bands    []PopulationBand `json:"bands"`
	Terciles []Tercile        `json:"terciles"`
	// Groups are the non-empty groups, by band then tercile.
	Groups []Group `json:"groups"`
	// GroupOf maps a territory's code to its group's ID.
	GroupOf map[string]string `json:"group_of"`
}

// BenchmarkGroups groups the territories by population band × tercile of
// foreign-resident share. The terciles are of the region's own
// territories, because what sets a territory's work apart is its share
// relative to its neighbours' (Tuscany's run from 7% to 19%), not to a
// national cut: sorted by share, the territory at 0-based rank r of n is
// in tercile 1 + ⌊3r/n⌋ (with n = 10: 4, 3 and 3 territories), and
// territories with equal shares take the rank of the first of them, so
// they always share a tercile.
func BenchmarkGroups(ts []Territory) *Benchmarks {
	n := len(ts)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		sa, sb := ts[order[a]].ForeignShare(), ts[order[b]].ForeignShare()
		if sa != sb {
			return sa < sb
		}
		return ts[order[a]].Code < ts[order[b]].Code
	})
	tercile := make([]int, n)
	first := 0
	for r, i := range order {
		if r > 0 && ts[i].ForeignShare() != ts[order[r-1]].ForeignShare() {
			first = r
		}
		tercile[i] = 1 + 3*first/n
	}
	b := &Benchmarks{Bands: PopulationBands(), Terciles: []Tercile{}, Groups: []Group{}, GroupOf: make(map[string]string, n)}
	members := map[string]*Group{}
	ranges := map[int]*Tercile{}
	for i, t := range ts {
		share := t.ForeignShare()
		tr := ranges[tercile[i]]
		if tr == nil {
			tr = &Tercile{Tercile: tercile[i], MinShare: share, MaxShare: share}
			ranges[tercile[i]] = tr
		}
		tr.MinShare, tr.MaxShare = math.Min(tr.MinShare, share), math.Max(tr.MaxShare, share)
		band := bandOf(t.Population)
		id := fmt.Sprintf("%s/t%d", band, tercile[i])
		g := members[id]
		if g == nil {
			g = &Group{ID: id, Band: band, Tercile: tercile[i]}
			members[id] = g
		}
		g.Members = append(g.Members, t.Code)
		b.GroupOf[t.Code] = id
	}
	for k := 1; k <= 3; k++ {
		if tr := ranges[k]; tr != nil {
			b.Terciles = append(b.Terciles, *tr)
		}
	}
	for _, band := range b.Bands {
		for k := 1; k <= 3; k++ {
			if g := members[fmt.Sprintf("%s/t%d", band.ID, k)]; g != nil {
				sort.Strings(g.Members)
				b.Groups = append(b.Groups, *g)
			}
		}
	}
	return b
}

// GroupRate is the rate of a ratio indicator over a group of territories
// in one epoch, two ways, each with the members it stands on.
type GroupRate struct {
	Group string `json:"group"`
	// Mean is the unweighted mean of the members' own published rates:
	// every territory counts the same, whatever its size, which is what
	// a comparison of models across territories asks. Its interval covers
	// the members' sampling error and noise (a normal approximation of
	// the mean's variance Σ Var(rate_i) / k², each variance by the delta
	// method at the member's rate), not the choice of members.
	Mean         Estimate `json:"mean"`
	MeanCoverage Coverage `json:"mean_coverage"`
	// Pooled is Σ numerators / Σ denominators over the members that
	// published the cell, by disclosure.Rate with their summed noise and
	// the strictest minimum denominator among them: the rate of the
	// group's households taken together, dominated by the largest member.
	// Members too small for a rate of their own still count here.
	Pooled            Estimate `json:"pooled"`
	PooledNumerator   int64    `json:"pooled_numerator"`
	PooledDenominator int64    `json:"pooled_denominator"`
	PooledCoverage    Coverage `json:"pooled_coverage"`
}

// GroupRates computes the rate of each group from the values of one ratio
// indicator (or one bin of a binned one) in one epoch. Groups may be the
// benchmark groups, the peer groups of [PeerGroups], or any list of codes
// (the whole region, say). Every member must be in the territories file.
func GroupRates(ts []Territory, groups []Group, values []Value) ([]GroupRate, error) {
	byCode, err := index(ts, values)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(ts))
	for _, t := range ts {
		known[t.Code] = true
	}
	out := make([]GroupRate, 0, len(groups))
	for _, g := range groups {
		for _, m := range g.Members {
			if !known[m] {
				return nil, fmt.Errorf("group %q: member %q is not in the territories file", g.ID, m)
			}
		}
		out = append(out, groupRate(g, byCode))
	}
	return out, nil
}

// groupRate computes one group's mean and pooled rates.
func groupRate(g Group, byCode map[string]Value) GroupRate {
	res := GroupRate{Group: g.ID}
	meanOutcome := make(map[string]Reason, len(g.Members))
	poolOutcome := make(map[string]Reason, len(g.Members))
	var sum, variance float64
	var k int
	var num, den, minDen int64
	var noise disclosure.RateNoise
	for _, code := range g.Members {
		v, ok := byCode[code]
		switch {
		case !ok:
			meanOutcome[code], poolOutcome[code] = ReasonMissing, ReasonMissing
			continue
		case v.Suppressed:
			meanOutcome[code], poolOutcome[code] = ReasonSuppressed, ReasonSuppressed
			continue
		case !v.noiseKnown(false):
			// Left out of the pool rather than making the whole pool
			// unknown: the coverage says so.
			meanOutcome[code], poolOutcome[code] = ReasonNoiseUnknown, ReasonNoiseUnknown
			continue
		}
		poolOutcome[code] = ""
		num, den, minDen = num+v.Num, den+v.Den, max(minDen, v.MinRateDenominator)
		noise = noise.Add(v.Noise)
		own := ratio(v.Num, v.Den, v.Noise, v.MinRateDenominator)
		if !own.Published {
			meanOutcome[code] = own.Reason
			continue
		}
		meanOutcome[code] = ""
		sum += own.Value
		variance += rateVariance(own.Value, v)
		k++
	}
	res.MeanCoverage, res.PooledCoverage = CoverageOf(meanOutcome), CoverageOf(poolOutcome)
	if k == 0 {
		res.Mean = withheld(ReasonNoContributor)
	} else {
		m := sum / float64(k)
		half := z95 * math.Sqrt(variance) / float64(k)
		res.Mean = Estimate{Published: true, Value: m, Low: math.Max(m-half, 0), High: math.Min(m+half, 1)}
	}
	if res.PooledCoverage.Contributing == 0 {
		res.Pooled = withheld(ReasonNoContributor)
		return res
	}
	res.Pooled = ratio(num, den, noise, minDen)
	if res.Pooled.Published {
		res.PooledNumerator, res.PooledDenominator = num, den
	}
	return res
}

// rateVariance is the delta-method variance of the rate p = Num/Den of a
// published value: binomial sampling p(1−p)/D and the noise
// (v₁ − 2p·c + p²·v₂)/D², the same terms disclosure.Rate's score interval
// uses, evaluated at p.
func rateVariance(p float64, v Value) float64 {
	d := float64(v.Den)
	return (p*(1-p)*d + v.Noise.Num - 2*p*v.Noise.Cov + p*p*v.Noise.Den) / (d * d)
}
