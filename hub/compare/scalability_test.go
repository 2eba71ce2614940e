package compare

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

func TestOutcomeByCaseload(t *testing.T) {
	ts := []Territory{{Code: "A", Population: 1}, {Code: "B", Population: 1}, {Code: "C", Population: 1}, {Code: "D", Population: 1}}
	outcome := []Value{
		{Territory: "A", Epoch: "2025", Num: 45, Den: 160, MinRateDenominator: 20},
		{Territory: "B", Epoch: "2025", Num: 5, Den: 10, MinRateDenominator: 20},
		{Territory: "C", Epoch: "2025", Num: 30, Den: 100, MinRateDenominator: 20},
		{Territory: "D", Epoch: "2025", Num: 30, Den: 100, MinRateDenominator: 20},
	}
	caseload := []Value{
		{Territory: "A", Epoch: "2025", Num: 100, DisplayBelow: 10},
		{Territory: "B", Epoch: "2025", Num: 40, DisplayBelow: 10},
		{Territory: "C", Epoch: "2025", Num: 8, DisplayBelow: 10},
		// D sent no caseload.
	}
	got, err := OutcomeByCaseload(ts, outcome, caseload)
	if err != nil {
		t.Fatal(err)
	}
	if got.X != AxisCaseload || got.Epoch != "2025" || len(got.Points) != 1 || got.Points[0].Territory != "A" {
		t.Fatalf("view %+v", got)
	}
	a := got.Points[0]
	near(t, "A caseload", a.X.Value, 100)
	near(t, "A caseload low", a.X.Low, 82.227200434)
	near(t, "A outcome", a.Y.Value, 0.28125)
	near(t, "A outcome low", a.Y.Low, 0.217343235)
	want := []Omission{
		{Territory: "B", Y: ReasonDenominatorBelowMinimum},
		{Territory: "C", X: ReasonBelowDisplay},
		{Territory: "D", X: ReasonMissing},
	}
	if len(got.Omitted) != len(want) {
		t.Fatalf("omitted %+v, want %+v", got.Omitted, want)
	}
	for i := range want {
		if got.Omitted[i] != want[i] {
			t.Errorf("omitted %d: %+v, want %+v", i, got.Omitted[i], want[i])
		}
	}
	checkCoverage(t, "caseload view", got.Coverage, 1, 0, 1, 2)
}

func TestOutcomeByCost(t *testing.T) {
	ts := []Territory{{Code: "A", Population: 1}, {Code: "B", Population: 1}, {Code: "C", Population: 1}}
	outcome := []Value{
		{Territory: "A", Epoch: "2025", Num: 30, Den: 100, MinRateDenominator: 20},
		{Territory: "B", Epoch: "2025", Num: 30, Den: 100, MinRateDenominator: 20},
		{Territory: "C", Epoch: "2025", Suppressed: true},
	}
	cost := []Value{
		// €120,000 over 40 households: €3,000 each. Noise variance 4·10⁶
		// cents² on the sum and 4 on the count: Var(S/D) ≈ (4·10⁶ +
		// 300,000²·4)/40², half-width 1.96·15,000.08 cents = €294.00.
		{Territory: "A", Epoch: "2025", Num: 12_000_000, Den: 40, Noise: disclosure.RateNoise{Num: 4e6, Den: 4}, MinRateDenominator: 20},
		// B's sum was withheld.
		{Territory: "B", Epoch: "2025", Suppressed: true},
		{Territory: "C", Epoch: "2025", Num: 1_000_000, Den: 30, MinRateDenominator: 20},
	}
	got, err := OutcomeByCost(ts, outcome, cost)
	if err != nil {
		t.Fatal(err)
	}
	if got.X != AxisCostPerPathway || len(got.Points) != 1 {
		t.Fatalf("view %+v", got)
	}
	a := got.Points[0]
	near(t, "A cost", a.X.Value, 3000)
	near(t, "A cost low", a.X.Low, 2706.003769020)
	near(t, "A cost high", a.X.High, 3293.996230980)
	if len(got.Omitted) != 2 || got.Omitted[0] != (Omission{Territory: "B", X: ReasonSuppressed}) || got.Omitted[1] != (Omission{Territory: "C", Y: ReasonSuppressed}) {
		t.Errorf("omitted %+v", got.Omitted)
	}
	checkCoverage(t, "cost view", got.Coverage, 1, 2, 0, 0)

	for name, c := range map[string]struct {
		v    Value
		want Reason
	}{
		"no pathways":    {Value{Territory: "A", Epoch: "2025", Num: 0, Den: 0}, ReasonNoPathways},
		"few pathways":   {Value{Territory: "A", Epoch: "2025", Num: 500_000, Den: 10, MinRateDenominator: 20}, ReasonDenominatorBelowMinimum},
		"noise unknown":  {Value{Territory: "A", Epoch: "2025", Num: 500_000, Den: 30, Noise: disclosure.RateNoise{Num: -1, Den: -1}}, ReasonNoiseUnknown},
		"missing epochs": {Value{Territory: "A", Epoch: "2025", Num: 500_000, Den: 30}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := OutcomeByCost(ts, outcome[:1], []Value{c.v})
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(got.Points) != 1 {
					t.Errorf("no point: %+v", got.Omitted)
				}
				return
			}
			if len(got.Points) != 0 || got.Omitted[0].X != c.want {
				t.Errorf("omitted %+v, want x %s", got.Omitted, c.want)
			}
		})
	}

	if _, err := OutcomeByCost(ts, outcome, []Value{{Territory: "A", Epoch: "2024"}}); err == nil || !strings.Contains(err.Error(), "one epoch") {
		t.Errorf("cost of 2024 against outcomes of 2025: %v", err)
	}
}

// TestResultJSON checks the results serialise with snake_case names the
// API serves and hold no withheld number.
func TestResultJSON(t *testing.T) {
	ts := []Territory{{Code: "A", Population: 1000, ForeignResidents: 100}, {Code: "B", Population: 1000, ForeignResidents: 100}}
	pc, err := PerCapita(ts, []Value{{Territory: "A", Epoch: "2025", Num: 12, DisplayBelow: 10}, {Territory: "B", Epoch: "2025", Num: 7, DisplayBelow: 10}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(pc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{`"per_1000_residents"`, `"per_1000_foreign_residents"`, `"coverage":{"contributing":1,"enrolled":2`, `"text":"1 of 2"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if _, has := back.Rows[1]["count"]; has || back.Rows[1]["display"] != "<10" {
		t.Errorf("a count shown as <10 is in the JSON: %v", back.Rows[1])
	}
}
