package compare

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// near fails the test unless got is within 1e-6 of want.
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %.9f, want %.9f", what, got, want)
	}
}

// checkCoverage checks the invariant every Coverage keeps and its counts.
func checkCoverage(t *testing.T, what string, c Coverage, contributing, suppressed, missing, withheld int) {
	t.Helper()
	if c.Contributing+c.Suppressed+c.Missing+c.Withheld != c.Enrolled {
		t.Errorf("%s: %+v does not add up to the enrolled", what, c)
	}
	if c.Contributing != contributing || c.Suppressed != suppressed || c.Missing != missing || c.Withheld != withheld {
		t.Errorf("%s: contributing/suppressed/missing/withheld = %d/%d/%d/%d, want %d/%d/%d/%d", what,
			c.Contributing, c.Suppressed, c.Missing, c.Withheld, contributing, suppressed, missing, withheld)
	}
	if len(c.Territories) != c.Contributing {
		t.Errorf("%s: %d territories listed for %d contributing", what, len(c.Territories), c.Contributing)
	}
}

func TestLoadTerritoriesErrors(t *testing.T) {
	ok := `{"code":"TOS-A","name":"A","population":1000,"foreign_residents":100,"comuni":["048017"]}`
	tests := map[string]struct {
		file string
		want []string // substrings of the error
	}{
		"duplicate code": {
			file: `{"territories":[` + ok + `,{"code":"TOS-A","name":"B","population":5,"foreign_residents":0,"comuni":[]}]}`,
			want: []string{"/territories/1/code", `"TOS-A"`, "duplicate of /territories/0"},
		},
		"zero population": {
			file: `{"territories":[{"code":"TOS-B","name":"B","population":0,"foreign_residents":0,"comuni":[]}]}`,
			want: []string{"/territories/0/population", "above 0"},
		},
		"more foreign than residents": {
			file: `{"territories":[{"code":"TOS-B","name":"B","population":10,"foreign_residents":11,"comuni":[]}]}`,
			want: []string{"/territories/0/foreign_residents", "is 11", "population 10"},
		},
		"lower-case code": {
			file: `{"territories":[{"code":"tos-b","name":"B","population":10,"foreign_residents":1,"comuni":[]}]}`,
			want: []string{"/territories/0/code", "must match"},
		},
		"misspelt field": {
			file: `{"territories":[{"code":"TOS-B","name":"B","population":10,"foreign_resident":1,"comuni":[]}]}`,
			want: []string{"unknown field", "foreign_resident"},
		},
		"bad comune": {
			file: `{"territories":[{"code":"TOS-B","name":"B","population":10,"foreign_residents":1,"comuni":["48017"]}]}`,
			want: []string{"/territories/0/comuni/0", "6-digit"},
		},
		"comune in two territories": {
			file: `{"territories":[` + ok + `,{"code":"TOS-B","name":"B","population":10,"foreign_residents":1,"comuni":["048017"]}]}`,
			want: []string{"/territories/1/comuni/0", `also in territory "TOS-A"`},
		},
		"no territory": {file: `{"territories":[]}`, want: []string{"/territories", "no territory"}},
		"broken JSON":  {file: `{"territories":[`, want: []string{"territories file"}},
		"two values":   {file: `{"territories":[` + ok + `]} {}`, want: []string{"more than one JSON value"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LoadTerritories(strings.NewReader(tc.file))
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	ts, err := LoadTerritories(strings.NewReader(`{"territories":[` + ok + `]}`))
	if err != nil || len(ts) != 1 || ts[0].ForeignResidents != 100 || ts[0].ForeignShare() != 0.1 {
		t.Fatalf("a valid file: %+v, %v", ts, err)
	}
}

func TestValuesMustMatchTheTerritories(t *testing.T) {
	ts := []Territory{{Code: "A", Population: 10}, {Code: "B", Population: 10}}
	tests := map[string]struct {
		values []Value
		want   string
	}{
		"unknown territory": {[]Value{{Territory: "Z", Epoch: "2025"}}, `territory "Z" is not in the territories file`},
		"two values":        {[]Value{{Territory: "A", Epoch: "2025"}, {Territory: "A", Epoch: "2025"}}, `a second value for territory "A"`},
		"mixed epochs":      {[]Value{{Territory: "A", Epoch: "2025"}, {Territory: "B", Epoch: "2024"}}, "compare one epoch at a time"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := PerCapita(ts, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PerCapita: %v, want an error saying %q", err, tc.want)
			}
			if _, err := GroupRates(ts, []Group{{ID: "g", Members: []string{"A"}}}, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GroupRates: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := GroupRates(ts, []Group{{ID: "g", Members: []string{"A", "Q"}}}, nil); err == nil || !strings.Contains(err.Error(), `member "Q"`) {
		t.Errorf("a group with an unknown member: %v", err)
	}
}

func TestPerCapita(t *testing.T) {
	ts := []Territory{
		{Code: "A", Population: 200_000, ForeignResidents: 20_000},
		{Code: "B", Population: 100_000, ForeignResidents: 10_000},
		{Code: "C", Population: 100_000, ForeignResidents: 10_000},
		{Code: "D", Population: 100_000, ForeignResidents: 10_000},
		{Code: "E", Population: 100_000, ForeignResidents: 10_000},
		{Code: "F", Population: 100_000, ForeignResidents: 0},
		// A territory hub's own view without its population in snodo.yaml.
		{Code: "G"},
	}
	values := []Value{
		{Territory: "A", Epoch: "2025", Num: 100, DisplayBelow: 10},
		{Territory: "B", Epoch: "2025", Suppressed: true, DisplayBelow: 10},
		{Territory: "C", Epoch: "2025", Num: 7, Noise: disclosure.RateNoise{Num: 4}, DisplayBelow: 10},
		// D sent nothing.
		{Territory: "E", Epoch: "2025", Num: 50, Noise: disclosure.RateNoise{Num: -1}, DisplayBelow: 10},
		{Territory: "F", Epoch: "2025", Num: 100, Noise: disclosure.RateNoise{Num: 25}, DisplayBelow: 10},
		{Territory: "G", Epoch: "2025", Num: 100, DisplayBelow: 10},
	}
	got, err := PerCapita(ts, values)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != "2025" || len(got.Rows) != len(ts) {
		t.Fatalf("epoch %q, %d rows", got.Epoch, len(got.Rows))
	}
	rows := map[string]PerCapitaRow{}
	for i, r := range got.Rows {
		if r.Territory != ts[i].Code {
			t.Errorf("row %d is %s, want the file's order", i, r.Territory)
		}
		rows[r.Territory] = r
	}
	// A: 100 per 200,000 = 0.5 per 1,000; the Poisson score interval of
	// 100 with no noise is 101.92 ± 1.96·√100.96 = [82.227, 121.614].
	a := rows["A"]
	if a.Count == nil || *a.Count != 100 || a.Display != "100" {
		t.Errorf("A: count %v, display %q", a.Count, a.Display)
	}
	near(t, "A per 1,000", a.PerResidents.Value, 0.5)
	near(t, "A low", a.PerResidents.Low, 0.411136002)
	near(t, "A high", a.PerResidents.High, 0.608071292)
	near(t, "A per 1,000 foreign", a.PerForeignResidents.Value, 5)
	near(t, "A per 1,000 foreign low", a.PerForeignResidents.Low, 4.11136002)
	// F: noise of variance 25 widens it: 101.92 ± 1.96·√125.96.
	f := rows["F"]
	near(t, "F low", f.PerResidents.Low, 0.799236488)
	near(t, "F high", f.PerResidents.High, 1.239178100)
	if f.PerForeignResidents.Published || f.PerForeignResidents.Reason != ReasonNoForeignResidents {
		t.Errorf("F has no foreign residents: %+v", f.PerForeignResidents)
	}
	if g := rows["G"]; g.PerResidents.Published || g.PerResidents.Reason != ReasonNoPopulation || g.PerForeignResidents.Reason != ReasonNoForeignResidents {
		t.Errorf("G has no population: per residents %+v, per foreign residents %+v", g.PerResidents, g.PerForeignResidents)
	}
	for code, want := range map[string]struct {
		display string
		reason  Reason
	}{"B": {"<10", ReasonSuppressed}, "C": {"<10", ReasonBelowDisplay}, "D": {"", ReasonMissing}, "E": {"50", ReasonNoiseUnknown}} {
		r := rows[code]
		if r.Display != want.display || r.PerResidents.Published || r.PerResidents.Reason != want.reason || r.PerForeignResidents.Reason != want.reason {
			t.Errorf("%s: display %q, %+v; want %q and %s", code, r.Display, r.PerResidents, want.display, want.reason)
		}
		if r.PerResidents.Value != 0 || r.PerResidents.High != 0 {
			t.Errorf("%s: a withheld rate carries numbers: %+v", code, r.PerResidents)
		}
	}
	// A count under display_below must not be in the result at all.
	if rows["C"].Count != nil || rows["B"].Count != nil {
		t.Error("a count shown as <10 is still given")
	}
	// G contributes its count; only its rate per resident is withheld.
	checkCoverage(t, "per capita", got.Coverage, 3, 1, 1, 2)
	if got.Coverage.Text != "3 of 7" || strings.Join(got.Coverage.Territories, ",") != "A,F,G" {
		t.Errorf("coverage %q over %v", got.Coverage.Text, got.Coverage.Territories)
	}
}

func TestDisplayCount(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Value{Num: 12, DisplayBelow: 10}, "12"},
		{Value{Num: 10, DisplayBelow: 10}, "10"},
		{Value{Num: 9, DisplayBelow: 10}, "<10"},
		{Value{Num: -2, DisplayBelow: 10}, "<10"},
		{Value{Suppressed: true, DisplayBelow: 20}, "<20"},
		{Value{Suppressed: true}, "suppressed"},
		{Value{Num: 3}, "3"},
	}
	for _, tc := range tests {
		if got := displayCount(tc.v); got != tc.want {
			t.Errorf("displayCount(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestCountIntervalCoverage simulates Poisson counts with Gaussian noise
// and checks that the 95% interval of countInterval covers the expected
// count 93.5–96.5% of the time from λ = 10 (the default display_below:
// smaller counts give no rate); at λ = 5 with noise it covers 93.5%, hence
// a looser floor there. The Wald interval y ± 1.96·√(y + v) would fail:
// it covers 87% at λ = 5 without noise and 92.5% at λ = 10 with noise of
// variance 4 (a simulation of 100,000 draws each).
func TestCountIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	poisson := func(lambda float64) float64 {
		l, k, p := math.Exp(-lambda), 0.0, 1.0
		for {
			p *= rng.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	for _, c := range []struct{ lambda, v, floor float64 }{
		{5, 0, 0.925}, {5, 4, 0.925}, {10, 0, 0.935}, {10, 4, 0.935}, {30, 0, 0.935}, {30, 25, 0.935}, {200, 100, 0.935},
	} {
		const n = 20_000
		// Rounding the normal noise to an integer adds variance 1/12: the
		// interval is given the noise's true variance, as
		// disclosure.Variance gives the discrete Gaussian's.
		v := c.v
		if v > 0 {
			v += 1.0 / 12
		}
		in := 0
		for range n {
			y := poisson(c.lambda) + math.Round(rng.NormFloat64()*math.Sqrt(c.v))
			_, lo, hi, _ := countInterval(y, v)
			if lo <= c.lambda && c.lambda <= hi {
				in++
			}
		}
		cov := float64(in) / n
		t.Logf("λ = %v, noise variance %v: coverage %.4f", c.lambda, c.v, cov)
		if cov < c.floor || cov > 0.965 {
			t.Errorf("λ = %v, noise variance %v: coverage %.4f, want %v–0.965", c.lambda, c.v, cov, c.floor)
		}
	}
}

func TestCountIntervalEdges(t *testing.T) {
	// A noisy count far below 0: no λ ≥ 0 fits, the interval is the point 0.
	p, lo, hi, clipped := countInterval(-50, 1)
	if p != 0 || lo != 0 || hi != 0 || !clipped {
		t.Errorf("countInterval(-50, 1) = %v %v %v %v", p, lo, hi, clipped)
	}
	// A zero count still has an upper bound: z² = 3.8415.
	p, lo, hi, clipped = countInterval(0, 0)
	if p != 0 || lo != 0 || clipped {
		t.Errorf("countInterval(0, 0) = %v %v %v %v", p, lo, hi, clipped)
	}
	near(t, "upper bound of 0", hi, z95*z95)
}
