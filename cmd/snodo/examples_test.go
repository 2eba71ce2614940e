package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVolunteerRegistryExample reads examples/volunteers — a partner's
// registry exported as Latin-1 CSV — with the file connector as a real
// process and the example's own settings and mapping, as the README tells
// an admin to: every volunteer is stored, nothing is quarantined, and the
// names and phone numbers of the registry are nowhere in the database.
func TestVolunteerRegistryExample(t *testing.T) {
	t.Parallel()
	const example = "../../examples/volunteers"
	export, err := os.ReadFile(filepath.Join(example, "albo", "albo_volontari_2025-06.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mapping, err := os.ReadFile(filepath.Join(example, "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := os.ReadFile(filepath.Join(example, "settings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, connDir := filesHub(t, string(mapping), map[string]string{"albo_volontari_2025-06.csv": string(export)})
	// The example's settings as they are (territory SDS-FI-NORDOVEST,
	// folder albo): the hub takes its territory.
	if err := os.WriteFile(filepath.Join(connDir, "settings.yaml"), settings, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(connDir, "exports"), filepath.Join(connDir, "albo")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("code: SDS-TEST"), []byte("code: SDS-FI-NORDOVEST"), 1)
	b = bytes.Replace(b, []byte("- name: anagrafe"), []byte("- name: volontariato"), 1)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// The registry's rows, and the personal data it holds (Latin-1 → UTF-8).
	var utf8 strings.Builder
	for _, c := range export {
		utf8.WriteRune(rune(c))
	}
	lines := strings.Split(strings.TrimSpace(utf8.String()), "\r\n")
	header := strings.Split(lines[0], ";")
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %q in the example", name)
		return -1
	}
	var personal []string
	for _, line := range lines[1:] {
		cells := strings.Split(line, ";")
		personal = append(personal, cells[col("Cognome")]+";"+cells[col("Nome")], cells[col("Telefono")])
	}
	rows := len(lines) - 1

	runs := ingestJSON(t, 0, "--config", cfg)
	if diff := cmp.Diff([]runCounts{{"ok", int64(rows), int64(rows), 0, 0}}, counts(runs)); diff != "" {
		t.Fatalf("ingest (-want +got):\n%s", diff)
	}
	st := statusJSON(t, cfg)
	if st.Records["volunteer"] != int64(rows) || st.Quarantine != 0 {
		t.Errorf("status: %d volunteers, %d quarantined; want %d and 0", st.Records["volunteer"], st.Quarantine, rows)
	}

	// The first row as stored: pseudonym, organisation, skills and days
	// translated, the comune pathway it supports.
	db := filepath.Join(filepath.Dir(cfg), "snodo.db")
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var body []byte
	if err := conn.QueryRow(`SELECT body FROM records WHERE source = 'volontariato' AND record_id = 'VOL-1001'`).Scan(&body); err != nil {
		t.Fatalf("VOL-1001: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	first := strings.Split(lines[1], ";")
	want := map[string]any{
		"schema": "https://snodo-hub.github.io/schemas/volunteer/1.0.0", "record_id": "VOL-1001", "source": "volontariato",
		"territory": "SDS-FI-NORDOVEST", "recorded_at": got["recorded_at"],
		"pseudonym": "ALBO-1001", "organisation": map[string]any{"record_id": "caritas-firenze"}, "active": true,
		"skills": []any{map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "transport"},
			map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "other"}},
		"languages":    []any{"it", "en", "ro"},
		"availability": map[string]any{"hours_per_week": 8.0, "days": []any{"fri"}},
		"assignments": []any{map[string]any{"pathway": map[string]any{"source": "comune", "record_id": first[col("Progetto")]},
			"start": "2024-10-09"}},
		"total_hours": 313.0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VOL-1001 (-want +got):\n%s", diff)
	}

	data, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	all := append(data, wal...)
	for _, p := range personal {
		for _, part := range strings.Split(p, ";") {
			if len(part) > 4 && bytes.Contains(all, []byte(part)) && !strings.Contains(string(mapping), part) {
				t.Errorf("the database holds %q from the registry", part)
			}
		}
	}
}
