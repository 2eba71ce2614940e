package compare

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	examplesregion "github.com/snodo-hub/snodo/examples/region"
	"github.com/snodo-hub/snodo/hub/disclosure"
)

func TestPopulationBandEdges(t *testing.T) {
	for p, want := range map[int64]string{
		1: "lt-100k", 99_999: "lt-100k", 100_000: "100k-250k", 249_999: "100k-250k",
		250_000: "250k-500k", 499_999: "250k-500k", 500_000: "ge-500k", 3_000_000: "ge-500k",
	} {
		if got := bandOf(p); got != want {
			t.Errorf("bandOf(%d) = %s, want %s", p, got, want)
		}
	}
}

func TestBenchmarkGroups(t *testing.T) {
	tests := map[string]struct {
		ts      []Territory
		groupOf map[string]string
	}{
		"ranks split 4, 3, 3 over ten": {
			// Shares 1% … 10%, given out of order.
			ts: []Territory{
				{Code: "J", Population: 1000, ForeignResidents: 100},
				{Code: "A", Population: 1000, ForeignResidents: 10},
				{Code: "I", Population: 1000, ForeignResidents: 90},
				{Code: "B", Population: 1000, ForeignResidents: 20},
				{Code: "H", Population: 1000, ForeignResidents: 80},
				{Code: "C", Population: 1000, ForeignResidents: 30},
				{Code: "G", Population: 1000, ForeignResidents: 70},
				{Code: "D", Population: 1000, ForeignResidents: 40},
				{Code: "F", Population: 1000, ForeignResidents: 60},
				{Code: "E", Population: 1000, ForeignResidents: 50},
			},
			groupOf: map[string]string{
				"A": "lt-100k/t1", "B": "lt-100k/t1", "C": "lt-100k/t1", "D": "lt-100k/t1",
				"E": "lt-100k/t2", "F": "lt-100k/t2", "G": "lt-100k/t2",
				"H": "lt-100k/t3", "I": "lt-100k/t3", "J": "lt-100k/t3",
			},
		},
		"equal shares share a tercile; bands split": {
			// Shares 10%, 10%, 20%, 30%, 30%, 30%: the three at 30% take
			// rank 3 of 6, tercile 2, so no territory is in tercile 3.
			ts: []Territory{
				{Code: "A", Population: 50_000, ForeignResidents: 5_000},
				{Code: "B", Population: 600_000, ForeignResidents: 60_000},
				{Code: "C", Population: 100_000, ForeignResidents: 20_000},
				{Code: "D", Population: 300_000, ForeignResidents: 90_000},
				{Code: "E", Population: 300_000, ForeignResidents: 90_000},
				{Code: "F", Population: 100_000, ForeignResidents: 30_000},
			},
			groupOf: map[string]string{
				"A": "lt-100k/t1", "B": "ge-500k/t1", "C": "100k-250k/t2",
				"D": "250k-500k/t2", "E": "250k-500k/t2", "F": "100k-250k/t2",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := BenchmarkGroups(tc.ts)
			if !reflect.DeepEqual(b.GroupOf, tc.groupOf) {
				t.Errorf("group of each territory:\n got %v\nwant %v", b.GroupOf, tc.groupOf)
			}
			// Every territory is in exactly the group GroupOf names, and
			// groups come by band then tercile.
			seen := map[string]int{}
			for i, g := range b.Groups {
				for _, m := range g.Members {
					seen[m]++
					if b.GroupOf[m] != g.ID {
						t.Errorf("%s is a member of %s but GroupOf says %s", m, g.ID, b.GroupOf[m])
					}
				}
				if i > 0 && !groupBefore(b.Groups[i-1], g) {
					t.Errorf("group %s before %s", b.Groups[i-1].ID, g.ID)
				}
			}
			for _, tr := range tc.ts {
				if seen[tr.Code] != 1 {
					t.Errorf("%s is in %d groups", tr.Code, seen[tr.Code])
				}
			}
		})
	}
}

// groupBefore says a comes before b: band order of PopulationBands, then tercile.
func groupBefore(a, b Group) bool {
	rank := map[string]int{}
	for i, band := range PopulationBands() {
		rank[band.ID] = i
	}
	if a.Band != b.Band {
		return rank[a.Band] < rank[b.Band]
	}
	return a.Tercile < b.Tercile
}

// TestDemoBenchmarkGroups pins the demo region's groups, worked out by hand
// from the file: shares MS 6.9 < LI 7.4 < LU 7.6 < PT 9.7 | PI 9.9 < GR 10.1
// < AR 10.6 | SI 11.0 < FI 12.1 < PO 19.2; Firenze alone is ≥ 500,000, and
// Grosseto, Massa-Carrara and Prato are under 250,000.
func TestDemoBenchmarkGroups(t *testing.T) {
	ts, err := LoadTerritories(bytes.NewReader(examplesregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	b := BenchmarkGroups(ts)
	var got []string
	for _, g := range b.Groups {
		got = append(got, g.ID+"="+strings.Join(g.Members, ","))
	}
	want := []string{
		"100k-250k/t1=TOS-MS", "100k-250k/t2=TOS-GR", "100k-250k/t3=TOS-PO",
		"250k-500k/t1=TOS-LI,TOS-LU,TOS-PT", "250k-500k/t2=TOS-AR,TOS-PI", "250k-500k/t3=TOS-SI",
		"ge-500k/t3=TOS-FI",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("demo groups:\n got %v\nwant %v", got, want)
	}
	if len(b.Terciles) != 3 || b.Terciles[0].MaxShare >= b.Terciles[1].MinShare || b.Terciles[1].MaxShare >= b.Terciles[2].MinShare {
		t.Errorf("terciles overlap: %+v", b.Terciles)
	}
}

func TestGroupRates(t *testing.T) {
	ts := []Territory{{Code: "A", Population: 1}, {Code: "B", Population: 1}, {Code: "C", Population: 1}, {Code: "D", Population: 1}, {Code: "E", Population: 1}, {Code: "F", Population: 1}}
	g := Group{ID: "g", Members: []string{"A", "B", "C", "D"}}
	none := Group{ID: "empty", Members: []string{"E", "F"}}
	v := func(code string, num, den int64, noise disclosure.RateNoise) Value {
		return Value{Territory: code, Epoch: "2025", Num: num, Den: den, Noise: noise, MinRateDenominator: 20, DisplayBelow: 10}
	}
	t.Run("no noise", func(t *testing.T) {
		values := []Value{
			v("A", 30, 100, disclosure.RateNoise{}),
			v("B", 10, 50, disclosure.RateNoise{}),
			{Territory: "C", Epoch: "2025", Suppressed: true},
			v("D", 5, 10, disclosure.RateNoise{}), // too small for a rate of its own
			{Territory: "E", Epoch: "2025", Suppressed: true},
		}
		got, err := GroupRates(ts, []Group{g, none}, values)
		if err != nil {
			t.Fatal(err)
		}
		r := got[0]
		// Mean of 0.3 and 0.2; its half-width 1.96·√(0.3·0.7/100 + 0.2·0.8/50)/2.
		near(t, "mean", r.Mean.Value, 0.25)
		near(t, "mean low", r.Mean.Low, 0.178656234)
		near(t, "mean high", r.Mean.High, 0.321343766)
		checkCoverage(t, "mean", r.MeanCoverage, 2, 1, 0, 1)
		if r.MeanCoverage.Text != "2 of 4" {
			t.Errorf("mean coverage %q", r.MeanCoverage.Text)
		}
		// Pooled 45/160 with D, the Wilson interval (no noise).
		near(t, "pooled", r.Pooled.Value, 0.28125)
		near(t, "pooled low", r.Pooled.Low, 0.217343235)
		near(t, "pooled high", r.Pooled.High, 0.355414476)
		if r.PooledNumerator != 45 || r.PooledDenominator != 160 {
			t.Errorf("pooled %d/%d, want 45/160", r.PooledNumerator, r.PooledDenominator)
		}
		checkCoverage(t, "pooled", r.PooledCoverage, 3, 1, 0, 0)
		if strings.Join(r.PooledCoverage.Territories, ",") != "A,B,D" || r.PooledCoverage.Text != "3 of 4" {
			t.Errorf("pooled over %v (%s)", r.PooledCoverage.Territories, r.PooledCoverage.Text)
		}
		e := got[1]
		if e.Mean.Published || e.Pooled.Published || e.Mean.Reason != ReasonNoContributor || e.Pooled.Reason != ReasonNoContributor {
			t.Errorf("a group of one suppressed and one missing member has rates: %+v", e)
		}
		checkCoverage(t, "empty", e.PooledCoverage, 0, 1, 1, 0)
	})
	t.Run("noise", func(t *testing.T) {
		// Each member released its rate as one partition table, with
		// cell variance 4 (A, B) or 1 (D); C sent nothing.
		values := []Value{
			v("A", 30, 100, disclosure.PartitionRateNoise(4)),
			v("B", 10, 50, disclosure.PartitionRateNoise(4)),
			v("D", 5, 10, disclosure.PartitionRateNoise(1)),
		}
		got, err := GroupRates(ts, []Group{g}, values)
		if err != nil {
			t.Fatal(err)
		}
		r := got[0]
		// Pool noise 4+4+1 = 9: Num 9, Den 18, Cov 9; the score interval
		// of disclosure.Rate worked out independently.
		near(t, "pooled low", r.Pooled.Low, 0.211243826)
		near(t, "pooled high", r.Pooled.High, 0.360383968)
		// Mean: each member's delta-method variance adds (v − 2p·v + p²·2v)/D².
		near(t, "mean low", r.Mean.Low, 0.170265350)
		near(t, "mean high", r.Mean.High, 0.329734650)
		checkCoverage(t, "pooled", r.PooledCoverage, 3, 0, 1, 0)
	})
	t.Run("unknown noise leaves the member out", func(t *testing.T) {
		values := []Value{
			v("A", 30, 100, disclosure.RateNoise{}),
			v("B", 10, 50, disclosure.RateNoise{Num: -1, Den: -1}),
		}
		got, err := GroupRates(ts, []Group{g}, values)
		if err != nil {
			t.Fatal(err)
		}
		r := got[0]
		near(t, "pooled", r.Pooled.Value, 0.3)
		near(t, "mean", r.Mean.Value, 0.3)
		checkCoverage(t, "pooled", r.PooledCoverage, 1, 0, 2, 1)
	})
}
