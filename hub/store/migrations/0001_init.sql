-- 0001_init: the first schema of the hub's store.
--
-- Released migrations are never edited: change the schema by adding the next
-- numbered file. A migration runs inside the transaction the store opens for
-- it, so it must not contain BEGIN, COMMIT or PRAGMA user_version itself.
-- Times are RFC 3339 UTC text with nine fractional digits, so they sort as text.

-- Records in the shared data contract, one row per (source, record_id).
CREATE TABLE records (
    id              INTEGER PRIMARY KEY,
    schema          TEXT    NOT NULL, -- schema short name, e.g. "referral"
    schema_id       TEXT    NOT NULL, -- the schema's full $id
    source          TEXT    NOT NULL, -- connector instance
    record_id       TEXT    NOT NULL, -- stable id in the source
    territory       TEXT    NOT NULL,
    content_hash    BLOB    NOT NULL, -- SHA-256 of the canonical body
    body            BLOB    NOT NULL, -- canonical JSON
    recorded_at     TEXT,
    first_stored_at TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, record_id)
) STRICT;

CREATE INDEX records_schema ON records (schema);

-- The keyed index: HMAC digests of normalised identifiers, never raw codes.
CREATE TABLE persons (
    person_id  TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE person_identifiers (
    digest    BLOB NOT NULL PRIMARY KEY,
    kind      TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES persons (person_id),
    linked_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX person_identifiers_person ON person_identifiers (person_id);

-- Connector cursors, committed with the records they cover.
CREATE TABLE cursors (
    source     TEXT NOT NULL PRIMARY KEY,
    cursor     BLOB NOT NULL,
    updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Records that failed validation or pseudonymisation, kept for replay.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    record_id   TEXT,
    schema      TEXT,
    errors      TEXT NOT NULL, -- JSON array of {pointer, message}
    raw         BLOB NOT NULL, -- ciphertext, encrypted by the caller
    created_at  TEXT NOT NULL,
    replayed_at TEXT,
    dropped_at  TEXT
) STRICT;

-- Durable outbox: messages to deliver at least once, deduplicated by key.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    topic           TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL UNIQUE,
    payload         BLOB    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    delivered_at    TEXT
) STRICT;

CREATE INDEX outbox_pending ON outbox (topic, next_attempt_at) WHERE delivered_at IS NULL;

-- Hash-chained audit log: hash = SHA-256(prev_hash || canonical(seq, at, actor, action, detail)).
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL, -- JSON
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
