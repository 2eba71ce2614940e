package stats

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// generate fills a store with n households of one to three people, each
// with a person record per member, a household record, a pathway, a
// referral, T0 and T12 assessments, most with a placement and some with an
// internship and a contract, spread over 2024-2025.
func generate(b *testing.B, n int) *fixture {
	f := newFixture(b)
	f.check = false
	rng := rand.New(rand.NewPCG(1, 2))
	day := func(from string, spread int) time.Time {
		t, _ := time.Parse(time.DateOnly, from)
		return t.AddDate(0, 0, rng.IntN(spread))
	}
	ds := func(t time.Time) string { return t.Format(time.DateOnly) }
	sexes := []string{"F", "M", "U"}
	types := []string{"single-person", "couple-no-children", "couple-with-children", "single-parent", "multi-family", "other"}
	ethos := []string{"EL1", "EL2", "EL3", "EL4", "EL5", "EL6", "housed"}
	person := 0
	for h := 0; h < n; h++ {
		hh := fmt.Sprintf("NUC-%d", h)
		size := 1 + rng.IntN(3)
		var members []any
		first := person + 1
		for m := 0; m < size; m++ {
			person++
			f.person(person, map[string]any{"sex": sexes[rng.IntN(3)], "birth_year": 1950 + rng.IntN(60),
				"citizenship": []string{"IT", "Z110", "Z330", "Z100"}[rng.IntN(4)], "household": ref(hh)})
			role := "child"
			if m == 0 {
				role = "reference-person"
			}
			members = append(members, map[string]any{"person": who(pid(person)), "role": coding("household-role", role)})
		}
		f.record("household", hh, "", map[string]any{"size": size, "household_type": coding("household-type", types[rng.IntN(len(types))]), "members": members})
		access := day("2024-01-01", 700)
		start := access.AddDate(0, 0, rng.IntN(150))
		pw := map[string]any{"person": who(pid(first)), "household": ref(hh), "lead_organisation": ref("ORG"),
			"accessed_on": ds(access), "preliminary_assessment_on": ds(access.AddDate(0, 0, rng.IntN(90))),
			"signed_on": ds(start), "started_on": ds(start), "status": "active",
			"cost": map[string]any{"amount": map[string]any{"value": rng.IntN(20000), "currency": "EUR"}}}
		if rng.IntN(4) == 0 {
			pw["volunteers"] = []any{ref("VOL-1")}
		}
		f.record("pathway", "PW-"+hh, pid(first), pw)
		authored := start.Add(time.Duration(rng.IntN(90*24)) * time.Hour)
		responded, closed := time.Time{}, time.Time{}
		status := []string{"requested", "accepted", "rejected", "completed", "cancelled"}[rng.IntN(5)]
		if status != "requested" {
			responded = authored.Add(time.Duration(rng.IntN(40*24)) * time.Hour)
		}
		if status == "completed" || status == "rejected" || status == "cancelled" {
			closed = responded.Add(time.Duration(rng.IntN(120*24)) * time.Hour)
		}
		f.referral("REF-"+hh, first, status, authored.Format(time.RFC3339), fmtTime(responded), fmtTime(closed), true)
		if rng.IntN(3) > 0 {
			pl := map[string]any{"person": who(pid(first)), "household": ref(hh), "comune": "048017",
				"start": ds(start.AddDate(0, 0, rng.IntN(400))), "permanent": rng.IntN(4) > 0}
			if rng.IntN(3) == 0 {
				pl["end"] = ds(start.AddDate(0, 0, 400+rng.IntN(300)))
				pl["destination_group"] = []string{"permanent", "temporary", "homeless"}[rng.IntN(3)]
			}
			f.record("housing-placement", "PL-"+hh, pid(first), pl)
		}
		for i, tp := range []string{"T0", "T12"} {
			f.record("assessment", fmt.Sprintf("A-%s-%d", hh, i), pid(first), map[string]any{"person": who(pid(first)),
				"instrument": coding("assessment-instrument", "uvm"), "timepoint": tp, "assessed_on": ds(start.AddDate(0, 12*i, 0)),
				"ethos": coding("ethos-light", ethos[rng.IntN(len(ethos))]), "ilo_status": []string{"employed", "unemployed", "inactive"}[rng.IntN(3)],
				"social_network": []string{"absent", "partial", "present"}[rng.IntN(3)]})
		}
		if rng.IntN(4) == 0 {
			end := start.AddDate(0, 6, 0)
			f.record("employment-activity", "INT-"+hh, pid(first), map[string]any{"person": who(pid(first)),
				"type": coding("employment-activity-type", "internship"), "start": ds(start), "end": ds(end)})
			if rng.IntN(2) == 0 {
				f.record("employment-activity", "CON-"+hh, pid(first), map[string]any{"person": who(pid(first)),
					"type": coding("employment-activity-type", "contract"), "start": ds(end.AddDate(0, 0, rng.IntN(200))),
					"contract_type": coding("contract-type", "A.02.00")})
			}
		}
	}
	return f
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// BenchmarkComputeAll computes every indicator of a year (all 15) from a
// store of 10,000 households: one snapshot read, then the tables.
func BenchmarkComputeAll(b *testing.B) {
	const households = 10000
	ctx := context.Background()
	s := generate(b, households).commit()
	c := catalogue(b)
	p := period(b, "2025")
	var tables []*Table
	for b.Loop() {
		var err error
		if tables, _, err = c.ComputeAll(ctx, s, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(households)*float64(b.N)/b.Elapsed().Seconds(), "households/s")
	if n, _ := tables[0].Cell(Total, TotalAll, "denominator"); n == 0 {
		b.Fatal("empty referral table: the generator is broken")
	}
}
