package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/stats"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// releaseHub is a territory store with people, households and referrals
// requested in 2025-Q1 (accepted for two in three).
func releaseHub(t *testing.T, n int) (*store.Store, population) {
	t.Helper()
	st := openStore(t)
	pop, _ := fill(t, st, n)
	ctx := context.Background()
	err := st.Write(ctx, func(tx *store.Tx) error {
		for i, pid := range pop.personIDs {
			authored := time.Date(2025, 1, 2+i%80, 9, 0, 0, 0, time.UTC)
			r := store.Referral{Source: "cartella", RecordID: fmt.Sprintf("REF-%05d", i), Requester: "ORG-A", Owner: "ORG-B",
				Priority: "routine", Category: "housing-instability", Status: "requested", AuthoredOn: authored, StatusAt: authored,
				Delivery: store.DeliveryLocal, PersonID: pid}
			if i%3 != 0 {
				r.Status, r.RespondedAt = "accepted", authored.Add(30*time.Hour)
			}
			if err := tx.PutReferral(ctx, r); err != nil {
				return err
			}
			if _, err := tx.AddReferralEvent(ctx, store.ReferralEvent{RefSource: "cartella", RefRecordID: r.RecordID, EventSource: "cartella",
				To: "requested", SetBy: "ORG-A", At: authored, Outcome: "applied", RecordedAt: authored}); err != nil {
				return err
			}
			pop.recordIDs = append(pop.recordIDs, r.RecordID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, pop
}

func testTerritory(t *testing.T, set disclosure.Settings) Territory {
	return Territory{Code: territory, SoftwareVersion: "v0.6.0-test", Settings: set, SigningKey: newKey(t),
		Now: func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }}
}

func outboxCount(t *testing.T, st *store.Store) int {
	t.Helper()
	m, err := Outbox(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func TestReleaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, pop := releaseHub(t, 60)
	ter := testTerritory(t, disclosure.DefaultSettings())

	first, err := Release(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !first.New || !first.Enqueued || first.Release.Rho.Cmp(big.NewRat(1, 16)) != 0 {
		t.Fatalf("first release: new %v, enqueued %v, ρ %v", first.New, first.Enqueued, first.Release.Rho)
	}
	second, err := Release(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if second.New || second.Enqueued || second.OutboxID != first.OutboxID || !bytes.Equal(second.Envelope, first.Envelope) {
		t.Fatalf("second release: new %v, enqueued %v, outbox %d (first %d), same envelope %v",
			second.New, second.Enqueued, second.OutboxID, first.OutboxID, bytes.Equal(second.Envelope, first.Envelope))
	}
	if second.Budget.Spent.Cmp(big.NewRat(1, 16)) != 0 {
		t.Errorf("ρ spent after two calls: %s, want 1/16", second.Budget.Spent.RatString())
	}
	msgs, err := st.Pending(ctx, EnvelopeTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].DedupKey != "envelope:"+territory+":2025-Q1:0" || !bytes.Equal(msgs[0].Payload, first.Envelope) {
		t.Fatalf("outbox: %d messages", len(msgs))
	}
	trusted := TrustedKeys{}
	trusted.Add(territory, ter.SigningKey.Public().(ed25519.PublicKey))
	env, err := Verify(first.Envelope, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if env.Epoch != "2025-Q1" || env.Territory != territory || len(env.Cells) == 0 {
		t.Errorf("envelope: %s %s, %d cells", env.Epoch, env.Territory, len(env.Cells))
	}
	// Nothing personal in the bytes sent upward.
	for _, s := range append(append(append([]string{}, pop.personIDs...), pop.recordIDs...), pop.cfs...) {
		if bytes.Contains(first.Envelope, []byte(s)) {
			t.Fatalf("the envelope contains a person id, record id or identifier")
		}
	}
	if bytes.Contains(first.Envelope, []byte("Mario")) {
		t.Fatal("the envelope contains free text")
	}
	// The outbox status.
	list, err := Outbox(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Epoch != "2025-Q1" || list[0].Revision != 0 || list[0].State != "pending" {
		t.Fatalf("outbox %+v", list)
	}
	if err := st.MarkFailed(ctx, list[0].ID, errors.New("region answered 503"), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if list, _ = Outbox(ctx, st); list[0].State != "failed" || list[0].LastError != "region answered 503" || list[0].Attempts != 1 {
		t.Fatalf("after a failure: %+v", list[0])
	}
}

// A crash between storing the release and queueing its envelope: the next
// call finishes, without new noise.
func TestReleaseFinishesAnInterruptedOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := releaseHub(t, 30)
	ter := testTerritory(t, disclosure.DefaultSettings())
	cat, err := schemas.Indicators()
	if err != nil {
		t.Fatal(err)
	}
	req, _, _, err := request(ctx, st, cat, mustEpoch(t, "2025-Q1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := disclosure.NewLedger(st, ter.Settings)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ledger.Release(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Release(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if out.New || !out.Enqueued {
		t.Fatalf("new %v, enqueued %v", out.New, out.Enqueued)
	}
	for i, c := range out.Release.Cells {
		if fmt.Sprint(c) != fmt.Sprint(stored.Cells[i]) {
			t.Fatalf("cell %d changed: %+v, was %+v", i, c, stored.Cells[i])
		}
	}
}

func mustEpoch(t *testing.T, s string) disclosure.Epoch {
	t.Helper()
	e, err := disclosure.ParseEpoch(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The sum of indicator 15 is never released; its denominator is. Every
// other measure is, and ρ is split over one table per indicator version,
// measure and breakdown dimension (numerator and denominator apart, the
// total and each breakdown apart).
func TestSumsWithheldAndTablesAccounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := releaseHub(t, 20)
	cat, err := schemas.Indicators()
	if err != nil {
		t.Fatal(err)
	}
	sumID := ""
	for _, ind := range cat.Indicators {
		if ind.Kind == schemas.KindSum {
			sumID = ind.ID
		}
	}
	for _, set := range []disclosure.Settings{disclosure.DefaultSettings(), disclosure.DefaultRoundingSettings()} {
		ter := testTerritory(t, set)
		st := st
		if set.Mode == disclosure.ModeRounding {
			st, _ = releaseHub(t, 20)
		}
		out, err := Release(ctx, st, ter, "2025", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Withheld) != 1 || out.Withheld[0].Indicator != sumID || out.Withheld[0].Measure != "sum" {
			t.Fatalf("%s: withheld %+v", set.Mode, out.Withheld)
		}
		sumDenominator := false
		for _, c := range out.Release.Cells {
			if c.Indicator == sumID && c.Measure == "sum" {
				t.Fatalf("%s: a sum cell was released", set.Mode)
			}
			sumDenominator = sumDenominator || (c.Indicator == sumID && c.Measure == "denominator")
		}
		if !sumDenominator {
			t.Errorf("%s: the denominator of indicator 15 is missing", set.Mode)
		}
		// The expected tables, from the stats tables.
		comp, _ := stats.New(cat)
		p, _ := stats.ParsePeriod("2025")
		tables, _, err := comp.ComputeAll(ctx, st, p, stats.Options{AsOf: ReleaseDate(mustEpoch(t, "2025"))})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		ratio := false
		for _, tb := range tables {
			for _, c := range tb.Cells {
				if tb.Indicator == sumID && c.Measure == "sum" {
					continue
				}
				measure := c.Measure
				if ind, ok := cat.Indicator(tb.Indicator); ok && ind.Kind == schemas.KindBinned {
					measure = "bins" // the bins partition the households: one table
				} else if ok && ind.Kind == schemas.KindRatio {
					measure = "rate" // the numerator and the rest: one table
				}
				want[tb.Indicator+"/"+tb.Version+"/"+c.Breakdown+"/"+measure] = true
				ratio = ratio || c.Measure == "numerator"
			}
		}
		if !ratio || out.Release.Tables != len(want) {
			t.Fatalf("%s: %d tables accounted, want %d (one per indicator, measure or partition, and breakdown)", set.Mode, out.Release.Tables, len(want))
		}
		if set.Mode == disclosure.ModeNoise {
			// The tiers' tables/(2σ²) add up to the release's ρ.
			n := out.Release.Noise
			if got := n.Rho(); got.Cmp(out.Release.Rho) != 0 || out.Release.Rho.Cmp(big.NewRat(3, 4)) != 0 || n.Tables != out.Release.Tables {
				t.Errorf("ρ %s, the noise plan's %s", out.Release.Rho.RatString(), got.RatString())
			}
			totals := map[string]bool{}
			for k := range want {
				if strings.Contains(k, "/total/") {
					totals[k] = true
				}
			}
			if n.Headline == nil || n.Headline.Tables != len(totals) || !n.RatePartition {
				t.Errorf("noise plan %+v: want a headline tier of the %d total tables and rates as partitions", n, len(totals))
			}
		}
	}
}

func TestPreviewDrawsNothingAndStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := releaseHub(t, 40)
	ter := testTerritory(t, disclosure.DefaultSettings())
	ter.SigningKey = nil // not needed
	a, err := Preview(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Preview(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a.Preview.Cells) != fmt.Sprint(b.Preview.Cells) || a.Preview.Released || a.Preview.Refused != nil || !a.Due {
		t.Fatalf("preview: released %v, refused %v, due %v", a.Preview.Released, a.Preview.Refused, a.Due)
	}
	if n := outboxCount(t, st); n != 0 {
		t.Fatalf("the preview queued %d messages", n)
	}
	if _, found, _ := st.FindRelease(ctx, "2025-Q1", 0); found {
		t.Fatal("the preview stored a release")
	}
	suppressed, published := 0, 0
	for i, c := range a.Preview.Cells {
		switch {
		case c.Suppressed && a.Counts[i] != nil:
			t.Fatalf("cell %d is suppressed but its true count is in the preview", i)
		case c.Suppressed:
			suppressed++
		case a.Counts[i] == nil:
			t.Fatalf("cell %d is published without its count", i)
		default:
			published++
		}
	}
	if suppressed == 0 || published == 0 || a.Noise == nil || a.HalfWidth95 <= 0 || a.Noise.Headline != nil {
		t.Fatalf("%d suppressed, %d published, noise %+v, half-width %d (a quarterly release has one tier)", suppressed, published, a.Noise, a.HalfWidth95)
	}
	// Quarterly: no sum to withhold (cost is yearly only).
	if len(a.Withheld) != 0 {
		t.Errorf("withheld %+v", a.Withheld)
	}

	ter = testTerritory(t, disclosure.DefaultSettings())
	if _, err := Release(ctx, st, ter, "2025-Q1", 0); err != nil {
		t.Fatal(err)
	}
	c, err := Preview(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Preview.Released || c.Stored == nil || c.Counts != nil {
		t.Fatalf("after the release: released %v, stored %v, counts %v", c.Preview.Released, c.Stored != nil, c.Counts != nil)
	}
}

func TestReleaseRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := releaseHub(t, 10)
	ter := testTerritory(t, disclosure.DefaultSettings())

	// Before the release date: 2026-Q4 is due on 2027-01-31 00:00 UTC.
	_, err := Release(ctx, st, ter, "2026-Q4", 0)
	if err == nil || !strings.Contains(err.Error(), "cannot be released before 2027-01-31 00:00 UTC") {
		t.Fatalf("early release: %v", err)
	}
	// Over budget: a cap that admits one quarter only.
	set := disclosure.DefaultSettings()
	set.YearCap, set.AnnualRho = big.NewRat(1, 16), big.NewRat(1, 16)
	ter = testTerritory(t, set)
	if _, err := Release(ctx, st, ter, "2025-Q1", 0); err != nil {
		t.Fatal(err)
	}
	_, err = Release(ctx, st, ter, "2025-Q2", 0)
	var oe *disclosure.OverspendError
	if !errors.As(err, &oe) {
		t.Fatalf("overspend: %v", err)
	}
	if n := outboxCount(t, st); n != 1 {
		t.Fatalf("%d envelopes queued, want 1", n)
	}
	p, err := Preview(ctx, st, ter, "2025-Q2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.As(p.Preview.Refused, &oe) {
		t.Fatalf("preview refused: %v", p.Preview.Refused)
	}
}

func TestReleaseDates(t *testing.T) {
	t.Parallel()
	for epoch, want := range map[string]string{
		"2025-Q1": "2025-05-01", "2025-Q2": "2025-07-31", "2025-Q3": "2025-10-31", "2025-Q4": "2026-01-31", "2025": "2026-05-01",
	} {
		if got := ReleaseDate(mustEpoch(t, epoch)).Format(time.DateOnly); got != want {
			t.Errorf("%s: %s, want %s", epoch, got, want)
		}
	}
}

// TestQuarterlyIsTotalsOnly: a quarterly release carries the headline
// totals only, so its small ρ is spread over few tables; a binned
// indicator's bins count as one table.
func TestQuarterlyIsTotalsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := releaseHub(t, 30)
	ter := testTerritory(t, disclosure.DefaultSettings())
	out, err := Release(ctx, st, ter, "2025-Q1", 0)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schemas.Indicators()
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	for _, c := range out.Release.Cells {
		if len(c.Breakdown) != 0 {
			t.Fatalf("a quarterly release has a breakdown cell: %+v", c)
		}
		key := c.Indicator + "/" + c.Measure
		if ind, ok := cat.Indicator(c.Indicator); ok && ind.Kind == schemas.KindBinned {
			key = c.Indicator + "/bins"
		} else if ok && ind.Kind == schemas.KindRatio {
			key = c.Indicator + "/rate"
		}
		tables[key] = true
	}
	if len(tables) == 0 || out.Release.Tables != len(tables) {
		t.Errorf("%d tables accounted, want %d", out.Release.Tables, len(tables))
	}
	t.Logf("2025-Q1: %d cells in %d tables, σ² = %s", len(out.Release.Cells), out.Release.Tables, out.Release.Noise.Sigma2.RatString())
}
