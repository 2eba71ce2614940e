package federation

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/stats"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// The release path of a territory: compute the catalogue's indicators for
// an epoch's period (hub/stats), protect them and account their ρ
// (hub/disclosure's Ledger), sign the release (Seal) and put the envelope
// in the store's outbox for the uplink.
//
// # What is released, and how its ρ is accounted
//
// Every table of counts of the catalogue published for the epoch's period
// kind is released: for each indicator, its total row and its row per
// breakdown category, each measure (numerator, denominator, each bin,
// count). The Ledger splits the release's ρ over its tables, a table
// being one indicator version, one measure and one set of breakdown
// dimensions; the total and each breakdown are separate tables. A
// household adds at most 1 to one cell of each such table (L2 sensitivity
// 1), and zCDP composes by addition, so the release spends the sum of its
// tables' ρ. A binned indicator's bins are one table (the cells'
// Partition): a household is in only one of them, so together they have
// sensitivity 1. So is a rate: its numerator and the rest of its
// denominator partition the denominator's households, and the ledger
// publishes the denominator as the sum of the two noisy parts
// (disclosure.Cell.Within). The totals of an annual release get their own
// share of its ρ (disclosure.Settings.HeadlineShare): they are what
// regional bodies compare.
//
// # Sums are withheld
//
// A sum measure (indicator 15, cost) adds up to the catalogue's cap per
// household (in euro cents), so its sensitivity is the cap, not 1: noise
// calibrated for counts would leave it almost unprotected, and a sum under
// the rounding mode's count threshold can still be one household's spend.
// The envelope carries one σ² for all its cells (ρ = tables / (2σ²)), so a
// sum table cannot be given its own σ² without changing the envelope.
// Sum measures are therefore left out of every release, in both modes;
// [Withheld] lists them, and the preview and release outputs say so. The
// denominator of a sum indicator (a count) is released.

// EnvelopeTopic is the outbox topic of signed envelopes.
const EnvelopeTopic = "federation.envelope"

// DedupKey is the outbox deduplication key of an envelope:
// "envelope:<territory>:<epoch>:<revision>".
func DedupKey(territory, epoch string, revision int) string {
	return "envelope:" + territory + ":" + epoch + ":" + strconv.Itoa(revision)
}

// Territory is what a territory releases with.
type Territory struct {
	Code            string // territory code of snodo.yaml
	SoftwareVersion string
	Settings        disclosure.Settings
	// SigningKey signs envelopes (hub/keyring.LoadSigningKey); Preview
	// does not need it.
	SigningKey ed25519.PrivateKey
	// Catalogue is the indicator catalogue; nil: schemas.Indicators().
	Catalogue *schemas.Catalogue
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (t *Territory) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Territory) catalogue() (*schemas.Catalogue, error) {
	if t.Catalogue != nil {
		return t.Catalogue, nil
	}
	cat, err := schemas.Indicators()
	if err != nil {
		return nil, fmt.Errorf("federation: the indicator catalogue: %w", err)
	}
	return cat, nil
}

// ReleaseDate is when an epoch may be released and the observation date
// (stats.Options.AsOf) of its computation: a quarter's end + 30 days (a
// provisional release), a year's end + 120 days (the final one), the end
// being 00:00 UTC of the day after the period. 2025-Q1 is released from
// 2025-05-01 00:00 UTC with what happened by then, the year 2025 from
// 2026-05-01 00:00 UTC.
func ReleaseDate(e disclosure.Epoch) time.Time {
	if e.Kind == "quarterly" {
		start := time.Date(e.Year, time.Month(3*(e.Quarter-1)+1), 1, 0, 0, 0, 0, time.UTC)
		return start.AddDate(0, 3, 30)
	}
	return time.Date(e.Year+1, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 120)
}

// WithheldMeasure is a measure of the catalogue left out of releases, and
// why.
type WithheldMeasure struct {
	Indicator string `json:"indicator"`
	Version   string `json:"version"`
	Measure   string `json:"measure"`
	Reason    string `json:"reason"`
}

// Withheld lists the measures left out of a release for a period kind
// ("quarter" or "year"): the sums.
func Withheld(cat *schemas.Catalogue, periodKind string) []WithheldMeasure {
	var out []WithheldMeasure
	for i := range cat.Indicators {
		ind := &cat.Indicators[i]
		if ind.Kind != schemas.KindSum || !ind.HasPeriodKind(periodKind) {
			continue
		}
		capText := "no cap"
		if ind.Sum != nil && ind.Sum.Cap > 0 {
			capText = "a cap of " + strconv.FormatInt(ind.Sum.Cap, 10)
		}
		out = append(out, WithheldMeasure{Indicator: ind.ID, Version: ind.Version, Measure: "sum",
			Reason: fmt.Sprintf("a sum (%s per household): its sensitivity is the cap, not 1, so the count noise would not protect it; not released", capText)})
	}
	return out
}

// cells turns stats tables into the ledger's cells, leaving out the
// withheld measures. A binned indicator's bins partition its households:
// they are one table. A quarterly release is the provisional headline
// figures, totals only (PRIVACY.md): the breakdowns wait for the annual
// release, so the quarter's small budget is not spread over them.
func cells(cat *schemas.Catalogue, tables []*stats.Table, withheld []WithheldMeasure, totalsOnly bool) (version string, out []disclosure.Cell, err error) {
	kind := map[string]string{}
	for _, ind := range cat.Indicators {
		kind[ind.ID+"\x00"+ind.Version] = ind.Kind
	}
	skip := map[string]bool{}
	for _, w := range withheld {
		skip[w.Indicator+"\x00"+w.Version+"\x00"+w.Measure] = true
	}
	for _, t := range tables {
		if version == "" {
			version = t.Catalogue
		} else if t.Catalogue != version {
			return "", nil, fmt.Errorf("tables of catalogues %s and %s in one release", version, t.Catalogue)
		}
		for _, c := range t.Cells {
			if skip[t.Indicator+"\x00"+t.Version+"\x00"+c.Measure] {
				continue
			}
			var b map[string]string
			if c.Breakdown != stats.Total {
				if totalsOnly {
					continue
				}
				b = map[string]string{c.Breakdown: c.Value}
			}
			part, within := disclosure.PartitionOf(kind[t.Indicator+"\x00"+t.Version], c.Measure)
			out = append(out, disclosure.Cell{Indicator: t.Indicator, Version: t.Version, Breakdown: b, Measure: c.Measure, Count: c.Count,
				Partition: part, Within: within})
		}
	}
	if len(out) == 0 {
		return "", nil, errors.New("no indicator of the catalogue is published for this kind of period")
	}
	return version, out, nil
}

// request computes the epoch's true counts as a ledger request.
func request(ctx context.Context, st *store.Store, cat *schemas.Catalogue, e disclosure.Epoch, revision int) (disclosure.Request, []WithheldMeasure, []string, error) {
	p, err := stats.ParsePeriod(e.Name)
	if err != nil {
		return disclosure.Request{}, nil, nil, err
	}
	comp, err := stats.New(cat)
	if err != nil {
		return disclosure.Request{}, nil, nil, err
	}
	tables, skipped, err := comp.ComputeAll(ctx, st, p, stats.Options{AsOf: ReleaseDate(e)})
	if err != nil {
		return disclosure.Request{}, nil, nil, err
	}
	withheld := Withheld(cat, p.Kind)
	version, cs, err := cells(cat, tables, withheld, e.Kind == "quarterly")
	if err != nil {
		return disclosure.Request{}, nil, nil, fmt.Errorf("epoch %s: %w", e.Name, err)
	}
	return disclosure.Request{Epoch: e.Name, Revision: revision, CatalogueVersion: version, Cells: cs}, withheld, skipped, nil
}

// Released is the outcome of Release.
type Released struct {
	Release  *disclosure.Release
	Envelope []byte // the signed envelope, as queued
	OutboxID int64
	// New says the release was made by this call (noise drawn, ρ spent);
	// Enqueued that this call put the envelope in the outbox. Both false
	// on a repeated call.
	New, Enqueued bool
	AsOf          time.Time // observation date of the computation
	Budget        disclosure.Budget
	Withheld      []WithheldMeasure
}

// Release releases the epoch ("2025-Q2" or "2025") at the revision:
// computes the indicators of its period as of its release date, protects
// and stores them with their ledger entry, signs the envelope and queues it
// on EnvelopeTopic under DedupKey. Every step is idempotent: a repeated
// call returns the same envelope, spends nothing and queues nothing new, and
// a call after a crash finishes what the last one started. It refuses an
// epoch before its release date, an overspend (a *disclosure.OverspendError)
// and a revision out of order.
func Release(ctx context.Context, st *store.Store, t Territory, epoch string, revision int) (*Released, error) {
	e, err := disclosure.ParseEpoch(epoch)
	if err != nil {
		return nil, fmt.Errorf("federation: release: %w", err)
	}
	if t.Code == "" {
		return nil, errors.New("federation: release: no territory code")
	}
	if len(t.SigningKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("federation: release %s: no Ed25519 signing key", e.Name)
	}
	cat, err := t.catalogue()
	if err != nil {
		return nil, err
	}
	ledger, err := disclosure.NewLedger(st, t.Settings)
	if err != nil {
		return nil, fmt.Errorf("federation: release %s: %w", e.Name, err)
	}
	out := &Released{AsOf: ReleaseDate(e)}
	rel, found, err := ledger.Find(ctx, e.Name, revision)
	if err != nil {
		return nil, fmt.Errorf("federation: release %s revision %d: %w", e.Name, revision, err)
	}
	periodKind := schemas.PeriodYear
	if e.Kind == "quarterly" {
		periodKind = schemas.PeriodQuarter
	}
	out.Withheld = Withheld(cat, periodKind)
	if !found {
		if now := t.now(); now.Before(out.AsOf) {
			return nil, fmt.Errorf("federation: %s cannot be released before %s (%s): late data would be missing; preview it meanwhile with \"snodo stats preview --period %s\"",
				e.Name, out.AsOf.Format("2006-01-02 15:04 UTC"), releaseRule(e), e.Name)
		}
		req, _, _, err := request(ctx, st, cat, e, revision)
		if err != nil {
			return nil, fmt.Errorf("federation: release %s: %w", e.Name, err)
		}
		if rel, err = ledger.Release(ctx, req); err != nil {
			return nil, err
		}
		out.New = true
	}
	out.Release = rel
	if out.Envelope, err = Seal(ctx, st, rel, Source{Territory: t.Code, SoftwareVersion: t.SoftwareVersion}, t.SigningKey); err != nil {
		return nil, err
	}
	key := DedupKey(t.Code, e.Name, revision)
	err = st.Write(ctx, func(tx *store.Tx) error {
		out.OutboxID, out.Enqueued, err = tx.Enqueue(ctx, EnvelopeTopic, key, out.Envelope)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("federation: queue the envelope of %s revision %d: %w", e.Name, revision, err)
	}
	if out.Budget, err = ledger.Budget(ctx, e.Year); err != nil {
		return nil, err
	}
	return out, nil
}

func releaseRule(e disclosure.Epoch) string {
	if e.Kind == "quarterly" {
		return "the quarter's end + 30 days"
	}
	return "the year's end + 120 days"
}

// Previewed is what Preview says of a release.
type Previewed struct {
	Preview          *disclosure.Preview
	CatalogueVersion string
	// Stored is the release when the epoch at the revision is already
	// released (Preview.Released): its published values are what the
	// region has or will get.
	Stored *disclosure.Release
	// Counts are the true counts of the cells that would be published, by
	// position in Preview.Cells; nil for the suppressed ones (and for a
	// stored release). They never leave the territory: shown to its
	// administrator only.
	Counts []*int64
	// AsOf is the observation date; Due says it has passed, so Release
	// may be called.
	AsOf time.Time
	Due  bool
	// Noise is the σ² of the published cells in the noise mode (nil in the
	// rounding mode). HalfWidth95 holds 95% of the noise of a cell of σ²
	// Noise.Sigma2, HeadlineHalfWidth95 of a total of the headline tier
	// (0 without one).
	Noise                            *disclosure.NoisePlan
	HalfWidth95, HeadlineHalfWidth95 int64
	Withheld                         []WithheldMeasure
	Skipped                          []string // indicators this version cannot compute
}

// Preview says what Release would release for the epoch at the revision,
// without drawing noise or storing anything: the suppression pattern, the
// true counts of the cells that would be published (for the territory's
// administrator), the noise, the ρ it would spend and the year's budget,
// whether it is already released and why it would be refused.
func Preview(ctx context.Context, st *store.Store, t Territory, epoch string, revision int) (*Previewed, error) {
	e, err := disclosure.ParseEpoch(epoch)
	if err != nil {
		return nil, fmt.Errorf("federation: preview: %w", err)
	}
	cat, err := t.catalogue()
	if err != nil {
		return nil, err
	}
	ledger, err := disclosure.NewLedger(st, t.Settings)
	if err != nil {
		return nil, fmt.Errorf("federation: preview %s: %w", e.Name, err)
	}
	req, withheld, skipped, err := request(ctx, st, cat, e, revision)
	if err != nil {
		return nil, fmt.Errorf("federation: preview %s: %w", e.Name, err)
	}
	p, err := ledger.Preview(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &Previewed{Preview: p, CatalogueVersion: req.CatalogueVersion, AsOf: ReleaseDate(e), Withheld: withheld, Skipped: skipped}
	out.Due = !t.now().Before(out.AsOf)
	if p.Released {
		if out.Stored, _, err = ledger.Find(ctx, e.Name, revision); err != nil {
			return nil, fmt.Errorf("federation: preview %s: %w", e.Name, err)
		}
		out.Noise = out.Stored.Noise
	} else {
		counts := make(map[string]int64, len(req.Cells))
		for _, c := range req.Cells {
			counts[previewKey(c.Indicator, c.Version, c.Breakdown, c.Measure)] = c.Count
		}
		out.Counts = make([]*int64, len(p.Cells))
		for i, c := range p.Cells {
			if c.Suppressed {
				continue
			}
			n := counts[previewKey(c.Indicator, c.Version, c.Breakdown, c.Measure)]
			out.Counts[i] = &n
		}
		out.Noise = p.Noise
	}
	if out.Noise != nil {
		if out.HalfWidth95, err = disclosure.HalfWidth95(out.Noise.Sigma2); err != nil {
			return nil, err
		}
		if h := out.Noise.Headline; h != nil {
			if out.HeadlineHalfWidth95, err = disclosure.HalfWidth95(h.Sigma2); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func previewKey(indicator, version string, b map[string]string, measure string) string {
	var sb strings.Builder
	sb.WriteString(indicator + "\x00" + version + "\x00" + measure)
	for k, v := range b { // at most one dimension
		sb.WriteString("\x00" + k + "=" + v)
	}
	return sb.String()
}

// OutboxEnvelope is an envelope in the outbox, as "snodo federate status"
// shows it.
type OutboxEnvelope struct {
	ID            int64     `json:"id"`
	Epoch         string    `json:"epoch"`
	Revision      int       `json:"revision"`
	State         string    `json:"state"` // pending, failed or delivered
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"` // not delivered
	DeliveredAt   time.Time `json:"delivered_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
}

// Outbox lists the envelopes of the outbox, oldest first.
func Outbox(ctx context.Context, st *store.Store) ([]OutboxEnvelope, error) {
	var out []OutboxEnvelope
	err := st.Snapshot(ctx, func(q store.Querier) error {
		rows, err := q.QueryContext(ctx, `SELECT id, dedup_key, created_at, attempts, next_attempt_at, last_error, delivered_at
FROM outbox WHERE topic = ?1 ORDER BY id`, EnvelopeTopic)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m OutboxEnvelope
			var key, created, next string
			var lastErr, delivered sql.NullString
			if err := rows.Scan(&m.ID, &key, &created, &m.Attempts, &next, &lastErr, &delivered); err != nil {
				return err
			}
			// envelope:<territory>:<epoch>:<revision>
			parts := strings.Split(key, ":")
			if len(parts) == 4 {
				m.Epoch = parts[2]
				m.Revision, _ = strconv.Atoi(parts[3])
			}
			m.LastError = lastErr.String
			if m.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
				return fmt.Errorf("outbox message %d: created_at: %w", m.ID, err)
			}
			switch {
			case delivered.Valid:
				m.State = "delivered"
				if m.DeliveredAt, err = time.Parse(time.RFC3339Nano, delivered.String); err != nil {
					return fmt.Errorf("outbox message %d: delivered_at: %w", m.ID, err)
				}
			default:
				m.State = "pending"
				if m.Attempts > 0 && m.LastError != "" {
					m.State = "failed"
				}
				if m.NextAttemptAt, err = time.Parse(time.RFC3339Nano, next); err != nil {
					return fmt.Errorf("outbox message %d: next_attempt_at: %w", m.ID, err)
				}
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("federation: list the outbox: %w", err)
	}
	return out, nil
}
