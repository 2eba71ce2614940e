package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// BenchmarkRecordsPage measures GET /api/v1/records with 100 records of
// about 1 KB a page, through a real HTTP server: authentication, the read,
// the audit entry (a write transaction) and the JSON answer.
func BenchmarkRecordsPage(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(b.TempDir(), "snodo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := tokens.Create(ctx, s, "bench", "bench", tokens.Operator)
	if err != nil {
		b.Fatal(err)
	}
	pad := make([]byte, 900)
	for i := range pad {
		pad[i] = 'x'
	}
	err = s.Write(ctx, func(tx *store.Tx) error {
		for i := range 1000 {
			body := fmt.Sprintf(`{"record_id":"r%d","person":{"person_id":%q},"note":%q}`, i, anna, pad)
			if _, err := tx.UpsertRecord(ctx, store.Record{Schema: "referral", SchemaID: "x", Source: "odv", RecordID: fmt.Sprint(i),
				Territory: "ATS-01", RecordedAt: since.Add(time.Duration(i) * time.Minute), Body: []byte(body), PersonID: anna}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, path := range []string{"/api/v1/records?schema=referral&limit=100", "/api/v1/persons/" + anna + "/timeline?limit=100"} {
		b.Run(path[8:15], func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
