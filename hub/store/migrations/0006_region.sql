-- 0006_region: the region hub (snodo region serve). Territories enrol their
-- Ed25519 public keys; their signed statistical envelopes
-- (hub/federation) are received once per (territory, catalogue version,
-- epoch, revision) and their cells flattened for aggregate queries; every
-- intake attempt, refused ones included, is appended to a hash-chained log.
--
-- Nothing here is personal: envelopes hold published (noisy, rounded or
-- suppressed) cells only. A refused envelope's bytes are never stored, only
-- their SHA-256.

CREATE TABLE region_territories (
    code        TEXT NOT NULL PRIMARY KEY CHECK (code GLOB '[A-Z0-9]*' AND length(code) BETWEEN 2 AND 32),
    name        TEXT NOT NULL DEFAULT '',
    enrolled_at TEXT NOT NULL
) STRICT;

-- A territory may hold several keys (rotation); a revoked key verifies
-- nothing from then on, but what it signed before stays.
CREATE TABLE region_keys (
    key_id      TEXT NOT NULL PRIMARY KEY,   -- "ed25519:" + hex SHA-256 of the key
    territory   TEXT NOT NULL REFERENCES region_territories (code),
    public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
    enrolled_at TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;

CREATE INDEX region_keys_territory ON region_keys (territory);

-- One-time enrolment tokens: only their SHA-256 is kept.
CREATE TABLE region_enrolment_tokens (
    id          INTEGER PRIMARY KEY,
    territory   TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    key_id      TEXT                         -- the key enrolled with it
) STRICT;

CREATE TABLE region_envelopes (
    id                INTEGER PRIMARY KEY,
    territory         TEXT    NOT NULL REFERENCES region_territories (code),
    catalogue_version TEXT    NOT NULL,
    epoch             TEXT    NOT NULL,
    revision          INTEGER NOT NULL CHECK (revision >= 0),
    key_id            TEXT    NOT NULL,
    bytes             BLOB    NOT NULL,      -- the signed envelope exactly as received
    sha256            BLOB    NOT NULL CHECK (length(sha256) = 32),
    received_at       TEXT    NOT NULL,
    UNIQUE (territory, catalogue_version, epoch, revision)
) STRICT;

CREATE INDEX region_envelopes_epoch ON region_envelopes (epoch, territory, revision);

CREATE TABLE region_cells (
    envelope_id       INTEGER NOT NULL REFERENCES region_envelopes (id),
    seq               INTEGER NOT NULL,      -- order of the cell in the envelope
    territory         TEXT    NOT NULL,
    epoch             TEXT    NOT NULL,
    indicator         TEXT    NOT NULL,
    indicator_version TEXT    NOT NULL,
    breakdown         TEXT    NOT NULL,      -- canonical JSON object, '{}' for the total
    measure           TEXT    NOT NULL,
    value             INTEGER,               -- the published value; NULL when suppressed
    suppressed        INTEGER NOT NULL CHECK (suppressed IN (0, 1)),
    CHECK ((suppressed = 1) = (value IS NULL)),
    PRIMARY KEY (envelope_id, seq)
) STRICT;

CREATE INDEX region_cells_query ON region_cells (epoch, indicator, breakdown);

-- Append-only, hash-chained like the audit log: hash = SHA-256(prev_hash ||
-- the entry's fields), see hub/store/region.go. Territory, key id, epoch and
-- revision are those the envelope claims ('' / NULL when unreadable).
CREATE TABLE region_intake_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    territory   TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    epoch       TEXT    NOT NULL,
    revision    INTEGER,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'conflict', 'refused')),
    reason      TEXT    NOT NULL,
    sha256      BLOB    NOT NULL CHECK (length(sha256) = 32),
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
) STRICT;

CREATE TRIGGER region_intake_log_no_update BEFORE UPDATE ON region_intake_log
BEGIN SELECT RAISE(ABORT, 'the intake log is append-only'); END;
CREATE TRIGGER region_intake_log_no_delete BEFORE DELETE ON region_intake_log
BEGIN SELECT RAISE(ABORT, 'the intake log is append-only'); END;
