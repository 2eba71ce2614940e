package sds_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/examples/sources/sds"
)

var pop = population.Generate(7, 150)

func newSystem(t *testing.T) *sds.System {
	t.Helper()
	s, err := sds.New(sds.Options{Population: pop, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readExport parses an export file (Latin-1 → UTF-8).
func readExport(t *testing.T, s *sds.System, name string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.ExportDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, c := range data {
		sb.WriteRune(rune(c))
	}
	r := csv.NewReader(strings.NewReader(sb.String()))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func col(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

func TestFirstNightHoldsEveryone(t *testing.T) {
	s := newSystem(t)
	night, err := s.WriteNight()
	if err != nil {
		t.Fatal(err)
	}
	if !night.Equal(population.AsOf()) {
		t.Fatalf("first night %v, want AsOf", night)
	}
	ass := readExport(t, s, sds.FileName("assistiti", night))
	want := 0
	for _, p := range pop.People() {
		if p.In(population.SDS) {
			want++
		}
	}
	if len(ass)-1 != want {
		t.Fatalf("%d assistiti, want %d", len(ass)-1, want)
	}
	if strings.Join(ass[0], ";") != strings.Join(sds.HeaderAssistiti, ";") {
		t.Fatalf("header %v", ass[0])
	}
	for _, kind := range sds.Kinds {
		if _, err := os.Stat(filepath.Join(s.ExportDir(), sds.FileName(kind, night))); err != nil {
			t.Errorf("missing %s: %v", kind, err)
		}
	}
	acc := readExport(t, s, sds.FileName("accessi_pua", night))
	if len(acc) < want {
		t.Fatalf("%d accesses for %d people", len(acc)-1, want)
	}
	// The next night is empty but written.
	next, err := s.WriteNight()
	if err != nil {
		t.Fatal(err)
	}
	if rows := readExport(t, s, sds.FileName("accessi_pua", next)); len(rows) != 1 {
		t.Fatalf("second night has %d access rows, want none", len(rows)-1)
	}
	entries, _ := os.ReadDir(s.ExportDir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := newSystem(t), newSystem(t)
	for _, s := range []*sds.System{a, b} {
		if _, err := s.WriteNight(); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range sds.Kinds {
		name := sds.FileName(kind, population.AsOf())
		x, _ := os.ReadFile(filepath.Join(a.ExportDir(), name))
		y, _ := os.ReadFile(filepath.Join(b.ExportDir(), name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two systems of the same seed", name)
		}
	}
}

func someCF(t *testing.T) string {
	for _, p := range pop.People() {
		if p.In(population.SDS) && p.CF != "" && !p.TypoIn(population.SDS) {
			if kind, code := p.IDIn(population.SDS); kind == population.KindCF {
				return code
			}
		}
	}
	t.Fatal("no person with a CF in the SDS")
	return ""
}

func drop(t *testing.T, s *sds.System, name string, header []string, row []string) {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Comma = ';'
	_ = w.Write(header)
	_ = w.Write(row)
	w.Flush()
	if err := os.WriteFile(filepath.Join(s.InboxDir(), name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInboxReferralLoop(t *testing.T) {
	s := newSystem(t)
	if _, err := s.WriteNight(); err != nil {
		t.Fatal(err)
	}
	row := []string{"k1", "comune", "SEG-1", sds.OrgComune, sds.OrgID, someCF(t), "", "", "", "social-connection", "", "urgente", "01/07/2025 10:00:00"}
	drop(t, s, "segnalazione_k1.csv", sds.HeaderInboxSegnalazione, row)
	if taken, refused, err := s.ProcessInbox(); err != nil || taken != 1 || refused != 0 {
		t.Fatalf("ProcessInbox = %d, %d, %v; refusals %v", taken, refused, err, s.Refusals())
	}
	seg, ok := s.ReferralByExternal("comune", "SEG-1")
	if !ok || seg.Stato != sds.Ricevuta || seg.Protocollo != "IN-k1" || seg.IDAssistito == "" {
		t.Fatalf("received referral %+v", seg)
	}
	// The same document again, under the same key or another, changes nothing.
	drop(t, s, "segnalazione_k1.csv", sds.HeaderInboxSegnalazione, row)
	row2 := append([]string{"k2"}, row[1:]...)
	drop(t, s, "segnalazione_k2.csv", sds.HeaderInboxSegnalazione, row2)
	if _, _, err := s.ProcessInbox(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Referrals()); n != countSent(s)+1 {
		t.Fatalf("%d referrals after repeats", n)
	}
	if err := s.Accept(seg.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(seg.ID); err == nil {
		t.Fatal("Complete from accolta succeeded")
	}
	// The requester cancels.
	drop(t, s, "stato_k3.csv", sds.HeaderInboxStato, []string{"k3", "", "comune", "SEG-1", "annullata", "bisogno_risolto", "02/07/2025 09:00:00", sds.OrgComune})
	if taken, refused, err := s.ProcessInbox(); err != nil || taken != 1 || refused != 0 {
		t.Fatalf("ProcessInbox = %d, %d, %v; refusals %v", taken, refused, err, s.Refusals())
	}
	night, err := s.WriteNight()
	if err != nil {
		t.Fatal(err)
	}
	rows := readExport(t, s, sds.FileName("stati_segnalazioni", night))
	h := rows[0]
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[col(h, "stato")]+"/"+r[col(h, "origine")]+"/"+r[col(h, "fonte_esterna")]+"/"+r[col(h, "id_esterno")])
	}
	want := "ricevuta/esterna/comune/SEG-1 accolta/interna/comune/SEG-1 annullata/esterna/comune/SEG-1"
	if strings.Join(got, " ") != want {
		t.Fatalf("status rows %q, want %q", strings.Join(got, " "), want)
	}
	// A status on a closed referral is refused.
	drop(t, s, "stato_k4.csv", sds.HeaderInboxStato, []string{"k4", "", "comune", "SEG-1", "annullata", "altro", "", sds.OrgComune})
	if _, refused, _ := s.ProcessInbox(); refused != 1 {
		t.Fatalf("status on a closed referral not refused")
	}
	for _, r := range s.Refusals() {
		if strings.Contains(r, row[5]) {
			t.Fatalf("a refusal names the person's code")
		}
	}
}

func countSent(s *sds.System) int {
	n := 0
	for _, r := range s.Referrals() {
		if r.Direzione == sds.Inviata {
			n++
		}
	}
	return n
}

func TestSendAndCancel(t *testing.T) {
	s := newSystem(t)
	if _, err := s.WriteNight(); err != nil {
		t.Fatal(err)
	}
	idx := -1
	for _, p := range pop.People() {
		if p.In(population.SDS) {
			idx = p.Index
			break
		}
	}
	id, err := s.SendReferral(idx, sds.OrgCPI, "employment-status", "ordinaria")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(id); err == nil {
		t.Fatal("the SDS accepted its own referral")
	}
	if err := s.Cancel(id, "person-declined"); err == nil {
		t.Fatal("Cancel took a motivo that is not Italian")
	}
	// The CPI accepts, through the inbox.
	drop(t, s, "stato_x.csv", sds.HeaderInboxStato, []string{"x", id, "", "", "accolta", "", "", sds.OrgCPI})
	if _, refused, err := s.ProcessInbox(); err != nil || refused != 0 {
		t.Fatalf("refused %d: %v %v", refused, err, s.Refusals())
	}
	if err := s.Cancel(id, "rifiuto_persona"); err != nil {
		t.Fatal(err)
	}
	night, err := s.WriteNight()
	if err != nil {
		t.Fatal(err)
	}
	acc := readExport(t, s, sds.FileName("accessi_pua", night))
	if len(acc) != 2 || acc[1][col(acc[0], "id_segnalazione")] != id {
		t.Fatalf("access rows %v", acc)
	}
	st := readExport(t, s, sds.FileName("stati_segnalazioni", night))
	if len(st) != 3 || st[1][col(st[0], "origine")] != sds.Esterna || st[2][col(st[0], "stato")] != sds.Annullata {
		t.Fatalf("status rows %v", st)
	}
}

func TestOutage(t *testing.T) {
	s := newSystem(t)
	if err := s.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.InboxDir()); err == nil {
		t.Fatal("inbox still there during the outage")
	}
	if _, err := s.WriteNight(); !errors.Is(err, sds.ErrOutage) {
		t.Fatalf("WriteNight during outage: %v", err)
	}
	if _, _, err := s.ProcessInbox(); !errors.Is(err, sds.ErrOutage) {
		t.Fatalf("ProcessInbox during outage: %v", err)
	}
	if err := s.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteNight(); err != nil {
		t.Fatal(err)
	}
}

func TestLatin1(t *testing.T) {
	s := newSystem(t)
	if _, err := s.WriteNight(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(s.ExportDir(), sds.FileName("assistiti", population.AsOf())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("\r\n")) {
		t.Error("no CRLF line ends")
	}
	for _, c := range data {
		if c >= 0x80 && c < 0xA0 {
			t.Fatalf("byte %#x is not Latin-1 text", c)
		}
	}
}
