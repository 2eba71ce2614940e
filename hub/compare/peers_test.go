package compare

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	examplesregion "github.com/snodo-hub/snodo/examples/region"
)

func peerCodes(s PeerSet) string {
	var codes []string
	for _, p := range s.Peers {
		codes = append(codes, p.Territory)
	}
	return strings.Join(codes, ",")
}

func TestNearestPeers(t *testing.T) {
	// Populations a factor 10 apart, so ln(population) is evenly spaced
	// and standardises to ±0.4472, ±1.3416 (±0.5, ±1.5 over √1.25); equal
	// foreign shares standardise to 0. B is 0.8944 from A and from C.
	ts := []Territory{
		{Code: "C", Population: 100_000, ForeignResidents: 10_000},
		{Code: "A", Population: 1_000, ForeignResidents: 100},
		{Code: "D", Population: 1_000_000, ForeignResidents: 100_000},
		{Code: "B", Population: 10_000, ForeignResidents: 1_000},
	}
	got := NearestPeers(ts, 2)
	want := map[string]string{"A": "B,C", "B": "A,C", "C": "B,D", "D": "C,B"}
	for i, s := range got {
		if s.Territory != ts[i].Code {
			t.Errorf("set %d is of %s, want the file's order", i, s.Territory)
		}
		if peerCodes(s) != want[s.Territory] {
			t.Errorf("peers of %s: %s, want %s (ties by code)", s.Territory, peerCodes(s), want[s.Territory])
		}
		if s.Covariates.ForeignShare != 0 {
			t.Errorf("%s: equal shares standardise to %v, want 0", s.Territory, s.Covariates.ForeignShare)
		}
	}
	b := got[3]
	near(t, "B's log-population z", b.Covariates.LogPopulation, -0.5/math.Sqrt(1.25))
	near(t, "B to A", b.Peers[0].Distance, 1/math.Sqrt(1.25))
	near(t, "B to C", b.Peers[1].Distance, 1/math.Sqrt(1.25))

	// The order of the file changes nothing.
	rev := slices.Clone(ts)
	slices.Reverse(rev)
	for _, s := range NearestPeers(rev, 2) {
		if peerCodes(s) != want[s.Territory] {
			t.Errorf("reversed file: peers of %s: %s, want %s", s.Territory, peerCodes(s), want[s.Territory])
		}
	}
	// k is capped at the other territories; k ≤ 0 gives none.
	if n := len(NearestPeers(ts, 5)[0].Peers); n != 3 {
		t.Errorf("%d peers of 4 territories, want 3", n)
	}
	if n := len(NearestPeers(ts, -1)[0].Peers); n != 0 {
		t.Errorf("%d peers for k = -1", n)
	}
	if got := NearestPeers(nil, 5); len(got) != 0 {
		t.Errorf("peers of no territory: %v", got)
	}
}

func TestNearestPeersUsesBothCovariates(t *testing.T) {
	// Same sizes; the foreign share alone decides: 5%, 6%, 20%, 21%.
	ts := []Territory{
		{Code: "P", Population: 1000, ForeignResidents: 50},
		{Code: "Q", Population: 1000, ForeignResidents: 60},
		{Code: "R", Population: 1000, ForeignResidents: 200},
		{Code: "S", Population: 1000, ForeignResidents: 210},
	}
	got := NearestPeers(ts, 1)
	for i, want := range []string{"Q", "P", "S", "R"} {
		if peerCodes(got[i]) != want {
			t.Errorf("nearest peer of %s: %s, want %s", ts[i].Code, peerCodes(got[i]), want)
		}
	}
}

// TestDemoPeers checks the demo region: five peers each, never itself,
// nearest first, and Firenze (the one metropolitan city) nearest to the
// large provinces rather than to Prato, whose share sets it apart.
func TestDemoPeers(t *testing.T) {
	ts, err := LoadTerritories(bytes.NewReader(examplesregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range NearestPeers(ts, PeerCount) {
		if len(s.Peers) != PeerCount {
			t.Fatalf("%s: %d peers", s.Territory, len(s.Peers))
		}
		for i, p := range s.Peers {
			if p.Territory == s.Territory {
				t.Errorf("%s is its own peer", s.Territory)
			}
			if i > 0 && p.Distance < s.Peers[i-1].Distance {
				t.Errorf("%s: peers not nearest first: %v", s.Territory, s.Peers)
			}
		}
		t.Logf("%s: %s", s.Territory, peerCodes(s))
		if s.Territory == "TOS-FI" && strings.HasPrefix(peerCodes(s), "TOS-PO") {
			t.Errorf("Firenze's nearest peer is Prato: %s", peerCodes(s))
		}
	}
}

func TestPeerGroups(t *testing.T) {
	sets := []PeerSet{{Territory: "A", Peers: []Peer{{"C", 1}, {"B", 2}}}}
	g := PeerGroups(sets)
	if len(g) != 1 || g[0].ID != "peers:A" || strings.Join(g[0].Members, ",") != "B,C" {
		t.Errorf("PeerGroups = %+v", g)
	}
}

// BenchmarkNearestPeers measures the peers of 600 territories (a large
// region's ambiti, or a national view) and reports the time per
// territory.
func BenchmarkNearestPeers(b *testing.B) {
	ts := make([]Territory, 600)
	for i := range ts {
		pop := int64(20_000 + (i*7919)%900_000)
		ts[i] = Territory{Code: fmt.Sprintf("T-%03d", i), Population: pop, ForeignResidents: pop * int64(3+(i*31)%17) / 100}
	}
	b.ResetTimer()
	for b.Loop() {
		NearestPeers(ts, PeerCount)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ts)), "ns/territory")
}

// TestNearestPeersMatchesFullSort checks the k-slot selection against
// sorting every distance, on territories with many exact ties (sizes and
// shares drawn from a few values).
func TestNearestPeersMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	ts := make([]Territory, 80)
	for i := range ts {
		pop := int64(10_000 * (1 + rng.IntN(6)))
		ts[i] = Territory{Code: fmt.Sprintf("T-%02d", rng.IntN(1000)*100+i), Population: pop, ForeignResidents: pop * int64(rng.IntN(4)) / 10}
	}
	// Every peer of every territory, in the order of a full sort.
	full := NearestPeers(ts, len(ts))
	for _, k := range []int{0, 1, 5, 79} {
		got := NearestPeers(ts, k)
		for i, s := range got {
			all := slices.Clone(full[i].Peers)
			// Recompute the order by sorting, independently of the selection.
			slices.SortStableFunc(all, func(a, b Peer) int {
				if a.Distance != b.Distance {
					return cmp.Compare(a.Distance, b.Distance)
				}
				return strings.Compare(a.Territory, b.Territory)
			})
			if !slices.Equal(s.Peers, all[:min(k, len(all))]) {
				t.Fatalf("k = %d, %s: %v, want %v", k, s.Territory, s.Peers, all[:min(k, len(all))])
			}
		}
	}
}
