-- 0002_records_person: what the ingest pipeline (issue 4) needs.
--
-- records.person_id is the pseudonymous person id of the record's main person
-- (its /person, else the first person it refers to), so that a person's
-- timeline is one index range. NULL for records about no one (organisations,
-- services, capacity).
ALTER TABLE records ADD COLUMN person_id TEXT;

CREATE INDEX records_person ON records (person_id, recorded_at) WHERE person_id IS NOT NULL;

-- One row per connector read run by "snodo ingest" (and the hub): what came
-- in and how it ended, for "snodo status" and the API.
CREATE TABLE connector_runs (
    id          INTEGER PRIMARY KEY,
    connector   TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL,
    outcome     TEXT    NOT NULL, -- ok | degraded | failed | interrupted
    records     INTEGER NOT NULL, -- records read
    stored      INTEGER NOT NULL, -- inserted or updated
    unchanged   INTEGER NOT NULL, -- same content as already stored
    quarantined INTEGER NOT NULL,
    message     TEXT              -- why, when not ok; never personal data
) STRICT;

CREATE INDEX connector_runs_last ON connector_runs (connector, id);
