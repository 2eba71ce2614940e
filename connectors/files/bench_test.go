package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

const benchRows = 20000

// BenchmarkReadCSV reads a Latin-1 CSV of people through the example
// mapping's person file mapping (identifiers, dates, code tables, lists).
func BenchmarkReadCSV(b *testing.B) {
	dir := b.TempDir()
	var sb strings.Builder
	sb.WriteString("id_anagrafica;codice_fiscale;cognome;nome;data_nascita;sesso;cittadinanza;comune_residenza;lingue;permesso_stato;permesso_motivo;permesso_scadenza;uscita_accoglienza;data_uscita;id_nucleo;note;ultima_modifica\r\n")
	for i := range benchRows {
		fmt.Fprintf(&sb, "ANAG-%06d;LMRYSF88M12Z330W;El Amrani;Youssef;12/08/1988;M;Marocco;048043;ar, fr, it;valido;protezione sussidiaria;30/09/2026;SAI;31/03/2024;NUC-%06d;Uscito dal SAI, cerca casa;14/03/2025 10:22\r\n", i, i/3)
	}
	writeFile(b, dir, "exports/persone_bench.csv", sb.String())
	benchRead(b, dir, benchRows)
}

// BenchmarkReadXLSX reads a workbook of volunteers.
func BenchmarkReadXLSX(b *testing.B) {
	dir := b.TempDir()
	rows := volunteers(1, benchRows/4)
	if err := os.MkdirAll(filepath.Join(dir, "exports"), 0o755); err != nil {
		b.Fatal(err)
	}
	writeXLSX(b, filepath.Join(dir, "exports", "v_bench.xlsx"), rows)
	benchRead(b, dir, len(rows))
}

func benchRead(b *testing.B, dir string, want int) {
	b.Helper()
	mapping := strings.Replace(testMapping, "version: 1\nfiles:\n", "", 1)
	example, err := os.ReadFile("mapping.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, dir, "mapping.yaml", string(example)+mapping)
	c := &Connector{Log: slog.New(slog.DiscardHandler)}
	s := settingsFor(b, dir, nil)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = 0
		err := c.Read(context.Background(), sdk.ReadRequest{Settings: s}, func(bt sdk.Batch) error {
			n += len(bt.Records)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != want {
		b.Fatalf("read %d records, want %d", n, want)
	}
	b.ReportMetric(float64(want)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
