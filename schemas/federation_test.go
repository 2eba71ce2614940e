package schemas

import (
	"strings"
	"testing"
)

func TestEnvelopeSchemaCompiles(t *testing.T) {
	t.Parallel()
	es, err := CompileEnvelope()
	if err != nil {
		t.Fatal(err)
	}
	if es.ID() != EnvelopeSchemaID {
		t.Errorf("ID = %s", es.ID())
	}
	// The entity registry does not pick the federation schemas up.
	reg, err := Compile(WithFormat("codice-fiscale", func(any) error { return nil }), WithFormat("cf-provisional", func(any) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range reg.Schemas() {
		if strings.Contains(s.ID, "federation") {
			t.Errorf("the entity registry holds %s", s.ID)
		}
	}
}

func TestEnvelopeSchemaViolations(t *testing.T) {
	t.Parallel()
	es, err := CompileEnvelope()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Decode([]byte(`{"schema":"` + EnvelopeSchemaID + `","territory":"SDS-FI","catalogue_version":"1.0.0",
	"epoch":"2025-Q2","epoch_kind":"quarterly","reporting_year":2025,"revision":0,"created_at":"2025-07-31T10:00:00Z",
	"software_version":"dev","disclosure":{"mode":"noise","rho_year_cap":"1","rho_annual":"3/4","rho_quarterly":"1/16",
	"threshold":3,"display_below":10,"min_rate_denominator":20,"rounding_base":5},
	"noise":{"mechanism":"discrete-gaussian","sigma2":"8","rho":"1/16","tables":1},
	"budget":{"year":2025,"rho_spent":"1/16","rho_cumulative":"1/16","rho_cap":"1"},
	"cells":[{"indicator":"caseload","version":"1","breakdown":{},"measure":"households","value":41},
	         {"indicator":"caseload","version":"1","breakdown":{"sex":"F"},"measure":"households","suppressed":true}],
	"signature":{"algorithm":"Ed25519","key_id":"ed25519:` + strings.Repeat("ab", 32) + `","value":"` + strings.Repeat("A", 86) + `=="}}`))
	if err != nil {
		t.Fatal(err)
	}
	if vs := es.Validate(doc); vs != nil {
		t.Fatalf("valid envelope refused: %v", vs)
	}
	m := doc.(map[string]any)
	cell := m["cells"].([]any)[1].(map[string]any)
	cell["value"] = int64(3) // both a value and suppressed
	m["note"] = "free text"
	vs := es.Validate(doc)
	var ptrs []string
	for _, v := range vs {
		ptrs = append(ptrs, v.Pointer)
	}
	got := strings.Join(ptrs, " ")
	for _, want := range []string{"/cells/1", "/note"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations %v do not point at %s", vs, want)
		}
	}
}
