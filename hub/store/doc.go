// Package store is the hub's durable state: one SQLite file (modernc.org/sqlite,
// no cgo) holding the records of the shared data contract, the keyed index of
// persons, connector cursors, the quarantine, the outbox and the hash-chained
// audit log.
//
// # One writer, a pool of readers
//
// SQLite allows one writer at a time per database file. Rather than let many
// connections race for the write lock and retry on SQLITE_BUSY, the store
// keeps exactly one writer connection (a *sql.DB limited to one connection)
// on which every write transaction starts with BEGIN IMMEDIATE: the lock is
// taken when the transaction starts, never upgraded halfway, so a write
// transaction cannot fail with "database is locked" after doing work.
// Goroutines that want to write queue for that connection inside
// database/sql, in order and honouring their contexts. The busy timeout
// (default 5 s) only matters when another process (a backup, the sqlite3
// shell) holds the lock.
//
// Reads go through a second *sql.DB opened read-only (SQLite's mode=ro), a
// small pool of connections. Nothing read through it can write, by mistake
// or otherwise.
//
// # Why WAL
//
// In write-ahead-log mode readers see a consistent snapshot and never block
// the writer, nor the writer them: API requests and statistics keep reading
// while the pipeline commits batches. Commits append to the log instead of
// rewriting pages, and with synchronous=NORMAL a commit does not wait for
// fsync (a power cut can lose the last transactions, never corrupt the
// file; connectors re-deliver from the last committed cursor). Open refuses a
// file system on which WAL cannot be enabled.
//
// # Records, cursors and content hashes
//
// Write runs a function in one transaction, so the pipeline stores a batch of
// records and the connector's cursor together: after a crash either both are
// there or neither is, and the connector resumes from a cursor that matches
// the data. Records are idempotent by (source, record_id). Each carries the
// SHA-256 of its canonical JSON body: a record delivered again with the same
// content is recognised by its hash with one index lookup and not written at
// all (no row, page or WAL frame is rewritten; BenchmarkUpsertUnchanged runs
// about 2.5 times faster than an insert or an update), and a real change bumps
// its version. The caller passes canonical bytes; the store never re-encodes
// them. The hot statements are prepared once on the writer connection and
// reused by every transaction.
//
// # Keyed index
//
// persons and person_identifiers map HMAC digests of normalised identifiers
// (computed by package hub/identity) to random person ids. The raw codes never
// reach this package. *Store implements identity.Directory; the *Tx variants
// let the pipeline pseudonymise inside its batch transaction.
//
// # Audit log
//
// Every audit entry stores the hash of the one before it:
// hash = SHA-256(prev_hash || seq (8 bytes big-endian) || for at, actor,
// action and detail in turn: length (4 bytes big-endian) || UTF-8 bytes). The
// first prev_hash is 32 zero bytes. VerifyAudit recomputes the chain and names
// the first entry changed, inserted or removed in the middle.
//
// # Times
//
// Times are RFC 3339 in UTC with exactly nine fractional digits
// (2006-01-02T15:04:05.000000000Z), so text order is time order. The clock
// is injectable with WithClock.
//
// # Migrations
//
// The schema lives in migrations/NNNN_name.sql, embedded in the binary and
// numbered from 0001 without gaps. Open applies those above the database's
// PRAGMA user_version, each in its own transaction together with the new
// user_version, so a failed migration leaves the previous version intact. A
// database whose version is higher than the last migration this binary knows
// was written by a newer snodo and is refused with *TooNewError.
//
// Rules: never edit a migration once it has been released (databases in the
// field already ran it); change the schema by adding the next numbered file.
// A migration holds plain DDL/DML only: no BEGIN, COMMIT or PRAGMA
// user_version of its own.
package store
