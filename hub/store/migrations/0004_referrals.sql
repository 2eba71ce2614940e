-- 0004_referrals: referrals tracked in a closed loop.
--
-- A referral record (in records) is the source's copy; this table is the
-- hub's view of it: its parties, its status as the status events drove it,
-- and its delivery to the receiving organisation's connector. Person ids
-- only: the identity a receiver needs travels sealed in delivery_envelopes,
-- deleted after the delivery plus the configured retention.
CREATE TABLE referrals (
    source        TEXT NOT NULL, -- the connector instance the referral came from
    record_id     TEXT NOT NULL, -- its id there
    requester     TEXT NOT NULL, -- organisation ids
    owner         TEXT NOT NULL,
    person_id     TEXT,
    priority      TEXT NOT NULL,
    category      TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT,
    status_at     TEXT NOT NULL,
    authored_on   TEXT NOT NULL,
    responded_at  TEXT,          -- first accepted or rejected
    closed_at     TEXT,          -- reached a final status
    delivery      TEXT NOT NULL CHECK (delivery IN ('local', 'unrouted', 'held', 'pending', 'delivered')),
    delivery_note TEXT,          -- why held or unrouted, the last delivery error
    target        TEXT,          -- the connector instance it is delivered to
    target_id     TEXT,          -- the id the receiving system gave it
    delivered_at  TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (source, record_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX referrals_status ON referrals (status);
CREATE INDEX referrals_person ON referrals (person_id) WHERE person_id IS NOT NULL;

-- Every status change reported, applied or refused: append-only.
CREATE TABLE referral_events (
    id            INTEGER PRIMARY KEY,
    ref_source    TEXT NOT NULL,
    ref_record_id TEXT NOT NULL,
    event_source  TEXT NOT NULL, -- the connector instance that reported it
    event_id      TEXT,          -- the status event's record id; NULL for a referral's first status
    from_status   TEXT,
    to_status     TEXT NOT NULL,
    reason        TEXT,
    set_by        TEXT NOT NULL,
    at            TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
    problem       TEXT,          -- why refused
    recorded_at   TEXT NOT NULL,
    UNIQUE (event_source, event_id)
) STRICT;

CREATE INDEX referral_events_referral ON referral_events (ref_source, ref_record_id, id);

-- The identity a referral's receiver needs, sealed (AES-256-GCM): kept from
-- ingest until the delivery plus the retention (or the referral's end).
CREATE TABLE delivery_envelopes (
    ref_source    TEXT NOT NULL,
    ref_record_id TEXT NOT NULL,
    sealed        BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    delete_after  TEXT,         -- set once delivered or no longer needed
    PRIMARY KEY (ref_source, ref_record_id)
) STRICT, WITHOUT ROWID;
