package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Data-protection operations: erasure of one person, a subject-access
// export of what the hub holds on them, and retention by schema. Person ids
// are pseudonyms; the functions here never see an identifier in clear (the
// caller pseudonymises it and matches the sealed quarantine items, which
// only it can open).

// errRollback makes Write roll back a transaction that was run only to
// count what it would change (a dry run counts exactly what a real run
// deletes, because it runs the same statements).
var errRollback = errors.New("dry run: rolled back")

// mentionPattern finds the person ids a canonical record body refers to:
// the pipeline writes every person reference as "person_id":"<ULID>".
var mentionPattern = regexp.MustCompile(`"person_id":"([0-9A-HJKMNP-TV-Z]{26})"`)

// PersonExists reports whether personID is a person of the keyed index.
func (s *Store) PersonExists(ctx context.Context, personID string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM persons WHERE person_id = ?1`, personID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up person %s: %w", personID, err)
	}
	return true, nil
}

// PersonByDigest returns the person an identifier's keyed digest belongs
// to; found is false when the keyed index does not hold it.
func (s *Store) PersonByDigest(ctx context.Context, digest []byte) (personID string, found bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT person_id FROM person_identifiers WHERE digest = ?1`, digest).Scan(&personID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up identifier digest: %w", err)
	}
	return personID, true, nil
}

// PersonIdentifier is one entry of the keyed index: the digest is an HMAC,
// never the identifier.
type PersonIdentifier struct {
	Digest   []byte
	Kind     string
	LinkedAt time.Time
}

// PersonIdentifiers lists the keyed-index entries of a person.
func (s *Store) PersonIdentifiers(ctx context.Context, personID string) ([]PersonIdentifier, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT digest, kind, linked_at FROM person_identifiers WHERE person_id = ?1 ORDER BY linked_at, kind`, personID)
	if err != nil {
		return nil, fmt.Errorf("list the identifiers of person %s: %w", personID, err)
	}
	defer rows.Close()
	var out []PersonIdentifier
	for rows.Next() {
		var p PersonIdentifier
		var at string
		if err := rows.Scan(&p.Digest, &p.Kind, &at); err != nil {
			return nil, fmt.Errorf("list the identifiers of person %s: %w", personID, err)
		}
		if p.LinkedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AllQuarantine pages through every quarantine item, dropped and replayed
// ones included (they still hold the sealed record): at most limit items
// with ids above afterID, in id order.
func (s *Store) AllQuarantine(ctx context.Context, afterID int64, limit int) ([]QuarantineEntry, error) {
	if limit <= 0 {
		limit = defaultQuarantineLimit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+quarantineColumns+` FROM quarantine WHERE id > ?1 ORDER BY id LIMIT ?2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list the quarantine: %w", err)
	}
	defer rows.Close()
	var out []QuarantineEntry
	for rows.Next() {
		e, err := scanQuarantine(rows)
		if err != nil {
			return nil, fmt.Errorf("list the quarantine: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PersonRecords returns the records whose main person is personID and,
// apart, the records of others that refer to the person in their body (a
// household listing them as a member, say), both in id order.
func (s *Store) PersonRecords(ctx context.Context, personID string) (own, mentionedIn []StoredRecord, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM records WHERE person_id = ?1 ORDER BY id`, personID)
	if err != nil {
		return nil, nil, fmt.Errorf("read the records of person %s: %w", personID, err)
	}
	if own, err = scanRecords(rows); err != nil {
		return nil, nil, fmt.Errorf("read the records of person %s: %w", personID, err)
	}
	// instr on the body is a full scan: an operator's occasional command,
	// not a hot path.
	rows, err = s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM records
WHERE (person_id IS NULL OR person_id <> ?1) AND instr(body, CAST(?2 AS BLOB)) > 0 ORDER BY id`, personID, `"person_id":"`+personID+`"`)
	if err != nil {
		return nil, nil, fmt.Errorf("read the records that refer to person %s: %w", personID, err)
	}
	if mentionedIn, err = scanRecords(rows); err != nil {
		return nil, nil, fmt.Errorf("read the records that refer to person %s: %w", personID, err)
	}
	return own, mentionedIn, nil
}

// PersonReferrals lists the referrals about personID.
func (s *Store) PersonReferrals(ctx context.Context, personID string) ([]Referral, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+referralColumns+` FROM referrals WHERE person_id = ?1 ORDER BY source, record_id`, personID)
	if err != nil {
		return nil, fmt.Errorf("list the referrals of person %s: %w", personID, err)
	}
	return scanReferrals(rows, "list the referrals of person "+personID)
}

// AuditEntry is one entry of the audit log.
type AuditEntry struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Detail json.RawMessage `json:"detail"`
}

// AuditAbout lists the audit entries that name personID (reads of their
// timeline, earlier exports and erasures) or one of the given referrals
// (reads of a referral), oldest first.
func (s *Store) AuditAbout(ctx context.Context, personID string, referrals []Referral) ([]AuditEntry, error) {
	type ref struct {
		Source   string `json:"source"`
		RecordID string `json:"record_id"`
	}
	refs := make([]ref, len(referrals))
	for i, r := range referrals {
		refs[i] = ref{r.Source, r.RecordID}
	}
	refJSON, err := json.Marshal(refs)
	if err != nil {
		return nil, fmt.Errorf("audit entries about person %s: %w", personID, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, actor, action, detail FROM audit
WHERE json_extract(detail, '$.person_id') = ?1
   OR EXISTS (SELECT 1 FROM json_each(?2) r
              WHERE json_extract(r.value, '$.source') = json_extract(audit.detail, '$.source')
                AND json_extract(r.value, '$.record_id') = json_extract(audit.detail, '$.record_id'))
ORDER BY seq`, personID, string(refJSON))
	if err != nil {
		return nil, fmt.Errorf("audit entries about person %s: %w", personID, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at, detail string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &detail); err != nil {
			return nil, fmt.Errorf("audit entries about person %s: %w", personID, err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		e.Detail = json.RawMessage(detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Erasure counts what ErasePerson deleted (or, in a dry run, would delete).
type Erasure struct {
	Records        int64 `json:"records"`         // records whose main person it is
	Identifiers    int64 `json:"identifiers"`     // keyed-index entries
	Persons        int64 `json:"persons"`         // 1 when the person id was in the index
	Referrals      int64 `json:"referrals"`       // the hub's view of their referrals
	ReferralEvents int64 `json:"referral_events"` // their status history
	StatusRecords  int64 `json:"status_records"`  // stored status-event records of those referrals
	Envelopes      int64 `json:"envelopes"`       // sealed delivery envelopes
	Outbox         int64 `json:"outbox"`          // delivery messages of those referrals
	Quarantine     int64 `json:"quarantine"`      // quarantine items that name the person
	// MentionedIn counts the records of other people that still refer to
	// the person id (a household listing them as a member): they are not
	// the person's to erase, and the id there no longer leads to any
	// identifier.
	MentionedIn int64 `json:"mentioned_in"`
}

// ErasePerson deletes everything the hub holds on personID in one
// transaction: their records, their keyed-index entries and person row,
// their referrals with the referrals' status history, status-event
// records, sealed delivery envelopes and outbox messages, and the
// quarantine items given (the caller matched them: only it can open them).
// When actor is not empty the erasure is written to the audit log in the
// same transaction, with the person id and the counts only. With dryRun
// nothing changes: the same statements run and are rolled back, so the
// counts are exactly what a real run would delete.
func (s *Store) ErasePerson(ctx context.Context, personID string, quarantineIDs []int64, dryRun bool, actor string) (Erasure, error) {
	var e Erasure
	err := s.Write(ctx, func(tx *Tx) error {
		e = Erasure{}
		if err := tx.erasePerson(ctx, personID, quarantineIDs, &e); err != nil {
			return err
		}
		if dryRun {
			return errRollback
		}
		if actor == "" {
			return nil
		}
		return tx.Audit(ctx, actor, "person.erase", map[string]any{"person_id": personID, "deleted": e})
	})
	if err != nil && !errors.Is(err, errRollback) {
		return Erasure{}, fmt.Errorf("erase person %s: %w", personID, err)
	}
	if !dryRun && e != (Erasure{}) {
		if err := s.truncateWAL(ctx); err != nil {
			return e, fmt.Errorf("erase person %s: erased, but %w", personID, err)
		}
	}
	return e, nil
}

// truncateWAL copies the write-ahead log into the database and empties
// it, after a deletion: the log still holds the deleted rows' pages as
// they were (secure_delete zeroes them in the database, not in the log).
// It waits for readers as long as the busy timeout allows.
func (s *Store) truncateWAL(ctx context.Context) error {
	var busy, frames, copied int
	if err := s.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("clear the write-ahead log: %w", err)
	}
	if busy != 0 {
		return ErrLogNotCleared
	}
	return nil
}

// ErrLogNotCleared says that a deletion is committed but the write-ahead
// log, which still holds the deleted rows, could not be emptied because
// other connections kept reading: SQLite overwrites it in later
// checkpoints. The deletion itself stands.
var ErrLogNotCleared = errors.New("the write-ahead log could not be emptied while other connections read the database: the deleted rows leave it in later checkpoints")

func (t *Tx) erasePerson(ctx context.Context, personID string, quarantineIDs []int64, e *Erasure) error {
	refs, err := t.referralKeys(ctx, `SELECT source, record_id FROM referrals WHERE person_id = ?1`, personID)
	if err != nil {
		return err
	}
	if err := t.deleteReferrals(ctx, refs, true, e); err != nil {
		return err
	}
	if e.Records, err = t.exec(ctx, `DELETE FROM records WHERE person_id = ?1`, personID); err != nil {
		return fmt.Errorf("delete the records: %w", err)
	}
	if e.Identifiers, err = t.exec(ctx, `DELETE FROM person_identifiers WHERE person_id = ?1`, personID); err != nil {
		return fmt.Errorf("delete the keyed-index entries: %w", err)
	}
	if e.Persons, err = t.exec(ctx, `DELETE FROM persons WHERE person_id = ?1`, personID); err != nil {
		return fmt.Errorf("delete the person: %w", err)
	}
	for _, id := range quarantineIDs {
		n, err := t.exec(ctx, `DELETE FROM quarantine WHERE id = ?1`, id)
		if err != nil {
			return fmt.Errorf("delete quarantine item %d: %w", id, err)
		}
		e.Quarantine += n
	}
	err = t.tx.QueryRowContext(ctx, `SELECT count(*) FROM records WHERE instr(body, CAST(?1 AS BLOB)) > 0`,
		`"person_id":"`+personID+`"`).Scan(&e.MentionedIn)
	if err != nil {
		return fmt.Errorf("count the records that still refer to the person: %w", err)
	}
	return nil
}

type refKey struct{ source, recordID string }

func (t *Tx) referralKeys(ctx context.Context, query string, args ...any) ([]refKey, error) {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("find the referrals: %w", err)
	}
	defer rows.Close()
	var out []refKey
	for rows.Next() {
		var k refKey
		if err := rows.Scan(&k.source, &k.recordID); err != nil {
			return nil, fmt.Errorf("find the referrals: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// deleteReferrals deletes what hangs off each referral: its status
// history, its status-event records (withStatusRecords), its sealed
// envelope, its outbox messages (a pending delivery would fail on the
// missing record), and the referral row.
func (t *Tx) deleteReferrals(ctx context.Context, refs []refKey, withStatusRecords bool, e *Erasure) error {
	for _, r := range refs {
		what := fmt.Sprintf("referral %s/%s", r.source, r.recordID)
		if withStatusRecords {
			n, err := t.exec(ctx, `DELETE FROM records WHERE (source, record_id) IN
    (SELECT event_source, event_id FROM referral_events WHERE ref_source = ?1 AND ref_record_id = ?2 AND event_id IS NOT NULL)`,
				r.source, r.recordID)
			if err != nil {
				return fmt.Errorf("delete the status records of %s: %w", what, err)
			}
			e.StatusRecords += n
		}
		n, err := t.exec(ctx, `DELETE FROM referral_events WHERE ref_source = ?1 AND ref_record_id = ?2`, r.source, r.recordID)
		if err != nil {
			return fmt.Errorf("delete the status history of %s: %w", what, err)
		}
		e.ReferralEvents += n
		if n, err = t.exec(ctx, `DELETE FROM delivery_envelopes WHERE ref_source = ?1 AND ref_record_id = ?2`, r.source, r.recordID); err != nil {
			return fmt.Errorf("delete the envelope of %s: %w", what, err)
		}
		e.Envelopes += n
		// The referral's own delivery, and the status messages that name
		// it (see hub/referral's delivery payload).
		n, err = t.exec(ctx, `DELETE FROM outbox WHERE dedup_key = ?1
   OR (dedup_key LIKE 'status:%' AND json_valid(CAST(payload AS TEXT))
       AND json_extract(CAST(payload AS TEXT), '$.referral.source') = ?2
       AND json_extract(CAST(payload AS TEXT), '$.referral.record_id') = ?3)`,
			"referral:"+r.source+":"+r.recordID, r.source, r.recordID)
		if err != nil {
			return fmt.Errorf("delete the outbox messages of %s: %w", what, err)
		}
		e.Outbox += n
		if n, err = t.exec(ctx, `DELETE FROM referrals WHERE source = ?1 AND record_id = ?2`, r.source, r.recordID); err != nil {
			return fmt.Errorf("delete %s: %w", what, err)
		}
		e.Referrals += n
	}
	return nil
}

func (t *Tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RetentionResult counts what ApplyRetention deleted (or would delete).
type RetentionResult struct {
	// Records by schema: those older than the schema's retention.
	Records map[string]int64 `json:"records"`
	// Referrals, ReferralEvents, Envelopes and Outbox hang off the
	// referral records deleted.
	Referrals      int64 `json:"referrals"`
	ReferralEvents int64 `json:"referral_events"`
	Envelopes      int64 `json:"envelopes"`
	Outbox         int64 `json:"outbox"`
	// Persons left with no record, referral or mention, deleted from the
	// keyed index with their identifiers.
	Persons     int64 `json:"persons"`
	Identifiers int64 `json:"identifiers"`
}

// ApplyRetention deletes the records of each schema in months whose
// recorded_at (first_stored_at when the record has none) is more than that
// many months before now, with what hangs off them: the referral rows of
// deleted referral records, with their history, envelopes and outbox
// messages; and the keyed-index entries of the people it leaves with no
// record, referral or mention anywhere. When actor is not empty the run is
// written to the audit log (counts only). With dryRun nothing changes and
// the counts are what a real run would delete.
func (s *Store) ApplyRetention(ctx context.Context, months map[string]int, now time.Time, dryRun bool, actor string) (RetentionResult, error) {
	schemas := make([]string, 0, len(months))
	for name, m := range months {
		if m < 1 {
			return RetentionResult{}, fmt.Errorf("retention of %s: %d months: give 1 or more", name, m)
		}
		schemas = append(schemas, name)
	}
	sort.Strings(schemas)
	var res RetentionResult
	err := s.Write(ctx, func(tx *Tx) error {
		res = RetentionResult{Records: map[string]int64{}}
		candidates := map[string]bool{} // people whose records go
		for _, name := range schemas {
			cutoff := formatTime(now.AddDate(0, -months[name], 0))
			const old = `schema = ?1 AND coalesce(recorded_at, first_stored_at) < ?2`
			if err := tx.collectPeople(ctx, `SELECT person_id, body FROM records WHERE `+old, candidates, name, cutoff); err != nil {
				return fmt.Errorf("retention of %s: %w", name, err)
			}
			refs, err := tx.referralKeys(ctx, `SELECT r.source, r.record_id FROM referrals r
JOIN records c ON c.source = r.source AND c.record_id = r.record_id WHERE c.`+old, name, cutoff)
			if err != nil {
				return fmt.Errorf("retention of %s: %w", name, err)
			}
			var e Erasure
			// Status-event records have their own schema and retention.
			if err := tx.deleteReferrals(ctx, refs, false, &e); err != nil {
				return fmt.Errorf("retention of %s: %w", name, err)
			}
			res.Referrals += e.Referrals
			res.ReferralEvents += e.ReferralEvents
			res.Envelopes += e.Envelopes
			res.Outbox += e.Outbox
			n, err := tx.exec(ctx, `DELETE FROM records WHERE `+old, name, cutoff)
			if err != nil {
				return fmt.Errorf("retention of %s: delete the records: %w", name, err)
			}
			res.Records[name] = n
		}
		if err := tx.deleteOrphans(ctx, candidates, &res); err != nil {
			return err
		}
		if dryRun {
			return errRollback
		}
		if actor == "" {
			return nil
		}
		return tx.Audit(ctx, actor, "retention.run", res)
	})
	if err != nil && !errors.Is(err, errRollback) {
		return RetentionResult{}, fmt.Errorf("apply retention: %w", err)
	}
	if !dryRun && res.deleted() {
		if err := s.truncateWAL(ctx); err != nil {
			return res, fmt.Errorf("apply retention: deleted, but %w", err)
		}
	}
	return res, nil
}

// deleted says whether the retention deleted anything.
func (r RetentionResult) deleted() bool {
	for _, n := range r.Records {
		if n > 0 {
			return true
		}
	}
	return r.Persons > 0 || r.Referrals > 0 || r.Outbox > 0
}

// collectPeople adds to into every person id the rows (person_id, body)
// of query name.
func (t *Tx) collectPeople(ctx context.Context, query string, into map[string]bool, args ...any) error {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read the people of the records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var person sql.NullString
		var body []byte
		if err := rows.Scan(&person, &body); err != nil {
			return fmt.Errorf("read the people of the records: %w", err)
		}
		if person.Valid {
			into[person.String] = true
		}
		for _, m := range mentionPattern.FindAllSubmatch(body, -1) {
			into[string(m[1])] = true
		}
	}
	return rows.Err()
}

// deleteOrphans deletes the candidates that nothing refers to any more
// from the keyed index: no record of theirs, no referral, no mention in a
// record's body. Keeping them would keep a link from identifiers to a
// pseudonym that no longer stands for any data.
func (t *Tx) deleteOrphans(ctx context.Context, candidates map[string]bool, res *RetentionResult) error {
	if len(candidates) == 0 {
		return nil
	}
	for id := range candidates {
		var one int
		err := t.tx.QueryRowContext(ctx, `SELECT 1 WHERE EXISTS (SELECT 1 FROM records WHERE person_id = ?1)
   OR EXISTS (SELECT 1 FROM referrals WHERE person_id = ?1)`, id).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("retention: check who still refers to a person: %w", err)
		default:
			delete(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	// One pass over the bodies for the mentions (household members).
	mentioned := map[string]bool{}
	if err := t.collectPeople(ctx, `SELECT NULL, body FROM records WHERE instr(body, CAST('"person_id":"' AS BLOB)) > 0`, mentioned); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	for id := range candidates {
		if mentioned[id] {
			continue
		}
		n, err := t.exec(ctx, `DELETE FROM person_identifiers WHERE person_id = ?1`, id)
		if err != nil {
			return fmt.Errorf("retention: delete the keyed-index entries of a person: %w", err)
		}
		res.Identifiers += n
		if n, err = t.exec(ctx, `DELETE FROM persons WHERE person_id = ?1`, id); err != nil {
			return fmt.Errorf("retention: delete a person of the keyed index: %w", err)
		}
		res.Persons += n
	}
	return nil
}
