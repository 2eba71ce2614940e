package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The region hub's tables (migration 0006): enrolled territories and their
// keys, one-time enrolment tokens, received envelopes and their cells, and
// the hash-chained intake log. Package hub/region uses them.

// RegionKey is a public key enrolled for a territory.
type RegionKey struct {
	KeyID      string
	Territory  string
	PublicKey  []byte // 32 raw Ed25519 bytes
	EnrolledAt time.Time
	RevokedAt  time.Time // zero while active
}

// Active reports whether the key verifies envelopes.
func (k RegionKey) Active() bool { return k.RevokedAt.IsZero() }

// RegionTerritory is an enrolled territory with its keys and what it last
// sent.
type RegionTerritory struct {
	Code       string
	Name       string
	EnrolledAt time.Time
	Keys       []RegionKey
	Envelopes  int       // envelopes received
	LastEpoch  string    // epoch of the last envelope received, "" if none
	LastAt     time.Time // when it was received
}

// ErrRegionKeyExists is wrapped by EnrolRegionKey's error when the key is
// enrolled already.
var ErrRegionKeyExists = errors.New("this key is enrolled already")

// EnrolRegionKey enrols the public key pub (its id keyID) for the
// territory, adding the territory if it is new; a non-empty name replaces
// the territory's name.
func (t *Tx) EnrolRegionKey(ctx context.Context, territory, name string, pub []byte, keyID string) error {
	if len(pub) != 32 {
		return fmt.Errorf("enrol key for %s: a public key has 32 bytes, not %d", territory, len(pub))
	}
	var other string
	err := t.tx.QueryRowContext(ctx, `SELECT territory FROM region_keys WHERE key_id = ?1`, keyID).Scan(&other)
	switch {
	case err == nil:
		return fmt.Errorf("enrol key %s for %s: %w (for %s)", keyID, territory, ErrRegionKeyExists, other)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("enrol key for %s: %w", territory, err)
	}
	now := t.s.stamp()
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO region_territories (code, name, enrolled_at) VALUES (?1, ?2, ?3)
ON CONFLICT (code) DO UPDATE SET name = CASE WHEN ?2 = '' THEN name ELSE ?2 END`, territory, name, now); err != nil {
		return fmt.Errorf("enrol territory %s: %w", territory, err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO region_keys (key_id, territory, public_key, enrolled_at) VALUES (?1, ?2, ?3, ?4)`,
		keyID, territory, pub, now); err != nil {
		return fmt.Errorf("enrol key %s for %s: %w", keyID, territory, err)
	}
	return nil
}

// RevokeRegionKey revokes an active key. It fails with an error wrapping
// ErrNotFound when no active key has the id.
func (t *Tx) RevokeRegionKey(ctx context.Context, keyID string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE region_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL`, keyID, t.s.stamp())
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke key %s: %w", keyID, ErrNotFound)
	}
	return nil
}

// RegionKeys returns the enrolled keys, revoked ones included: every one,
// or only those of the key ids given (the intake looks up the one an
// envelope names, not the region's hundreds).
func (s *Store) RegionKeys(ctx context.Context, keyIDs ...string) ([]RegionKey, error) {
	q := `SELECT key_id, territory, public_key, enrolled_at, revoked_at FROM region_keys`
	var args []any
	if len(keyIDs) > 0 {
		q += ` WHERE key_id IN (?` + strings.Repeat(`, ?`, len(keyIDs)-1) + `)`
		for _, id := range keyIDs {
			args = append(args, id)
		}
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY territory, enrolled_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("read enrolled keys: %w", err)
	}
	defer rows.Close()
	var out []RegionKey
	for rows.Next() {
		var k RegionKey
		var at string
		var rev sql.NullString
		if err := rows.Scan(&k.KeyID, &k.Territory, &k.PublicKey, &at, &rev); err != nil {
			return nil, fmt.Errorf("read enrolled keys: %w", err)
		}
		if k.EnrolledAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read enrolled keys: %w", err)
		}
		if k.RevokedAt, err = parseNullTime(rev); err != nil {
			return nil, fmt.Errorf("read enrolled keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read enrolled keys: %w", err)
	}
	return out, nil
}

// RegionTerritories returns the enrolled territories, by code, with their
// keys and what they last sent.
func (s *Store) RegionTerritories(ctx context.Context) ([]RegionTerritory, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT t.code, t.name, t.enrolled_at,
    (SELECT count(*) FROM region_envelopes e WHERE e.territory = t.code),
    coalesce((SELECT e.epoch FROM region_envelopes e WHERE e.territory = t.code ORDER BY e.id DESC LIMIT 1), ''),
    (SELECT e.received_at FROM region_envelopes e WHERE e.territory = t.code ORDER BY e.id DESC LIMIT 1)
FROM region_territories t ORDER BY t.code`)
	if err != nil {
		return nil, fmt.Errorf("read territories: %w", err)
	}
	defer rows.Close()
	var out []RegionTerritory
	byCode := map[string]int{}
	for rows.Next() {
		var t RegionTerritory
		var at string
		var last sql.NullString
		if err := rows.Scan(&t.Code, &t.Name, &at, &t.Envelopes, &t.LastEpoch, &last); err != nil {
			return nil, fmt.Errorf("read territories: %w", err)
		}
		if t.EnrolledAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read territories: %w", err)
		}
		if t.LastAt, err = parseNullTime(last); err != nil {
			return nil, fmt.Errorf("read territories: %w", err)
		}
		byCode[t.Code] = len(out)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read territories: %w", err)
	}
	keys, err := s.RegionKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if i, ok := byCode[k.Territory]; ok {
			out[i].Keys = append(out[i].Keys, k)
		}
	}
	return out, nil
}

// Enrolment token errors, wrapped by UseEnrolmentToken's error.
var (
	ErrEnrolmentTokenUnknown = errors.New("the enrolment token is not known here, or is for another territory")
	ErrEnrolmentTokenUsed    = errors.New("the enrolment token was used already")
	ErrEnrolmentTokenExpired = errors.New("the enrolment token has expired")
)

// AddEnrolmentToken stores the SHA-256 of a one-time enrolment token for
// the territory, valid until expires.
func (t *Tx) AddEnrolmentToken(ctx context.Context, territory, name string, hash []byte, expires time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO region_enrolment_tokens (territory, name, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)`,
		territory, name, hash, t.s.stamp(), formatTime(expires)); err != nil {
		return fmt.Errorf("add enrolment token for %s: %w", territory, err)
	}
	return nil
}

// UseEnrolmentToken marks the token whose SHA-256 is hash as used for the
// key keyID, if it is for the territory, unused and not expired; it returns
// the name given when it was made. Enrol the key in the same transaction.
func (t *Tx) UseEnrolmentToken(ctx context.Context, territory string, hash []byte, keyID string) (name string, err error) {
	var id int64
	var expires string
	var used sql.NullString
	err = t.tx.QueryRowContext(ctx, `SELECT id, name, expires_at, used_at FROM region_enrolment_tokens WHERE token_hash = ?1 AND territory = ?2`,
		hash, territory).Scan(&id, &name, &expires, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("enrol %s: %w", territory, ErrEnrolmentTokenUnknown)
	case err != nil:
		return "", fmt.Errorf("enrol %s: %w", territory, err)
	case used.Valid:
		return "", fmt.Errorf("enrol %s: %w", territory, ErrEnrolmentTokenUsed)
	}
	exp, err := parseTime(expires)
	if err != nil {
		return "", fmt.Errorf("enrol %s: %w", territory, err)
	}
	if !t.s.now().Before(exp) {
		return "", fmt.Errorf("enrol %s: %w", territory, ErrEnrolmentTokenExpired)
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE region_enrolment_tokens SET used_at = ?2, key_id = ?3 WHERE id = ?1`, id, t.s.stamp(), keyID); err != nil {
		return "", fmt.Errorf("enrol %s: %w", territory, err)
	}
	return name, nil
}

// RegionEnvelope is a received envelope as stored.
type RegionEnvelope struct {
	ID               int64
	Territory        string
	CatalogueVersion string
	Epoch            string
	Revision         int
	KeyID            string
	Bytes            []byte
	SHA256           []byte
	ReceivedAt       time.Time

	// From the verified envelope (see migration 0007).
	ReportingYear      int
	RhoSpent           string // exact rational, as in the envelope
	RhoCap             string
	Mechanism          string // "discrete-gaussian" or "rounding"
	Sigma2             string // "" without noise
	DisplayBelow       int
	MinRateDenominator int
	RoundingBase       int
	// HeadlineSigma2 is the σ² of the envelope's total cells when they
	// have their own (Sigma2 is then the breakdowns'); "" otherwise.
	// RatePartition says each rate's denominator carries the noise of two
	// cells, one shared with its numerator.
	HeadlineSigma2 string
	RatePartition  bool
}

// RegionCell is one cell of a received envelope.
type RegionCell struct {
	Territory        string
	Epoch            string
	Revision         int // of the envelope
	Indicator        string
	IndicatorVersion string
	Breakdown        string // canonical JSON object, "{}" for the total
	Measure          string
	Value            int64 // meaningless when Suppressed
	Suppressed       bool
}

// FindRegionEnvelope returns the SHA-256 of the envelope stored for the
// key, and whether there is one.
func (t *Tx) FindRegionEnvelope(ctx context.Context, territory, catalogue, epoch string, revision int) (sum []byte, found bool, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT sha256 FROM region_envelopes WHERE territory = ?1 AND catalogue_version = ?2 AND epoch = ?3 AND revision = ?4`,
		territory, catalogue, epoch, revision).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find envelope of %s %s revision %d: %w", territory, epoch, revision, err)
	}
	return sum, true, nil
}

// InsertRegionEnvelope stores a verified envelope and its cells, stamped
// with the store's clock, and returns its id. e.ID and e.ReceivedAt are
// ignored; the cells' territory and epoch are e's.
func (t *Tx) InsertRegionEnvelope(ctx context.Context, e *RegionEnvelope, cells []RegionCell) (int64, error) {
	name := fmt.Sprintf("envelope of %s %s revision %d", e.Territory, e.Epoch, e.Revision)
	res, err := t.tx.ExecContext(ctx, `INSERT INTO region_envelopes (territory, catalogue_version, epoch, revision, key_id, bytes, sha256, received_at,
    reporting_year, rho_spent, rho_cap, mechanism, sigma2, display_below, min_rate_denominator, rounding_base, headline_sigma2, rate_partition)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)`, e.Territory, e.CatalogueVersion, e.Epoch, e.Revision, e.KeyID, e.Bytes, e.SHA256, t.s.stamp(),
		e.ReportingYear, e.RhoSpent, e.RhoCap, e.Mechanism, nullString(e.Sigma2), e.DisplayBelow, e.MinRateDenominator, e.RoundingBase,
		nullString(e.HeadlineSigma2), e.RatePartition)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", name, err)
	}
	for i, c := range cells {
		var v any
		if !c.Suppressed {
			v = c.Value
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO region_cells (envelope_id, seq, territory, epoch, indicator, indicator_version, breakdown, measure, value, suppressed)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`, id, i, e.Territory, e.Epoch, c.Indicator, c.IndicatorVersion, c.Breakdown, c.Measure, v, c.Suppressed); err != nil {
			return 0, fmt.Errorf("store %s: cell %d: %w", name, i, err)
		}
	}
	return id, nil
}

// RegionRhoSpent returns the ρ spent (exact rationals, as the envelopes
// state them) by each envelope stored for the territory's reporting year.
func (t *Tx) RegionRhoSpent(ctx context.Context, territory string, year int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT rho_spent FROM region_envelopes WHERE territory = ?1 AND reporting_year = ?2 ORDER BY id`, territory, year)
	if err != nil {
		return nil, fmt.Errorf("read the %d budget of %s: %w", year, territory, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("read the %d budget of %s: %w", year, territory, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the %d budget of %s: %w", year, territory, err)
	}
	return out, nil
}

// RegionEpochs returns the distinct epochs of the stored envelopes, in no
// particular order.
func (s *Store) RegionEpochs(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT epoch FROM region_envelopes`)
	if err != nil {
		return nil, fmt.Errorf("read the region's epochs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("read the region's epochs: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the region's epochs: %w", err)
	}
	return out, nil
}

// RegionLatestEnvelopes returns, for each territory that sent the epoch,
// its latest envelope of it (highest revision, then last received), without
// its bytes.
func (s *Store) RegionLatestEnvelopes(ctx context.Context, epoch string) ([]RegionEnvelope, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT e.id, e.territory, e.catalogue_version, e.epoch, e.revision, e.key_id, e.sha256, e.received_at,
    e.reporting_year, e.rho_spent, e.rho_cap, e.mechanism, coalesce(e.sigma2, ''), e.display_below, e.min_rate_denominator, e.rounding_base,
    coalesce(e.headline_sigma2, ''), e.rate_partition
FROM region_envelopes e
WHERE e.epoch = ?1 AND e.id = (SELECT e2.id FROM region_envelopes e2 WHERE e2.territory = e.territory AND e2.epoch = e.epoch ORDER BY e2.revision DESC, e2.id DESC LIMIT 1)
ORDER BY e.territory`, epoch)
	if err != nil {
		return nil, fmt.Errorf("read envelopes of %s: %w", epoch, err)
	}
	defer rows.Close()
	var out []RegionEnvelope
	for rows.Next() {
		var e RegionEnvelope
		var at string
		if err := rows.Scan(&e.ID, &e.Territory, &e.CatalogueVersion, &e.Epoch, &e.Revision, &e.KeyID, &e.SHA256, &at,
			&e.ReportingYear, &e.RhoSpent, &e.RhoCap, &e.Mechanism, &e.Sigma2, &e.DisplayBelow, &e.MinRateDenominator, &e.RoundingBase,
			&e.HeadlineSigma2, &e.RatePartition); err != nil {
			return nil, fmt.Errorf("read envelopes of %s: %w", epoch, err)
		}
		if e.ReceivedAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read envelopes of %s: %w", epoch, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read envelopes of %s: %w", epoch, err)
	}
	return out, nil
}

// RegionCells returns the cells of the indicator ("": of every indicator)
// in each territory's latest envelope of the epoch (see
// RegionLatestEnvelopes), by territory.
func (s *Store) RegionCells(ctx context.Context, epoch, indicator string) ([]RegionCell, error) {
	// The latest envelope of each territory is found once (a handful of
	// rows from region_envelopes_epoch), and the cells are read through
	// region_cells_query: an "indicator = ?2 OR ?2 = ''" condition would
	// keep SQLite from using the index's indicator column, and read every
	// cell of the epoch to answer one indicator.
	filter := `c.epoch = ?1`
	args := []any{epoch}
	if indicator != "" {
		filter, args = `c.epoch = ?1 AND c.indicator = ?2`, append(args, indicator)
	}
	rows, err := s.r.QueryContext(ctx, `WITH latest AS MATERIALIZED (
  SELECT e.id, e.revision FROM region_envelopes e
  WHERE e.epoch = ?1 AND e.id = (SELECT e2.id FROM region_envelopes e2 WHERE e2.territory = e.territory AND e2.epoch = e.epoch ORDER BY e2.revision DESC, e2.id DESC LIMIT 1))
SELECT c.territory, c.epoch, latest.revision, c.indicator, c.indicator_version, c.breakdown, c.measure, c.value, c.suppressed
FROM region_cells c JOIN latest ON latest.id = c.envelope_id
WHERE `+filter+`
ORDER BY c.territory, c.seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("read cells of %s in %s: %w", indicator, epoch, err)
	}
	defer rows.Close()
	var out []RegionCell
	for rows.Next() {
		var c RegionCell
		var v sql.NullInt64
		if err := rows.Scan(&c.Territory, &c.Epoch, &c.Revision, &c.Indicator, &c.IndicatorVersion, &c.Breakdown, &c.Measure, &v, &c.Suppressed); err != nil {
			return nil, fmt.Errorf("read cells of %s in %s: %w", indicator, epoch, err)
		}
		c.Value = v.Int64
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read cells of %s in %s: %w", indicator, epoch, err)
	}
	return out, nil
}

// IntakeEntry is one line of the intake log. Territory, KeyID, Epoch and
// Revision are what the envelope claims ("" and -1 when it could not be
// read); Reason says why it was refused or what happened, and never holds
// the envelope's content.
type IntakeEntry struct {
	Seq       int64
	At        time.Time
	Territory string
	KeyID     string
	Epoch     string
	Revision  int // -1: unknown
	Outcome   string
	Reason    string
	SHA256    []byte
	PrevHash  []byte
	Hash      []byte
}

// The outcomes of the intake log.
const (
	IntakeAccepted  = "accepted"
	IntakeDuplicate = "duplicate"
	IntakeConflict  = "conflict"
	IntakeRefused   = "refused"
)

// AppendIntake appends e to the intake log and returns its seq; e.Seq, At,
// PrevHash and Hash are set by the store.
func (t *Tx) AppendIntake(ctx context.Context, e *IntakeEntry) (int64, error) {
	if len(e.SHA256) != sha256.Size {
		return 0, fmt.Errorf("intake log: the entry needs the SHA-256 of the envelope")
	}
	var seq int64
	prev := make([]byte, sha256.Size)
	err := t.tx.QueryRowContext(ctx, `SELECT seq, hash FROM region_intake_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("intake log: read the chain head: %w", err)
	}
	seq++
	at := t.s.stamp()
	var rev any
	if e.Revision >= 0 {
		rev = e.Revision
	}
	h := intakeHash(prev, seq, at, e.Territory, e.KeyID, e.Epoch, e.Revision, e.Outcome, e.Reason, e.SHA256)
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO region_intake_log (seq, at, territory, key_id, epoch, revision, outcome, reason, sha256, prev_hash, hash)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`, seq, at, e.Territory, e.KeyID, e.Epoch, rev, e.Outcome, e.Reason, e.SHA256, prev, h); err != nil {
		return 0, fmt.Errorf("intake log: append: %w", err)
	}
	e.Seq, e.PrevHash, e.Hash = seq, prev, h
	e.At, _ = parseTime(at)
	return seq, nil
}

// intakeHash is SHA-256(prev || seq as 8 bytes big-endian || each field as
// its length, 4 bytes big-endian, and its bytes), the fields being at,
// territory, key id, epoch, revision (decimal, "-1" when unknown), outcome,
// reason and the envelope's SHA-256: the audit log's scheme (auditHash).
func intakeHash(prev []byte, seq int64, at, territory, keyID, epoch string, revision int, outcome, reason string, sum []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	for _, f := range [][]byte{[]byte(at), []byte(territory), []byte(keyID), []byte(epoch), []byte(strconv.Itoa(revision)), []byte(outcome), []byte(reason), sum} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(f)))
		h.Write(n[:4])
		h.Write(f)
	}
	return h.Sum(nil)
}

// IntakeLog returns the last n entries of the intake log (all when n <= 0),
// oldest first.
func (s *Store) IntakeLog(ctx context.Context, n int) ([]IntakeEntry, error) {
	q := `SELECT seq, at, territory, key_id, epoch, revision, outcome, reason, sha256, prev_hash, hash FROM region_intake_log ORDER BY seq`
	if n > 0 {
		q = `SELECT * FROM (SELECT seq, at, territory, key_id, epoch, revision, outcome, reason, sha256, prev_hash, hash FROM region_intake_log ORDER BY seq DESC LIMIT ` + strconv.Itoa(n) + `) ORDER BY seq`
	}
	rows, err := s.r.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read intake log: %w", err)
	}
	defer rows.Close()
	var out []IntakeEntry
	for rows.Next() {
		e, err := scanIntake(rows)
		if err != nil {
			return nil, fmt.Errorf("read intake log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read intake log: %w", err)
	}
	return out, nil
}

func scanIntake(sc interface{ Scan(...any) error }) (IntakeEntry, error) {
	var e IntakeEntry
	var at string
	var rev sql.NullInt64
	if err := sc.Scan(&e.Seq, &at, &e.Territory, &e.KeyID, &e.Epoch, &rev, &e.Outcome, &e.Reason, &e.SHA256, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Revision = -1
	if rev.Valid {
		e.Revision = int(rev.Int64)
	}
	var err error
	e.At, err = parseTime(at)
	return e, err
}

// IntakeLogBrokenError is returned by VerifyIntakeLog for the first entry
// that does not chain to the one before it.
type IntakeLogBrokenError struct {
	Seq    int64
	Reason string
}

func (e *IntakeLogBrokenError) Error() string {
	return fmt.Sprintf("intake log broken at seq %d: %s: the log was changed outside snodo; keep this database for investigation and restore a backup", e.Seq, e.Reason)
}

// VerifyIntakeLog walks the intake log like VerifyAudit walks the audit
// log, and returns an *IntakeLogBrokenError naming the first broken entry,
// or nil and the number of entries checked. It cannot see entries removed
// from the end of the log.
func (s *Store) VerifyIntakeLog(ctx context.Context) (int64, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("verify intake log: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT seq, at, territory, key_id, epoch, revision, outcome, reason, sha256, prev_hash, hash FROM region_intake_log ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("verify intake log: %w", err)
	}
	defer rows.Close()
	want := make([]byte, sha256.Size)
	var last int64
	for rows.Next() {
		var e IntakeEntry
		var at string
		var rev sql.NullInt64
		if err := rows.Scan(&e.Seq, &at, &e.Territory, &e.KeyID, &e.Epoch, &rev, &e.Outcome, &e.Reason, &e.SHA256, &e.PrevHash, &e.Hash); err != nil {
			return last, fmt.Errorf("verify intake log after seq %d: %w", last, err)
		}
		e.Revision = -1
		if rev.Valid {
			e.Revision = int(rev.Int64)
		}
		switch {
		case e.Seq != last+1:
			return last, &IntakeLogBrokenError{Seq: e.Seq, Reason: fmt.Sprintf("expected seq %d next: entries are missing", last+1)}
		case !bytes.Equal(e.PrevHash, want):
			return last, &IntakeLogBrokenError{Seq: e.Seq, Reason: "prev_hash differs from the hash of the entry before"}
		}
		got := intakeHash(e.PrevHash, e.Seq, at, e.Territory, e.KeyID, e.Epoch, e.Revision, e.Outcome, e.Reason, e.SHA256)
		if !bytes.Equal(got, e.Hash) {
			return last, &IntakeLogBrokenError{Seq: e.Seq, Reason: "hash does not match the entry's content"}
		}
		want, last = e.Hash, e.Seq
	}
	if err := rows.Err(); err != nil {
		return last, fmt.Errorf("verify intake log after seq %d: %w", last, err)
	}
	return last, nil
}
