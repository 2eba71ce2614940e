package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Release is one statistical release as stored (migration 0005): an epoch
// at a revision, its published cells and its entry in the budget ledger.
// True counts are never stored; package hub/disclosure computes releases and
// keeps the ledger.
type Release struct {
	ID               int64
	Epoch            string // "2025-Q2" (quarterly) or "2025" (annual)
	Kind             string // "quarterly" or "annual"
	Year             int    // the reporting year whose budget it spends
	Revision         int    // 0 first, then 1, 2, … each an announced new version
	CatalogueVersion string
	Mode             string // "noise" or "rounding"
	Sigma2           string // discrete Gaussian σ² as a rational; "" in the rounding mode
	Tables           int    // number of sensitivity-1 tables the ρ was split over
	// HeadlineTables and HeadlineSigma2: the totals' tier when they have
	// a σ² of their own (then Sigma2 is the breakdowns'); 0 and "" when
	// one σ² serves every cell.
	HeadlineTables int
	HeadlineSigma2 string
	// RatePartition: rates were noised as one partition table, so a
	// denominator carries two cells' noise.
	RatePartition bool
	Settings      []byte // canonical JSON of the disclosure settings used
	CreatedAt     time.Time
	Envelope      []byte // the signed envelope, nil until made

	// Ledger entry.
	Rho           string // ρ spent by this release, a rational ("1/16")
	RhoCumulative string // ρ spent in Year up to and including this release
	RhoCap        string // the year's cap when the release was made

	Cells []ReleaseCell
}

// ReleaseCell is one published cell: its value as published (noisy or
// rounded), or no value when it is suppressed.
type ReleaseCell struct {
	Indicator        string
	IndicatorVersion string
	Breakdown        string // canonical JSON object, "{}" for the total
	Measure          string
	Value            int64 // meaningless when Suppressed
	Suppressed       bool
}

// LedgerEntry is one release's line in the budget ledger of a year.
type LedgerEntry struct {
	Year          int
	ReleaseID     int64
	Epoch         string
	Revision      int
	Rho           string
	RhoCumulative string
	RhoCap        string
	RecordedAt    time.Time
}

// ErrReleaseExists is wrapped by InsertRelease's error when the epoch and
// revision are already stored: a release is never overwritten.
var ErrReleaseExists = errors.New("this epoch and revision were already released")

// InsertRelease stores r with its cells and its ledger entry, in the
// transaction, and returns its id. It fails with ErrReleaseExists when
// (r.Epoch, r.Revision) is stored already. r.ID, r.CreatedAt and r.Envelope
// are ignored: the release is stamped with the store's clock and the
// envelope is added later with SetReleaseEnvelope.
func (t *Tx) InsertRelease(ctx context.Context, r *Release) (int64, error) {
	name := fmt.Sprintf("%s revision %d", r.Epoch, r.Revision)
	switch {
	case r.Kind != "quarterly" && r.Kind != "annual":
		return 0, fmt.Errorf("insert release %s: kind %q is not quarterly or annual", name, r.Kind)
	case r.Mode != "noise" && r.Mode != "rounding":
		return 0, fmt.Errorf("insert release %s: mode %q is not noise or rounding", name, r.Mode)
	case r.Rho == "" || r.RhoCumulative == "" || r.RhoCap == "":
		return 0, fmt.Errorf("insert release %s: the ledger entry needs ρ, cumulative ρ and the cap", name)
	case r.CatalogueVersion == "":
		return 0, fmt.Errorf("insert release %s: the catalogue version is empty", name)
	}
	var exists int
	err := t.tx.QueryRowContext(ctx, `SELECT 1 FROM releases WHERE epoch = ?1 AND revision = ?2`, r.Epoch, r.Revision).Scan(&exists)
	switch {
	case err == nil:
		return 0, fmt.Errorf("insert release %s: %w: make a new revision instead", name, ErrReleaseExists)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("insert release %s: %w", name, err)
	}
	now := t.s.stamp()
	var id int64
	err = t.tx.QueryRowContext(ctx, `INSERT INTO releases
    (epoch, kind, reporting_year, revision, catalogue_version, mode, sigma2, tables, settings, created_at,
     headline_tables, headline_sigma2, rate_partition)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id`,
		r.Epoch, r.Kind, r.Year, r.Revision, r.CatalogueVersion, r.Mode, nullString(r.Sigma2), r.Tables, string(r.Settings), now,
		r.HeadlineTables, nullString(r.HeadlineSigma2), r.RatePartition).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert release %s: %w", name, err)
	}
	ins, err := t.tx.PrepareContext(ctx, `INSERT INTO release_cells
    (release_id, seq, indicator, indicator_version, breakdown, measure, value, suppressed)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`)
	if err != nil {
		return 0, fmt.Errorf("insert release %s: %w", name, err)
	}
	defer ins.Close()
	for i, c := range r.Cells {
		var value any
		if !c.Suppressed {
			value = c.Value
		}
		if _, err := ins.ExecContext(ctx, id, i, c.Indicator, c.IndicatorVersion, c.Breakdown, c.Measure, value, c.Suppressed); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return 0, fmt.Errorf("insert release %s: cell %d (%s %s %s %s) appears twice", name, i, c.Indicator, c.IndicatorVersion, c.Breakdown, c.Measure)
			}
			return 0, fmt.Errorf("insert release %s: cell %d: %w", name, i, err)
		}
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO budget_ledger (reporting_year, release_id, rho, rho_cumulative, rho_cap, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)`, r.Year, id, r.Rho, r.RhoCumulative, r.RhoCap, now); err != nil {
		return 0, fmt.Errorf("insert release %s: ledger entry: %w", name, err)
	}
	return id, nil
}

// YearLedger returns the budget ledger of a reporting year, oldest first.
func (t *Tx) YearLedger(ctx context.Context, year int) ([]LedgerEntry, error) {
	return yearLedger(ctx, t.tx, year)
}

// YearLedger returns the budget ledger of a reporting year, oldest first.
func (s *Store) YearLedger(ctx context.Context, year int) ([]LedgerEntry, error) {
	return yearLedger(ctx, s.r, year)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func yearLedger(ctx context.Context, q querier, year int) ([]LedgerEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.reporting_year, l.release_id, r.epoch, r.revision, l.rho, l.rho_cumulative, l.rho_cap, l.recorded_at
FROM budget_ledger l JOIN releases r ON r.id = l.release_id
WHERE l.reporting_year = ?1 ORDER BY l.release_id`, year)
	if err != nil {
		return nil, fmt.Errorf("read budget ledger of %d: %w", year, err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var e LedgerEntry
		var at string
		if err := rows.Scan(&e.Year, &e.ReleaseID, &e.Epoch, &e.Revision, &e.Rho, &e.RhoCumulative, &e.RhoCap, &at); err != nil {
			return nil, fmt.Errorf("read budget ledger of %d: %w", year, err)
		}
		if e.RecordedAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read budget ledger of %d: %w", year, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read budget ledger of %d: %w", year, err)
	}
	return out, nil
}

// FindRelease returns the release of the epoch at the revision, with its
// cells, or found false.
func (t *Tx) FindRelease(ctx context.Context, epoch string, revision int) (r *Release, found bool, err error) {
	return findRelease(ctx, t.tx, epoch, revision)
}

// FindRelease returns the release of the epoch at the revision, with its
// cells, or found false.
func (s *Store) FindRelease(ctx context.Context, epoch string, revision int) (r *Release, found bool, err error) {
	return findRelease(ctx, s.r, epoch, revision)
}

func findRelease(ctx context.Context, q querier, epoch string, revision int) (*Release, bool, error) {
	name := fmt.Sprintf("%s revision %d", epoch, revision)
	r := &Release{}
	var sigma2, headSigma2 sql.NullString
	var settings, created string
	err := q.QueryRowContext(ctx, `SELECT r.id, r.epoch, r.kind, r.reporting_year, r.revision, r.catalogue_version, r.mode,
    r.sigma2, r.tables, r.settings, r.created_at, r.envelope, l.rho, l.rho_cumulative, l.rho_cap,
    r.headline_tables, r.headline_sigma2, r.rate_partition
FROM releases r JOIN budget_ledger l ON l.release_id = r.id
WHERE r.epoch = ?1 AND r.revision = ?2`, epoch, revision).Scan(
		&r.ID, &r.Epoch, &r.Kind, &r.Year, &r.Revision, &r.CatalogueVersion, &r.Mode,
		&sigma2, &r.Tables, &settings, &created, &r.Envelope, &r.Rho, &r.RhoCumulative, &r.RhoCap,
		&r.HeadlineTables, &headSigma2, &r.RatePartition)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read release %s: %w", name, err)
	}
	r.Sigma2, r.HeadlineSigma2 = sigma2.String, headSigma2.String
	r.Settings = []byte(settings)
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, false, fmt.Errorf("read release %s: %w", name, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT indicator, indicator_version, breakdown, measure, value, suppressed
FROM release_cells WHERE release_id = ?1 ORDER BY seq`, r.ID)
	if err != nil {
		return nil, false, fmt.Errorf("read cells of release %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c ReleaseCell
		var v sql.NullInt64
		if err := rows.Scan(&c.Indicator, &c.IndicatorVersion, &c.Breakdown, &c.Measure, &v, &c.Suppressed); err != nil {
			return nil, false, fmt.Errorf("read cells of release %s: %w", name, err)
		}
		c.Value = v.Int64
		r.Cells = append(r.Cells, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read cells of release %s: %w", name, err)
	}
	return r, true, nil
}

// LatestRevision returns the highest revision stored for the epoch, or
// found false when the epoch was never released.
func (t *Tx) LatestRevision(ctx context.Context, epoch string) (revision int, found bool, err error) {
	var rev sql.NullInt64
	if err := t.tx.QueryRowContext(ctx, `SELECT max(revision) FROM releases WHERE epoch = ?1`, epoch).Scan(&rev); err != nil {
		return 0, false, fmt.Errorf("read revisions of %s: %w", epoch, err)
	}
	return int(rev.Int64), rev.Valid, nil
}

// SuppressedBefore returns the keys of the cells suppressed in any stored
// release of the given mode: the pattern the rounding mode carries forward.
// A key is indicator, version, breakdown and measure joined by "\x00".
func (t *Tx) SuppressedBefore(ctx context.Context, mode string) (map[string]bool, error) {
	return suppressedBefore(ctx, t.tx, mode)
}

// SuppressedBefore is [Tx.SuppressedBefore] outside a write transaction.
func (s *Store) SuppressedBefore(ctx context.Context, mode string) (map[string]bool, error) {
	return suppressedBefore(ctx, s.r, mode)
}

func suppressedBefore(ctx context.Context, q querier, mode string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT c.indicator, c.indicator_version, c.breakdown, c.measure
FROM release_cells c JOIN releases r ON r.id = c.release_id
WHERE r.mode = ?1 AND c.suppressed = 1`, mode)
	if err != nil {
		return nil, fmt.Errorf("read suppressed cells: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c ReleaseCell
		if err := rows.Scan(&c.Indicator, &c.IndicatorVersion, &c.Breakdown, &c.Measure); err != nil {
			return nil, fmt.Errorf("read suppressed cells: %w", err)
		}
		out[c.Key()] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read suppressed cells: %w", err)
	}
	return out, nil
}

// Key identifies the cell across releases: indicator, version, breakdown
// and measure joined by "\x00".
func (c ReleaseCell) Key() string {
	return c.Indicator + "\x00" + c.IndicatorVersion + "\x00" + c.Breakdown + "\x00" + c.Measure
}

// SetReleaseEnvelope stores the signed envelope of a release. An envelope
// is never replaced: storing the same bytes again is a no-op, other bytes
// fail.
func (s *Store) SetReleaseEnvelope(ctx context.Context, releaseID int64, envelope []byte) error {
	if len(envelope) == 0 {
		return fmt.Errorf("store envelope of release %d: the envelope is empty", releaseID)
	}
	return s.Write(ctx, func(tx *Tx) error {
		var have []byte
		err := tx.tx.QueryRowContext(ctx, `SELECT envelope FROM releases WHERE id = ?1`, releaseID).Scan(&have)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store envelope of release %d: %w", releaseID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store envelope of release %d: %w", releaseID, err)
		}
		if have != nil {
			if bytes.Equal(have, envelope) {
				return nil
			}
			return fmt.Errorf("store envelope of release %d: the release already has a different signed envelope, which is never replaced", releaseID)
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE releases SET envelope = ?1 WHERE id = ?2`, envelope, releaseID); err != nil {
			return fmt.Errorf("store envelope of release %d: %w", releaseID, err)
		}
		return nil
	})
}

// ReleasedEnvelope is the signed envelope of one stored release.
type ReleasedEnvelope struct {
	ID       int64
	Epoch    string
	Revision int
	Envelope []byte
}

// ReleaseEnvelopes returns the signed envelopes of the releases stored
// after the release afterID (0: all), oldest first: a territory's own view
// of what it has published follows them as they are made.
func (s *Store) ReleaseEnvelopes(ctx context.Context, afterID int64) ([]ReleasedEnvelope, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, epoch, revision, envelope FROM releases
WHERE id > ?1 AND envelope IS NOT NULL ORDER BY id`, afterID)
	if err != nil {
		return nil, fmt.Errorf("read released envelopes: %w", err)
	}
	defer rows.Close()
	var out []ReleasedEnvelope
	for rows.Next() {
		var e ReleasedEnvelope
		if err := rows.Scan(&e.ID, &e.Epoch, &e.Revision, &e.Envelope); err != nil {
			return nil, fmt.Errorf("read released envelopes: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read released envelopes: %w", err)
	}
	return out, nil
}
