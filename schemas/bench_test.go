package schemas_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/snodo-hub/snodo/schemas"
)

// referral1KB is a realistic referral of about 1 KB: a municipal social
// worker refers a household leaving reception to the employment centre.
const referral1KB = `{
  "schema": "https://snodo-hub.github.io/schemas/referral/1.0.0",
  "record_id": "REF-2025-000481",
  "source": "comune-firenze",
  "territory": "SDS-FI-NORDOVEST",
  "recorded_at": "2025-03-04T10:15:22+01:00",
  "consent_ref": {"record_id": "CONS-2025-000233"},
  "requester": {"record_id": "ORG-COMUNE-FI-SS"},
  "owner": {"record_id": "ORG-CPI-FI-NORD", "source": "cpi-toscana"},
  "person": {"identifiers": {"cf": "RSSMRA85T10A562S", "cf-provisional": "80615234079"}},
  "household": {"record_id": "NUC-2024-01193"},
  "authored_on": "2025-03-04T09:58:00+01:00",
  "priority": "urgent",
  "category": {"system": "https://snodo-hub.github.io/codes/referral-category", "code": "employment-status", "display": "Employment status"},
  "requested_service": {"record_id": "SRV-CPI-ORIENTAMENTO", "source": "cpi-toscana"},
  "service_type": {"system": "https://snodo-hub.github.io/codes/service-type", "code": "employment-support"},
  "status": {"code": "requested", "changed_at": "2025-03-04T10:15:00+01:00"},
  "assessment": {"record_id": "VAL-2025-00077"},
  "pathway": {"record_id": "PAIS-2024-00412"},
  "extensions": {"comune_firenze": {"sportello": "Q4", "protocollo": "2025/0031187"}}
}`

// BenchmarkValidateReferral measures decoding and validating a realistic
// 1 KB referral, the costliest stage of ingest.
func BenchmarkValidateReferral(b *testing.B) {
	reg := compile(b)
	s, _ := reg.Lookup("referral")
	raw := []byte(referral1KB)
	doc, err := schemas.Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	if vs := s.Validate(doc); len(vs) > 0 {
		b.Fatalf("benchmark document invalid: %v", vs)
	}
	decodeValidate := func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			doc, err := schemas.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			if vs := s.Validate(doc); vs != nil {
				b.Fatal(vs)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	}
	b.Run("decode+validate", decodeValidate)
	// The snodo binary runs with GOGC=400 unless told otherwise (see
	// cmd/snodo/main.go): garbage collection is a large share of this work.
	b.Run("decode+validate/gogc=400", func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
		decodeValidate(b)
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := schemas.Decode(raw); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if vs := s.Validate(doc); vs != nil {
				b.Fatal(vs)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

// BenchmarkValidateEntity validates each entity's first valid fixture.
func BenchmarkValidateEntity(b *testing.B) {
	reg := compile(b)
	for _, s := range reg.Schemas() {
		files, _ := filepath.Glob(filepath.Join("testdata", s.Name, "valid", "*.json"))
		if len(files) == 0 {
			continue
		}
		raw, err := os.ReadFile(files[0])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.Name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				doc, err := schemas.Decode(raw)
				if err != nil {
					b.Fatal(err)
				}
				if vs := s.Validate(doc); vs != nil {
					b.Fatal(fmt.Sprint(vs))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// person1KB is a person record like those of the ingest benchmark
// (hub/pipeline): every person field and source codes under extensions.
const person1KB = `{"schema":"https://snodo-hub.github.io/schemas/person/1.0.0","record_id":"ANAG-0000001","source":"anagrafe","territory":"SDS-TEST","recorded_at":"2025-03-14T10:22:00+01:00","person":{"identifiers":{"cf":"ELAMHD88M12Z330K"}},"birth_year":1988,"sex":"M","citizenship":"Z330","residence_comune":"048017","languages":["it","fr","ar"],"permit":{"status":"valid","reason":{"system":"https://snodo-hub.github.io/codes/permit-reason","code":"work"},"expiry_month":"2027-09"},"reception_exit":{"system":"SAI","date":"2024-03-31"},"household":{"record_id":"NUC-0000001"},"extensions":{"servizi_attivi":"SRV-001-0001,SRV-002-0002,SRV-003-0003,SRV-004-0004,SRV-005-0005,SRV-006-0006,SRV-007-0007,SRV-008-0008,SRV-009-0009,SRV-010-0010,SRV-011-0011,SRV-012-0012","prese_in_carico":"PIC-2025-000001,PIC-2025-000002,PIC-2025-000003,PIC-2025-000004,PIC-2025-000005,PIC-2025-000006,PIC-2025-000007,PIC-2025-000008","sportello":"SPORTELLO-SOCIALE-NORD-OVEST-01","operatore_riferimento":"OP-00001","progetto":"FAMI-PROG-2024-CASA-LAVORO-AUTONOMIA-001"}}`

// BenchmarkValidatePerson validates a person record whose rules do not
// apply (a foreign citizen: the fast variant alone), one whose rule does
// (an Italian: the fast variant and the rule's "then"), and an invalid one
// (the fast variant, then the full schema for the violations).
func BenchmarkValidatePerson(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	reg := compile(b)
	s, _ := reg.Lookup("person")
	for _, c := range []struct {
		name  string
		edit  func(m map[string]any)
		valid bool
	}{
		{"foreign", func(map[string]any) {}, true},
		{"italian", func(m map[string]any) { m["citizenship"] = "IT"; delete(m, "permit") }, true},
		{"invalid", func(m map[string]any) { m["citizenship"] = "IT" }, false},
	} {
		doc, err := schemas.Decode([]byte(person1KB))
		if err != nil {
			b.Fatal(err)
		}
		c.edit(doc.(map[string]any))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if vs := s.Validate(doc); (vs == nil) != c.valid {
					b.Fatal(vs)
				}
			}
		})
	}
}
