-- 0005_releases: statistical releases, their published cells and the
-- privacy budget ledger (shared/design/PRIVACY.md).
--
-- A release is one epoch ("2025-Q2": quarterly provisional, "2025": annual
-- final) at one revision; (epoch, revision) is unique, so a release is
-- computed once and its stored values are re-sent identically on every
-- retry. A revision is a new row, never an update of the old one.
--
-- True counts are NOT stored: a cell keeps only the value that was published
-- (noisy, or rounded in the fallback mode), or none when it is suppressed.
-- Budgets (ρ, zCDP) are exact rationals written as text ("1/16", "3/4", "0").
CREATE TABLE releases (
    id                INTEGER PRIMARY KEY,
    epoch             TEXT    NOT NULL CHECK (epoch GLOB '[0-9][0-9][0-9][0-9]' OR epoch GLOB '[0-9][0-9][0-9][0-9]-Q[1-4]'),
    kind              TEXT    NOT NULL CHECK (kind IN ('quarterly', 'annual')),
    reporting_year    INTEGER NOT NULL,
    revision          INTEGER NOT NULL CHECK (revision >= 0),
    catalogue_version TEXT    NOT NULL,
    mode              TEXT    NOT NULL CHECK (mode IN ('noise', 'rounding')),
    sigma2            TEXT,                 -- discrete Gaussian σ², NULL in the rounding mode
    tables            INTEGER NOT NULL CHECK (tables >= 0), -- sensitivity-1 tables the ρ was split over
    settings          TEXT    NOT NULL,     -- canonical JSON of the disclosure settings used
    created_at        TEXT    NOT NULL,
    envelope          BLOB,                 -- the signed envelope, once made; never replaced
    UNIQUE (epoch, revision)
) STRICT;

CREATE TABLE release_cells (
    release_id        INTEGER NOT NULL REFERENCES releases (id),
    seq               INTEGER NOT NULL,     -- order of the cells in the release
    indicator         TEXT    NOT NULL,
    indicator_version TEXT    NOT NULL,
    breakdown         TEXT    NOT NULL,     -- canonical JSON object, '{}' for the total
    measure           TEXT    NOT NULL,
    value             INTEGER,              -- the published value; NULL when suppressed
    suppressed        INTEGER NOT NULL CHECK (suppressed IN (0, 1)),
    CHECK ((suppressed = 1) = (value IS NULL)),
    PRIMARY KEY (release_id, seq),
    UNIQUE (release_id, indicator, indicator_version, breakdown, measure)
) STRICT;

CREATE TABLE budget_ledger (
    reporting_year    INTEGER NOT NULL,
    release_id        INTEGER NOT NULL UNIQUE REFERENCES releases (id),
    rho               TEXT    NOT NULL,     -- spent by this release
    rho_cumulative    TEXT    NOT NULL,     -- spent in the year up to and including this release
    rho_cap           TEXT    NOT NULL,     -- the year's cap when the entry was made
    recorded_at       TEXT    NOT NULL,
    PRIMARY KEY (reporting_year, release_id)
) STRICT;
