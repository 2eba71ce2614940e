package disclosure

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	clock := time.Date(2025, 7, 31, 10, 0, 0, 0, time.UTC)
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "snodo.db"),
		store.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newLedger(t *testing.T, st *store.Store, set Settings, seed byte) *Ledger {
	t.Helper()
	l, err := NewLedger(st, set)
	if err != nil {
		t.Fatal(err)
	}
	l.sampler = seeded(seed)
	return l
}

// noDrawReader fails every read: a ledger with it cannot draw noise.
type noDrawReader struct{}

func (noDrawReader) Read([]byte) (int, error) { return 0, errors.New("noise was drawn again") }

func caseload(total, f, m, x int64) []Cell {
	return []Cell{
		{Indicator: "caseload", Version: "1", Measure: "households", Count: total},
		{Indicator: "caseload", Version: "1", Breakdown: map[string]string{"sex": "F"}, Measure: "households", Count: f},
		{Indicator: "caseload", Version: "1", Breakdown: map[string]string{"sex": "M"}, Measure: "households", Count: m},
		{Indicator: "caseload", Version: "1", Breakdown: map[string]string{"sex": "X"}, Measure: "households", Count: x},
	}
}

func cellsByKey(r *Release) map[string]PublishedCell {
	out := map[string]PublishedCell{}
	for _, c := range r.Cells {
		out[breakdownJSON(c.Breakdown)] = c
	}
	return out
}

func TestReleaseNoise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	l := newLedger(t, st, DefaultSettings(), 1)

	r, err := l.Release(ctx, Request{Epoch: "2025-Q2", CatalogueVersion: "1.0.0", Cells: caseload(140, 80, 58, 2)})
	if err != nil {
		t.Fatal(err)
	}
	// Two tables (total, by sex) share ρ = 1/16, the total 7/8 of it:
	// σ² = 1/(2·7/128) = 64/7 for the total, 1/(2·1/128) = 64 by sex.
	if r.Tables != 2 || r.Mechanism != "discrete-gaussian" || r.Noise == nil || r.Noise.Headline == nil ||
		r.Noise.Headline.Tables != 1 || r.Noise.Headline.Sigma2.Cmp(big.NewRat(64, 7)) != 0 || r.Noise.Sigma2.Cmp(big.NewRat(64, 1)) != 0 {
		t.Errorf("tables %d, mechanism %s, noise %+v; want 2 tables, discrete-gaussian, σ² 64/7 for the total and 64 by sex", r.Tables, r.Mechanism, r.Noise)
	}
	if r.Noise.Rho().Cmp(r.Rho) != 0 {
		t.Errorf("the plan spends ρ = %v, the ledger %v", r.Noise.Rho(), r.Rho)
	}
	if r.Rho.Cmp(big.NewRat(1, 16)) != 0 || r.RhoCumulative.Cmp(big.NewRat(1, 16)) != 0 || r.RhoCap.Cmp(big.NewRat(1, 1)) != 0 {
		t.Errorf("ρ %v, cumulative %v, cap %v", r.Rho, r.RhoCumulative, r.RhoCap)
	}
	if r.Epoch != (Epoch{Name: "2025-Q2", Kind: "quarterly", Year: 2025, Quarter: 2}) || r.Revision != 0 {
		t.Errorf("epoch %+v revision %d", r.Epoch, r.Revision)
	}
	cells := cellsByKey(r)
	if !cells[`{"sex":"X"}`].Suppressed || cells[`{"sex":"X"}`].Value != 0 {
		t.Errorf("a true count of 2 was not suppressed: %+v", cells[`{"sex":"X"}`])
	}
	for k, c := range cells {
		if k != `{"sex":"X"}` && c.Suppressed {
			t.Errorf("cell %s suppressed", k)
		}
	}
	// With σ = 4, noise beyond 40 has probability < 1e-20.
	if v := cells["{}"].Value; v < 100 || v > 180 {
		t.Errorf("total %d is not near 140", v)
	}

	// Asking again returns the stored values, identical, without drawing:
	// the sampler now fails, and the cells given are ignored.
	l.sampler = NewSampler(noDrawReader{})
	again, err := l.Release(ctx, Request{Epoch: "2025-Q2", CatalogueVersion: "1.0.0", Cells: caseload(1, 1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, again) {
		t.Errorf("second request differs:\n%+v\n%+v", r, again)
	}
	found, ok, err := l.Find(ctx, "2025-Q2", 0)
	if err != nil || !ok || !reflect.DeepEqual(r, found) {
		t.Errorf("Find: %v %v", ok, err)
	}
	b, err := l.Budget(ctx, 2025)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Entries) != 1 || b.Spent.Cmp(big.NewRat(1, 16)) != 0 || b.Left.Cmp(big.NewRat(15, 16)) != 0 {
		t.Errorf("budget after a repeated request: %+v", b)
	}
}

func TestReleaseBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	l := newLedger(t, st, DefaultSettings(), 2)
	rel := func(epoch string, rev int) (*Release, error) {
		return l.Release(ctx, Request{Epoch: epoch, Revision: rev, CatalogueVersion: "1.0.0", Cells: caseload(140, 80, 58, 2)})
	}
	for _, e := range []string{"2025-Q1", "2025-Q2", "2025-Q3", "2025"} {
		if _, err := rel(e, 0); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
	}
	// 3/16 + 3/4 spent; a revision of the annual release asks 3/4 more.
	_, err := rel("2025", 1)
	var oe *OverspendError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOverspend) {
		t.Fatalf("overspend: got %v", err)
	}
	for _, want := range []string{"2025 revision 1", "needs ρ = 3/4 (0.75)", "only ρ = 1/16 (0.0625) left", "cap 1", "spent 15/16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if oe.Left().Cmp(big.NewRat(1, 16)) != 0 {
		t.Errorf("Left() = %v", oe.Left())
	}
	if _, found, _ := l.Find(ctx, "2025", 1); found {
		t.Error("a refused release was stored")
	}
	// The last quarter fits exactly.
	q4, err := rel("2025-Q4", 0)
	if err != nil {
		t.Fatal(err)
	}
	if q4.RhoCumulative.Cmp(big.NewRat(1, 1)) != 0 {
		t.Errorf("cumulative after the year = %v, want 1", q4.RhoCumulative)
	}
	// Another year has its own budget.
	if _, err := rel("2026-Q1", 0); err != nil {
		t.Fatal(err)
	}
	b, _ := l.Budget(ctx, 2025)
	if b.Spent.Cmp(big.NewRat(1, 1)) != 0 || b.Left.Sign() != 0 || len(b.Entries) != 5 {
		t.Errorf("2025 budget: spent %v left %v entries %d", b.Spent, b.Left, len(b.Entries))
	}
}

func TestReleaseRevisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLedger(t, openStore(t), DefaultSettings(), 3)
	rel := func(rev int) (*Release, error) {
		return l.Release(ctx, Request{Epoch: "2025-Q1", Revision: rev, CatalogueVersion: "1.0.0", Cells: caseload(140, 80, 58, 2)})
	}
	if _, err := rel(1); err == nil || !strings.Contains(err.Error(), "first release is revision 0") {
		t.Errorf("first release at revision 1: %v", err)
	}
	r0, err := rel(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rel(2); err == nil || !strings.Contains(err.Error(), "the next revision is 1") {
		t.Errorf("skipped revision: %v", err)
	}
	r1, err := rel(1)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Revision != 1 || r1.ID == r0.ID || r1.RhoCumulative.Cmp(big.NewRat(1, 8)) != 0 {
		t.Errorf("revision 1: %+v", r1)
	}
	if _, err := rel(-1); err == nil {
		t.Error("negative revision accepted")
	}
}

func TestReleaseRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLedger(t, openStore(t), DefaultSettings(), 4)
	for name, req := range map[string]Request{
		"bad epoch":       {Epoch: "2025-Q5", CatalogueVersion: "1", Cells: caseload(10, 5, 5, 0)},
		"no catalogue":    {Epoch: "2025", Cells: caseload(10, 5, 5, 0)},
		"no cells":        {Epoch: "2025", CatalogueVersion: "1"},
		"free text":       {Epoch: "2025", CatalogueVersion: "1", Cells: []Cell{{Indicator: "caseload", Version: "1", Measure: "x", Breakdown: map[string]string{"note": "Mario Rossi"}}}},
		"negative count":  {Epoch: "2025", CatalogueVersion: "1", Cells: []Cell{{Indicator: "caseload", Version: "1", Measure: "x", Count: -1}}},
		"duplicate cells": {Epoch: "2025", CatalogueVersion: "1", Cells: append(caseload(10, 5, 5, 0), caseload(10, 5, 5, 0)[1])},
	} {
		_, err := l.Release(ctx, req)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "Rossi") {
			t.Errorf("%s: the error repeats the cell's text: %v", name, err)
		}
	}
	if b, _ := l.Budget(ctx, 2025); len(b.Entries) != 0 {
		t.Errorf("refused requests spent budget: %+v", b.Entries)
	}
}

// Two processes asking for the same epoch at once get the same release,
// and the budget is spent once.
func TestReleaseConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	const n = 4
	out := make([]*Release, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		l, err := NewLedger(st, DefaultSettings()) // crypto/rand
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			out[i], errs[i] = l.Release(ctx, Request{Epoch: "2025", CatalogueVersion: "1.0.0", Cells: caseload(140, 80, 58, 2)})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !reflect.DeepEqual(out[0], out[i]) {
			t.Errorf("request %d got another release", i)
		}
	}
	b, _ := newLedger(t, st, DefaultSettings(), 0).Budget(ctx, 2025)
	if len(b.Entries) != 1 || b.Spent.Cmp(big.NewRat(3, 4)) != 0 {
		t.Errorf("budget: %+v", b)
	}
}

func TestSettingsJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []Settings{DefaultSettings(), DefaultRoundingSettings()} {
		b, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Settings
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s, back) {
			t.Errorf("round trip: %+v → %s → %+v", s, b, back)
		}
	}
	b, _ := DefaultSettings().MarshalJSON()
	want := `{"display_below":10,"headline_share":"7/8","min_rate_denominator":20,"mode":"noise","rho_annual":"3/4","rho_quarterly":"1/16","rho_year_cap":"1","rounding_base":5,"threshold":3}`
	if string(b) != want {
		t.Errorf("settings JSON\n got %s\nwant %s", b, want)
	}
	bad := DefaultSettings()
	bad.AnnualRho = big.NewRat(2, 1)
	if err := bad.Validate(); err == nil {
		t.Error("annual ρ above the cap accepted")
	}
	for _, s := range []string{"1/16", "3/4", "1", "0", "720"} {
		if _, err := ParseRat(s); err != nil {
			t.Errorf("ParseRat(%q): %v", s, err)
		}
	}
	for _, s := range []string{"2/32", "0.5", "-1", "1/0", "", "1e3", "01"} {
		if _, err := ParseRat(s); err == nil {
			t.Errorf("ParseRat(%q) accepted", s)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Epoch{
		"2025":    {Name: "2025", Kind: "annual", Year: 2025},
		"2025-Q4": {Name: "2025-Q4", Kind: "quarterly", Year: 2025, Quarter: 4},
	} {
		got, err := ParseEpoch(in)
		if err != nil || got != want {
			t.Errorf("ParseEpoch(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"25", "2025-Q0", "2025-Q5", "2025Q1", "2025-q1", " 2025"} {
		if _, err := ParseEpoch(in); err == nil {
			t.Errorf("ParseEpoch(%q) accepted", in)
		}
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	l := newLedger(t, st, DefaultSettings(), 5)
	l.sampler = NewSampler(noDrawReader{}) // a preview draws nothing
	req := Request{Epoch: "2025", CatalogueVersion: "1.0.0", Cells: caseload(140, 80, 58, 2)}
	p, err := l.Preview(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.Released || p.Refused != nil || p.Rho.Cmp(big.NewRat(3, 4)) != 0 || p.Budget.Left.Cmp(big.NewRat(1, 1)) != 0 || p.Tables != 2 {
		t.Errorf("preview: %+v", p)
	}
	n := 0
	for _, c := range p.Cells {
		if c.Suppressed {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d cells would be suppressed, want 1", n)
	}
	if b, _ := l.Budget(ctx, 2025); len(b.Entries) != 0 {
		t.Error("a preview spent budget")
	}

	l.sampler = seeded(5)
	r, err := l.Release(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := l.Preview(ctx, req); !p.Released || p.Refused != nil {
		t.Errorf("preview of a stored release: %+v", p)
	}
	req.Revision = 1
	if p, _ := l.Preview(ctx, req); !errors.Is(p.Refused, ErrOverspend) {
		t.Errorf("preview of an overspend: %+v", p.Refused)
	}
	// New settings do not change a stored release.
	l2 := newLedger(t, st, DefaultRoundingSettings(), 6)
	again, err := l2.Release(ctx, Request{Epoch: "2025", CatalogueVersion: "2.0.0", Cells: caseload(1, 1, 0, 0)})
	if err != nil || !reflect.DeepEqual(r, again) {
		t.Errorf("stored release under new settings: %v", err)
	}
}
