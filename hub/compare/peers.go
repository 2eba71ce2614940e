package compare

import (
	"math"
	"slices"
	"sort"
)

// PeerCount is how many nearest peers each territory gets (issue 7).
const PeerCount = 5

// Covariates are a territory's standardised public covariates, the space
// in which peers are near: z-scores over the region's territories.
type Covariates struct {
	// LogPopulation is the z-score of ln(population). The logarithm
	// because territory sizes are skewed (a metropolitan city is several
	// times a province) and what matters for services is the ratio of two
	// sizes, not their difference: 100,000 against 200,000 is as far as
	// 500,000 against 1,000,000.
	LogPopulation float64 `json:"log_population_z"`
	// ForeignShare is the z-score of the share of foreign residents, the
	// public proxy for the migrant-background population the projects
	// serve.
	ForeignShare float64 `json:"foreign_share_z"`
}

// Peer is one of a territory's nearest peers.
type Peer struct {
	Territory string `json:"territory"`
	// Distance is the Euclidean distance between the two territories'
	// Covariates (in standard deviations), rounded to 1e-9.
	Distance float64 `json:"distance"`
}

// PeerSet is a territory's covariates and its nearest peers, nearest first.
type PeerSet struct {
	Territory  string     `json:"territory"`
	Covariates Covariates `json:"covariates"`
	Peers      []Peer     `json:"peers"`
}

// NearestPeers returns, for each territory in file order, its k nearest
// other territories by Euclidean distance on Covariates, the two
// covariates weighted equally once standardised so that neither dominates
// by its unit. Equal distances are broken by code, so the result never
// depends on the order of the file. A covariate with no spread (all
// territories alike) standardises to 0 for all. k is capped at the number
// of other territories; k ≤ 0 gives no peers.
func NearestPeers(ts []Territory, k int) []PeerSet {
	n := len(ts)
	k = max(0, min(k, n-1))
	logPop := make([]float64, n)
	share := make([]float64, n)
	for i, t := range ts {
		logPop[i] = math.Log(float64(max(t.Population, 1)))
		share[i] = t.ForeignShare()
	}
	zs(logPop)
	zs(share)
	out := make([]PeerSet, n)
	type cand struct {
		i int
		d float64
	}
	// before orders candidates: nearer first, then by code.
	before := func(a, b cand) bool {
		if a.d != b.d {
			return a.d < b.d
		}
		return ts[a.i].Code < ts[b.i].Code
	}
	// best holds the k nearest so far, in order: an insertion into k
	// slots per candidate costs O(n·k), not the O(n log n) of a sort.
	best := make([]cand, 0, k+1)
	for i, t := range ts {
		best = best[:0]
		for j := range ts {
			if j == i {
				continue
			}
			// Rounded to 1e-9 so that distances equal but for
			// floating-point error (ln 10⁴ − ln 10³ against ln 10⁵ −
			// ln 10⁴) tie, and the tie goes by code, not by chance.
			d := math.Hypot(logPop[i]-logPop[j], share[i]-share[j])
			c := cand{j, math.Round(d*1e9) / 1e9}
			if len(best) == k && (k == 0 || !before(c, best[k-1])) {
				continue
			}
			pos := len(best)
			for pos > 0 && before(c, best[pos-1]) {
				pos--
			}
			best = slices.Insert(best, pos, c)
			if len(best) > k {
				best = best[:k]
			}
		}
		ps := PeerSet{Territory: t.Code, Covariates: Covariates{LogPopulation: logPop[i], ForeignShare: share[i]}, Peers: make([]Peer, len(best))}
		for r, c := range best {
			ps.Peers[r] = Peer{Territory: ts[c.i].Code, Distance: c.d}
		}
		out[i] = ps
	}
	return out
}

// zs replaces xs by their z-scores, with the population standard
// deviation (the territories are the whole region, not a sample of it).
func zs(xs []float64) {
	if len(xs) == 0 {
		return
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(len(xs)))
	for i, x := range xs {
		if sd == 0 {
			xs[i] = 0
		} else {
			xs[i] = (x - mean) / sd
		}
	}
}

// PeerGroups turns each territory's peers into a Group (ID "peers:<code>",
// the peers without the territory itself), so that [GroupRates] gives a
// territory's profile against its peers.
func PeerGroups(sets []PeerSet) []Group {
	out := make([]Group, len(sets))
	for i, s := range sets {
		members := make([]string, len(s.Peers))
		for j, p := range s.Peers {
			members[j] = p.Territory
		}
		sort.Strings(members)
		out[i] = Group{ID: "peers:" + s.Territory, Members: members}
	}
	return out
}
