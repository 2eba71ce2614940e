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
