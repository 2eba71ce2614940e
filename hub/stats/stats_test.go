package stats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/schemas"
)

// Households of the scenario (see scenario):
//
//	H1  household record NUC-1 (single-parent): P1 (F, 1990, IT, reference person), P2 (M, 2015, child)
//	P3  alone (M, 1960, France → eu), T0 ETHOS EL2; linked to household NUC-P3 (no record) by a placement
//	P4  no person record (unknown everything)
//	P5  alone (F, 1999, stateless), household NUC-P5 (no record) by a placement
//	H2  household record NUC-2 (couple-no-children, no members listed), P6 (M, 1985, IT) linked by his person record
//	P7  alone (F, 1950, IT)
func scenario(t testing.TB) *fixture {
	f := newFixture(t)
	f.person(1, map[string]any{"sex": "F", "birth_year": 1990, "citizenship": "IT", "household": ref("NUC-1")})
	f.person(2, map[string]any{"sex": "M", "birth_year": 2015, "citizenship": "Z330"})
	f.person(3, map[string]any{"sex": "M", "birth_year": 1960, "citizenship": "Z110"})
	f.person(5, map[string]any{"sex": "F", "birth_year": 1999, "citizenship_group": "stateless"})
	f.person(6, map[string]any{"sex": "M", "birth_year": 1985, "citizenship": "IT", "household": ref("NUC-2")})
	f.person(7, map[string]any{"sex": "F", "birth_year": 1950, "citizenship": "IT"})
	f.record("household", "NUC-1", "", map[string]any{"size": 2, "household_type": coding("household-type", "single-parent"),
		"members": []any{
			map[string]any{"person": who(pid(1)), "role": coding("household-role", "reference-person")},
			map[string]any{"person": who(pid(2)), "role": coding("household-role", "child")},
		}})
	f.record("household", "NUC-2", "", map[string]any{"size": 2, "household_type": coding("household-type", "couple-no-children")})

	// Referrals, 2025-Q2.
	f.referral("R1", 1, "completed", "2025-04-02T10:00:00Z", "2025-04-03T09:00:00Z", "2025-05-01T10:00:00Z", true)
	f.referral("R2", 2, "rejected", "2025-04-10T10:00:00Z", "2025-04-12T10:00:00Z", "2025-04-12T10:00:00Z", true)  // same household as R1: not counted
	f.referral("R3", 3, "accepted", "2025-06-28T12:00:00Z", "2025-07-05T12:00:00Z", "", true)                      // answered after the quarter
	f.referral("R4a", 4, "requested", "2025-03-31T23:59:59Z", "", "", true)                                        // before the quarter
	f.referral("R4b", 4, "requested", "2025-07-01T00:00:00Z", "", "", true)                                        // after the quarter
	f.referral("R4c", 4, "cancelled", "2025-05-15T00:00:00Z", "", "2025-05-16T00:00:00Z", false)                   // cancelled as a draft
	f.referral("R5", 5, "cancelled", "2025-05-20T00:00:00Z", "", "2025-05-22T00:00:00Z", true)                     // cancelled after being requested
	f.referral("R6", 5, "draft", "2025-05-01T00:00:00Z", "", "", false)                                            // a draft is not requested
	f.referral("R7", 0, "accepted", "2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z", "", true)                      // nobody: no household
	f.referral("R8", 6, "completed", "2025-04-20T00:00:00Z", "2025-05-20T00:00:00Z", "2025-07-30T00:00:00Z", true) // 30 days, closed after 101
	f.referral("R9", 4, "requested", "2025-06-01T00:00:00Z", "", "", true)                                         // no person record

	// Pathways.
	lead := ref("ORG-SDS")
	f.record("pathway", "PW1", pid(1), map[string]any{"person": who(pid(1)), "household": ref("NUC-1"), "lead_organisation": lead,
		"accessed_on": "2024-12-01", "started_on": "2025-01-10", "status": "active",
		"cost": map[string]any{"amount": map[string]any{"value": 100, "currency": "EUR"}, "period": map[string]any{"start": "2024-01-01", "end": "2024-12-31"}}})
	f.record("pathway", "PW2", pid(2), map[string]any{"person": who(pid(2)), "household": ref("NUC-1"), "lead_organisation": lead,
		"started_on": "2025-04-15", "status": "active"})
	f.record("pathway", "PW3", pid(3), map[string]any{"person": who(pid(3)), "lead_organisation": lead,
		"accessed_on": "2025-04-01", "preliminary_assessment_on": "2025-05-31", "signed_on": "2025-06-30", "started_on": "2025-06-30", "status": "active",
		"cost": map[string]any{"amount": map[string]any{"value": 60000, "currency": "EUR"}}})
	f.record("pathway", "PW4", pid(5), map[string]any{"person": who(pid(5)), "lead_organisation": lead,
		"accessed_on": "2023-12-01", "started_on": "2024-01-01", "ended_on": "2025-03-31", "status": "completed"})
	f.record("pathway", "PW5", pid(6), map[string]any{"person": who(pid(6)), "household": ref("NUC-2"), "lead_organisation": lead,
		"accessed_on": "2025-05-10", "preliminary_assessment_on": "2025-07-20", "started_on": "2025-06-01", "status": "on-hold"})
	f.record("pathway", "PW6", pid(4), map[string]any{"person": who(pid(4)), "lead_organisation": lead,
		"started_on": "2025-04-01", "status": "draft"})
	f.record("pathway", "PW7", pid(7), map[string]any{"person": who(pid(7)), "lead_organisation": lead,
		"started_on": "2025-06-30", "status": "active", "volunteers": []any{ref("VOL-2")},
		"cost": map[string]any{"amount": map[string]any{"value": 1234.56, "currency": "EUR"}}})
	f.record("volunteer", "VOL-1", "", map[string]any{"pseudonym": "ALBO-0001", "organisation": ref("ORG-ODV"),
		"assignments": []any{
			map[string]any{"pathway": ref("PW3"), "start": "2025-06-01"},
			map[string]any{"pathway": ref("PW5"), "start": "2025-01-01", "end": "2025-03-31", "hours": 20},
		}})

	// Housing placements.
	place := func(id string, person int, household string, fields map[string]any) {
		fields["person"] = who(pid(person))
		fields["household"] = ref(household)
		fields["comune"] = "048017"
		f.record("housing-placement", id, pid(person), fields)
	}
	place("PL1", 1, "NUC-1", map[string]any{"start": "2025-05-10", "permanent": true})
	place("PL2", 6, "NUC-2", map[string]any{"start": "2025-04-01", "permanent": true})
	place("PL3", 3, "NUC-P3", map[string]any{"start": "2024-03-01", "end": "2024-12-01", "permanent": true,
		"destination": coding("ethos-light", "EL3"), "destination_group": "temporary"})
	place("PL4", 6, "NUC-2", map[string]any{"start": "2024-08-01", "end": "2025-01-15", "permanent": true, "destination_group": "permanent"})
	place("PL5", 5, "NUC-P5", map[string]any{"start": "2023-01-01", "end": "2024-02-10", "permanent": true, "destination_group": "permanent"})
	place("PL6", 7, "NUC-P7", map[string]any{"start": "2022-01-01", "end": "2024-06-30", "permanent": true, "destination_group": "permanent"})
	place("PL7", 7, "NUC-P7", map[string]any{"start": "2025-07-01", "permanent": false, "ethos_before": coding("ethos-light", "EL2")})

	// Assessments.
	assess := func(id string, person int, tp, on string, fields map[string]any) {
		fields["person"] = who(pid(person))
		fields["instrument"] = coding("assessment-instrument", "uvm")
		fields["timepoint"] = tp
		fields["assessed_on"] = on
		f.record("assessment", id, pid(person), fields)
	}
	el := func(c string) map[string]any { return coding("ethos-light", c) }
	assess("A3-0", 3, "T0", "2024-05-01", map[string]any{"ethos": el("EL2"), "social_network": "absent"})
	assess("A3-12", 3, "T12", "2025-05-01", map[string]any{"ethos": el("housed"), "ilo_status": "employed", "social_network": "partial"})
	assess("A1-0", 1, "T0", "2024-02-01", map[string]any{"ethos": el("EL1"), "social_network": "present"})
	assess("A1-12", 1, "T12", "2025-02-01", map[string]any{"ethos": el("EL1"), "ilo_status": "unemployed", "social_network": "partial"})
	assess("A2-0", 2, "T0", "2024-01-15", map[string]any{"ethos": el("EL6")})
	assess("A2-12", 2, "T12", "2025-03-01", map[string]any{"ethos": el("housed")})
	assess("A6-12", 6, "T12", "2025-12-31", map[string]any{"ethos": el("housed"), "ilo_status": "employed"})
	assess("A5-6", 5, "T6", "2024-09-01", map[string]any{"ethos": el("EL1")})
	assess("A5-12", 5, "T12", "2026-01-01", map[string]any{"ethos": el("housed")})

	// Employment activities.
	act := func(id string, person int, typ, start, end string, fields map[string]any) {
		fields["person"] = who(pid(person))
		fields["type"] = coding("employment-activity-type", typ)
		fields["start"] = start
		if end != "" {
			fields["end"] = end
		}
		f.record("employment-activity", id, pid(person), fields)
	}
	contract := map[string]any{"contract_type": coding("contract-type", "A.02.00")}
	act("E1", 1, "internship", "2024-03-01", "2024-09-30", map[string]any{})
	act("E2", 1, "contract", "2025-01-10", "2025-12-31", contract)
	act("E3", 6, "internship", "2024-01-05", "2024-07-05", map[string]any{})
	act("E4", 6, "contract", "2025-01-02", "", map[string]any{"contract_type": coding("contract-type", "A.02.00")})
	act("E5", 2, "internship", "2024-05-01", "2024-10-10", map[string]any{})
	return f
}

// want lists a table's non-zero cells as "breakdown/value/measure": count;
// every other cell must be zero.
type want map[string]int64

func checkTable(t *testing.T, tab *Table, w want) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range tab.Cells {
		k := c.Breakdown + "/" + c.Value + "/" + c.Measure
		if seen[k] {
			t.Errorf("%s: cell %s twice", tab.Indicator, k)
		}
		seen[k] = true
		if c.Count != w[k] {
			t.Errorf("%s %s: cell %s = %d, want %d", tab.Indicator, tab.Period, k, c.Count, w[k])
		}
	}
	for k := range w {
		if !seen[k] {
			t.Errorf("%s: no cell %s", tab.Indicator, k)
		}
	}
}

func TestIndicators(t *testing.T) {
	ctx := context.Background()
	s := scenario(t).commit()
	c := catalogue(t)
	asOfQuarter := Options{AsOf: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}

	tests := map[string]struct {
		indicator, period string
		opt               Options
		want              want
	}{
		// H1 (R1), P3 (R3), P5 (R5), H2 (R8), P4 (R9); R2 is H1's second,
		// R4a/b fall outside, R4c and R6 were never requested, R7 has nobody.
		"referral acceptance": {"referral-acceptance", "2025-Q2", Options{}, want{
			"total/all/denominator": 5, "total/all/numerator": 3, // R1, R3 (answered after the quarter), R8
			"sex/F/denominator": 2, "sex/F/numerator": 1, "sex/M/denominator": 2, "sex/M/numerator": 2,
			"sex/unknown/denominator":    1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 2, "age-band/65+/denominator": 1, "age-band/65+/numerator": 1,
			"age-band/18-29/denominator": 1, "age-band/unknown/denominator": 1,
			"household-type/single-parent/denominator": 1, "household-type/single-parent/numerator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/couple-no-children/numerator": 1,
			"household-type/unknown/denominator": 3, "household-type/unknown/numerator": 1,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 2,
			"citizenship-group/eu/denominator": 1, "citizenship-group/eu/numerator": 1,
			"citizenship-group/stateless/denominator": 1, "citizenship-group/unknown/denominator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL6/numerator": 1,
			"ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/EL2/numerator": 1,
			"ethos-at-entry/unknown/denominator": 3, "ethos-at-entry/unknown/numerator": 1,
		}},
		"referral acceptance observed at the quarter end": {"referral-acceptance", "2025-Q2", asOfQuarter, want{
			"total/all/denominator": 5, "total/all/numerator": 2, // R3's answer is not known yet
			"sex/F/denominator": 2, "sex/F/numerator": 1, "sex/M/denominator": 2, "sex/M/numerator": 1,
			"sex/unknown/denominator":    1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 2, "age-band/65+/denominator": 1,
			"age-band/18-29/denominator": 1, "age-band/unknown/denominator": 1,
			"household-type/single-parent/denominator": 1, "household-type/single-parent/numerator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/couple-no-children/numerator": 1,
			"household-type/unknown/denominator":    3,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 2,
			"citizenship-group/eu/denominator": 1, "citizenship-group/stateless/denominator": 1, "citizenship-group/unknown/denominator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL6/numerator": 1, "ethos-at-entry/EL2/denominator": 1,
			"ethos-at-entry/unknown/denominator": 3, "ethos-at-entry/unknown/numerator": 1,
		}},
		"closed loop": {"referral-closed-loop", "2025-Q2", Options{}, want{
			"total/all/denominator": 5, "total/all/numerator": 1, // R1 in 29 days; R8 took 101
			"sex/F/denominator": 2, "sex/F/numerator": 1, "sex/M/denominator": 2, "sex/unknown/denominator": 1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 1, "age-band/65+/denominator": 1,
			"age-band/18-29/denominator": 1, "age-band/unknown/denominator": 1,
			"household-type/single-parent/denominator": 1, "household-type/single-parent/numerator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/unknown/denominator": 3,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 1,
			"citizenship-group/eu/denominator": 1, "citizenship-group/stateless/denominator": 1, "citizenship-group/unknown/denominator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL6/numerator": 1, "ethos-at-entry/EL2/denominator": 1,
			"ethos-at-entry/unknown/denominator": 3,
		}},
		"response time": {"referral-response-time", "2025-Q2", Options{}, want{
			"total/all/le-2d": 1, "total/all/3-7d": 1, "total/all/8-30d": 1, "total/all/none": 2,
			"sex/F/le-2d": 1, "sex/F/none": 1, "sex/M/3-7d": 1, "sex/M/8-30d": 1, "sex/unknown/none": 1,
			"age-band/30-44/le-2d": 1, "age-band/30-44/8-30d": 1, "age-band/65+/3-7d": 1, "age-band/18-29/none": 1, "age-band/unknown/none": 1,
			"household-type/single-parent/le-2d": 1, "household-type/couple-no-children/8-30d": 1,
			"household-type/unknown/3-7d": 1, "household-type/unknown/none": 2,
			"citizenship-group/italian/le-2d": 1, "citizenship-group/italian/8-30d": 1, "citizenship-group/eu/3-7d": 1,
			"citizenship-group/stateless/none": 1, "citizenship-group/unknown/none": 1,
			"ethos-at-entry/EL6/le-2d": 1, "ethos-at-entry/EL2/3-7d": 1, "ethos-at-entry/unknown/8-30d": 1, "ethos-at-entry/unknown/none": 2,
		}},
		// Active in Q2: H1 (PW1, PW2), P3 (PW3), H2 (PW5), P7 (PW7 from the
		// quarter's last day); PW4 ended the day before, PW6 is a draft.
		"caseload": {"caseload", "2025-Q2", Options{}, want{
			"total/all/count": 4,
			"sex/F/count":     2, "sex/M/count": 2,
			"age-band/30-44/count": 2, "age-band/65+/count": 2,
			"household-type/single-parent/count": 1, "household-type/couple-no-children/count": 1, "household-type/unknown/count": 2,
			"citizenship-group/italian/count": 3, "citizenship-group/eu/count": 1,
			"ethos-at-entry/EL6/count": 1, "ethos-at-entry/EL2/count": 1, "ethos-at-entry/unknown/count": 2,
		}},
		"caseload, year": {"caseload", "2025", Options{}, want{
			"total/all/count": 5, // P5's PW4 ran until March
			"sex/F/count":     3, "sex/M/count": 2,
			"age-band/30-44/count": 2, "age-band/65+/count": 2, "age-band/18-29/count": 1,
			"household-type/single-parent/count": 1, "household-type/couple-no-children/count": 1, "household-type/unknown/count": 3,
			"citizenship-group/italian/count": 3, "citizenship-group/eu/count": 1, "citizenship-group/stateless/count": 1,
			"ethos-at-entry/EL6/count": 1, "ethos-at-entry/EL2/count": 1, "ethos-at-entry/unknown/count": 3,
		}},
		// P3 by an assignment active in June, P7 by the pathway's list; PW5's
		// assignment ended in March.
		"volunteer support": {"volunteer-support", "2025-Q2", Options{}, want{
			"total/all/denominator": 4, "total/all/numerator": 2,
			"sex/F/denominator": 2, "sex/F/numerator": 1, "sex/M/denominator": 2, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 2, "age-band/65+/denominator": 2, "age-band/65+/numerator": 2,
			"household-type/single-parent/denominator": 1, "household-type/couple-no-children/denominator": 1,
			"household-type/unknown/denominator": 2, "household-type/unknown/numerator": 2,
			"citizenship-group/italian/denominator": 3, "citizenship-group/italian/numerator": 1,
			"citizenship-group/eu/denominator": 1, "citizenship-group/eu/numerator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/EL2/numerator": 1,
			"ethos-at-entry/unknown/denominator": 2, "ethos-at-entry/unknown/numerator": 1,
		}},
		// H1: PW1 from 10 January, housed 10 May (3-6 months); H2's permanent
		// placement started before its pathway.
		"time to housing": {"time-to-housing", "2025-Q2", Options{}, want{
			"total/all/3-6m": 1, "total/all/not-yet": 3,
			"sex/F/3-6m": 1, "sex/F/not-yet": 1, "sex/M/not-yet": 2,
			"age-band/30-44/3-6m": 1, "age-band/30-44/not-yet": 1, "age-band/65+/not-yet": 2,
			"household-type/single-parent/3-6m": 1, "household-type/couple-no-children/not-yet": 1, "household-type/unknown/not-yet": 2,
			"citizenship-group/italian/3-6m": 1, "citizenship-group/italian/not-yet": 2, "citizenship-group/eu/not-yet": 1,
			"ethos-at-entry/EL6/3-6m": 1, "ethos-at-entry/EL2/not-yet": 1, "ethos-at-entry/unknown/not-yet": 2,
		}},
		// P3 accessed on the quarter's first day, assessed on day 60, signed
		// 30 days later; H2 assessed on day 71. H1 first accessed in 2024.
		"activation timeliness": {"activation-timeliness", "2025-Q2", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 1,
			"sex/M/denominator": 2, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 1, "age-band/65+/denominator": 1, "age-band/65+/numerator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/unknown/denominator": 1, "household-type/unknown/numerator": 1,
			"citizenship-group/italian/denominator": 1, "citizenship-group/eu/denominator": 1, "citizenship-group/eu/numerator": 1,
			"ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/EL2/numerator": 1, "ethos-at-entry/unknown/denominator": 1,
		}},
		// Day 182 in 2025: PL1 (H1, still placed) and PL4 (H2, left to
		// permanent housing; H2's PL2 is its second). PL3 reached day 182 in 2024.
		"retention 6 months": {"housing-retention-6m", "2025", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 2,
			"sex/F/denominator": 1, "sex/F/numerator": 1, "sex/M/denominator": 1, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 2,
			"household-type/single-parent/denominator": 1, "household-type/single-parent/numerator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/couple-no-children/numerator": 1,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 2,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL6/numerator": 1,
			"ethos-at-entry/unknown/denominator": 1, "ethos-at-entry/unknown/numerator": 1,
		}},
		// Day 365 in 2025: PL3 (P3, left for temporary housing) and PL4 (H2).
		"retention 12 months": {"housing-retention-12m", "2025", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 1,
			"sex/M/denominator": 2, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 1, "age-band/30-44/numerator": 1, "age-band/65+/denominator": 1,
			"household-type/couple-no-children/denominator": 1, "household-type/couple-no-children/numerator": 1,
			"household-type/unknown/denominator":    1,
			"citizenship-group/italian/denominator": 1, "citizenship-group/italian/numerator": 1, "citizenship-group/eu/denominator": 1,
			"ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/unknown/denominator": 1, "ethos-at-entry/unknown/numerator": 1,
		}},
		// Follow-up years ending in 2025: P5 (EL1 at a T6 assessment, 7 months
		// after) and P7 (new placement from EL2 one day after the year).
		"returns to homelessness": {"returns-to-homelessness", "2025", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 1,
			"sex/F/denominator": 2, "sex/F/numerator": 1,
			"age-band/18-29/denominator": 1, "age-band/18-29/numerator": 1, "age-band/65+/denominator": 1,
			"household-type/unknown/denominator": 2, "household-type/unknown/numerator": 1,
			"citizenship-group/stateless/denominator": 1, "citizenship-group/stateless/numerator": 1, "citizenship-group/italian/denominator": 1,
			"ethos-at-entry/unknown/denominator": 2, "ethos-at-entry/unknown/numerator": 1,
		}},
		// T12 in 2025: H1 (P1's in February, still EL1), P3 (EL2 → housed), H2
		// (P6's on 31 December, no T0); P5's T12 is on 1 January 2026.
		"ETHOS improvement": {"ethos-improvement", "2025", Options{}, want{
			"total/all/denominator": 3, "total/all/numerator": 1,
			"sex/F/denominator": 1, "sex/M/denominator": 2, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 2, "age-band/65+/denominator": 1, "age-band/65+/numerator": 1,
			"household-type/single-parent/denominator": 1, "household-type/couple-no-children/denominator": 1,
			"household-type/unknown/denominator": 1, "household-type/unknown/numerator": 1,
			"citizenship-group/italian/denominator": 2, "citizenship-group/eu/denominator": 1, "citizenship-group/eu/numerator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/EL2/numerator": 1,
			"ethos-at-entry/unknown/denominator": 1,
		}},
		// Aged 20-64 with an ILO status at T12: P1 (unemployed), P6 (employed); P3 is 65.
		"employment rate": {"employment-rate", "2025", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 1,
			"sex/F/denominator": 1, "sex/M/denominator": 1, "sex/M/numerator": 1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 1,
			"household-type/single-parent/denominator": 1, "household-type/couple-no-children/denominator": 1, "household-type/couple-no-children/numerator": 1,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/unknown/denominator": 1, "ethos-at-entry/unknown/numerator": 1,
		}},
		// Absent at T0: P3 only (P1's network was present).
		"social network gain": {"social-network-gain", "2025", Options{}, want{
			"total/all/denominator": 1, "total/all/numerator": 1,
			"sex/M/denominator": 1, "sex/M/numerator": 1, "age-band/65+/denominator": 1, "age-band/65+/numerator": 1,
			"household-type/unknown/denominator": 1, "household-type/unknown/numerator": 1,
			"citizenship-group/eu/denominator": 1, "citizenship-group/eu/numerator": 1,
			"ethos-at-entry/EL2/denominator": 1, "ethos-at-entry/EL2/numerator": 1,
		}},
		// Day 180 in 2025: P1's internship (H1; P2's is the household's
		// second) with a contract running; P6's, day 180 = 1 January, whose
		// contract started the next day.
		"post-internship employment": {"post-internship-employment", "2025", Options{}, want{
			"total/all/denominator": 2, "total/all/numerator": 1,
			"sex/F/denominator": 1, "sex/F/numerator": 1, "sex/M/denominator": 1,
			"age-band/30-44/denominator": 2, "age-band/30-44/numerator": 1,
			"household-type/single-parent/denominator": 1, "household-type/single-parent/numerator": 1, "household-type/couple-no-children/denominator": 1,
			"citizenship-group/italian/denominator": 2, "citizenship-group/italian/numerator": 1,
			"ethos-at-entry/EL6/denominator": 1, "ethos-at-entry/EL6/numerator": 1, "ethos-at-entry/unknown/denominator": 1,
		}},
		// PW7 1234.56 EUR; PW3 60000 EUR clamped to 50000; PW1's cost is for 2024.
		"cost per pathway": {"cost-per-pathway", "2025", Options{}, want{
			"total/all/sum": 123456 + 5000000, "total/all/denominator": 2,
			"household-type/unknown/sum": 123456 + 5000000, "household-type/unknown/denominator": 2,
			"ethos-at-entry/EL2/sum": 5000000, "ethos-at-entry/EL2/denominator": 1,
			"ethos-at-entry/unknown/sum": 123456, "ethos-at-entry/unknown/denominator": 1,
		}},
	}
	names := make([]string, 0, len(tests))
	for name := range tests {
		names = append(names, name)
	}
	sort.Strings(names)
	covered := map[string]bool{}
	for _, name := range names {
		tc := tests[name]
		covered[tc.indicator] = true
		t.Run(name, func(t *testing.T) {
			tab, err := c.Compute(ctx, s, tc.indicator, period(t, tc.period), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tab.Indicator != tc.indicator || tab.Period != tc.period || tab.Catalogue != "1.0.0" || tab.Version != "1.0.0" {
				t.Errorf("table header %+v", tab)
			}
			checkTable(t, tab, tc.want)
		})
	}
	for _, ind := range c.cat.Indicators {
		if Implemented(ind.ID) && !covered[ind.ID] {
			t.Errorf("indicator %s is implemented but not tested", ind.ID)
		}
	}
}

// Every table's cells are in catalogue order, every breakdown's cells add
// up to the total, the result is the same on every run, and nothing in it
// is a person id.
func TestComputeAllShape(t *testing.T) {
	ctx := context.Background()
	s := scenario(t).commit()
	c := catalogue(t)
	for _, per := range []string{"2025-Q2", "2025"} {
		p := period(t, per)
		first, skipped, err := c.ComputeAll(ctx, s, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(skipped) != 0 {
			t.Errorf("%s: skipped %v", per, skipped)
		}
		again, _, err := c.ComputeAll(ctx, s, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Errorf("%s: two runs differ", per)
		}
		for _, tab := range first {
			ind, _ := c.cat.Indicator(tab.Indicator)
			if !ind.HasPeriodKind(p.Kind) {
				t.Errorf("%s computed for a %s", tab.Indicator, p.Kind)
			}
			totals := map[string]int64{}
			perBreakdown := map[string]map[string]int64{}
			i := 0
			for _, b := range append([]string{Total}, ind.Breakdowns...) {
				values := []string{TotalAll}
				if bd, ok := c.cat.Breakdown(b); ok {
					values = bd.Values
				}
				for _, v := range values {
					for _, m := range ind.Measures() {
						cell := tab.Cells[i]
						if cell.Breakdown != b || cell.Value != v || cell.Measure != m {
							t.Fatalf("%s cell %d is %+v, want %s/%s/%s", tab.Indicator, i, cell, b, v, m)
						}
						if b == Total {
							totals[m] = cell.Count
						} else {
							if perBreakdown[b] == nil {
								perBreakdown[b] = map[string]int64{}
							}
							perBreakdown[b][m] += cell.Count
						}
						i++
					}
				}
			}
			if i != len(tab.Cells) {
				t.Errorf("%s: %d cells, want %d", tab.Indicator, len(tab.Cells), i)
			}
			for b, sums := range perBreakdown {
				if !reflect.DeepEqual(sums, totals) {
					t.Errorf("%s: breakdown %s adds up to %v, total %v", tab.Indicator, b, sums, totals)
				}
			}
			dump := fmt.Sprintf("%+v", tab)
			for n := 1; n <= 9; n++ {
				if strings.Contains(dump, pid(n)) {
					t.Errorf("%s holds a person id", tab.Indicator)
				}
			}
			for _, id := range []string{"NUC-", "PW", "R1", "ANAG"} {
				if strings.Contains(dump, id) {
					t.Errorf("%s holds a record id (%s)", tab.Indicator, id)
				}
			}
		}
	}
}

func TestParsePeriod(t *testing.T) {
	good := map[string]struct {
		kind       string
		start, end string
	}{
		"2025":    {"year", "2025-01-01", "2026-01-01"},
		"2025-Q1": {"quarter", "2025-01-01", "2025-04-01"},
		"2025-Q2": {"quarter", "2025-04-01", "2025-07-01"},
		"2024-q4": {"quarter", "2024-10-01", "2025-01-01"},
	}
	for in, w := range good {
		p, err := ParsePeriod(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if p.Kind != w.kind || p.Start.Format(time.DateOnly) != w.start || p.End.Format(time.DateOnly) != w.end {
			t.Errorf("%s: %+v", in, p)
		}
		if q, _ := ParsePeriod(p.String()); q != p {
			t.Errorf("%s: %q does not read back", in, p.String())
		}
	}
	bad := map[string]string{
		"":        "write a year",
		"25":      "write a year",
		"2025-Q5": "Q1, Q2, Q3 or Q4",
		"2025-05": "Q1, Q2, Q3 or Q4",
		"20x5":    "four digits",
		"2025-Q":  "Q1, Q2, Q3 or Q4",
	}
	for in, msg := range bad {
		if _, err := ParsePeriod(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParsePeriod(%q) = %v, want an error saying %q", in, err, msg)
		}
	}
}

func TestComputeRefuses(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t).commit()
	c := catalogue(t)
	if _, err := c.Compute(ctx, s, "happiness", period(t, "2025"), Options{}); err == nil || !strings.Contains(err.Error(), "not in catalogue") {
		t.Errorf("unknown indicator: %v", err)
	}
	_, err := c.Compute(ctx, s, "employment-rate", period(t, "2025-Q1"), Options{})
	if err == nil || !strings.Contains(err.Error(), "published for [year] periods only") {
		t.Errorf("quarter of a yearly indicator: %v", err)
	}
	tab, err := c.Compute(ctx, s, "caseload", period(t, "2025-Q1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range tab.Cells {
		if cell.Count != 0 {
			t.Errorf("empty store: %+v", cell)
		}
	}
	if len(tab.Cells) != 1+4+6+7+5+8 {
		t.Errorf("empty store: %d cells, want every cell with zeros", len(tab.Cells))
	}
}

// TestIndicatorNotComputed: a catalogue (loaded from elsewhere than the
// build) may name an indicator this version does not compute: Compute says
// so and ComputeAll skips it, naming it, and computes the rest.
func TestIndicatorNotComputed(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t).commit()
	raw, err := os.ReadFile("../../schemas/indicators/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"id": "caseload"`), []byte(`"id": "caseload-by-district"`), 1)
	cat, err := schemas.LoadCatalogue("v1-renamed.json", raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute(ctx, s, "caseload-by-district", period(t, "2025"), Options{}); !errors.Is(err, ErrNotImplemented) {
		t.Errorf("Compute of an unknown indicator: %v, want ErrNotImplemented", err)
	}
	tables, skipped, err := c.ComputeAll(ctx, s, period(t, "2025"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0] != "caseload-by-district" || len(tables) != len(cat.Indicators)-1 {
		t.Errorf("skipped %v and %d tables, want the renamed one skipped and %d tables", skipped, len(tables), len(cat.Indicators)-1)
	}
}

func TestValueIn(t *testing.T) {
	c := catalogue(t)
	b, _ := c.cat.Breakdown("household-type")
	for in, want := range map[string]string{"single-parent": "single-parent", "": "unknown", "commune": "unknown", "unknown": "unknown"} {
		if got := valueIn(b, in); got != want {
			t.Errorf("valueIn(%q) = %q, want %q", in, got, want)
		}
	}
	for age, want := range map[int]string{-1: "unknown", 0: "0-17", 17: "0-17", 18: "18-29", 29: "18-29", 30: "30-44", 44: "30-44", 45: "45-64", 64: "45-64", 65: "65+"} {
		if got := ageBand(age); got != want {
			t.Errorf("ageBand(%d) = %q, want %q", age, got, want)
		}
	}
}

// A body the store holds but that does not decode fails the computation
// with an error that names neither the record nor its content.
func TestComputeBadBody(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.check = false
	f.record("pathway", "PW-SECRET", pid(1), map[string]any{"started_on": "RSSMRA85T10A562S", "status": "active"})
	s := f.commit()
	_, err := catalogue(t).Compute(ctx, s, "caseload", period(t, "2025"), Options{})
	if err == nil {
		t.Fatal("a malformed body was accepted")
	}
	for _, secret := range []string{"PW-SECRET", "RSSMRA85T10A562S", pid(1)} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %s", err, secret)
		}
	}
}
