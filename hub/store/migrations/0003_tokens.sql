-- 0003_tokens: bearer tokens of the HTTP API.
--
-- Only the SHA-256 of a token is stored; the token itself is shown once, when
-- it is created, and never again. A revoked token keeps its row (the audit log
-- and "snodo tokens list" still name it) and its name may be given to a new
-- token: names are unique among the tokens not revoked.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash         BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32), -- SHA-256 of the token
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
