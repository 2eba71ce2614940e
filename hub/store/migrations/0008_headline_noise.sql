-- 0008_headline_noise: a release's noise in two tiers (PRIVACY.md goal 3).
-- An annual release gives its totals, the headline figures, their own
-- share of the ρ and so their own σ²; the breakdowns keep releases.sigma2.
-- Rates are noised as one partition table (the numerator and the rest of
-- the denominator), so a denominator carries the noise of two cells: the
-- region must know it to compute intervals.
--
-- Releases and envelopes made before this migration have one σ² and
-- independent rates: NULL headline σ² and rate_partition 0 say so.

ALTER TABLE releases ADD COLUMN headline_tables INTEGER NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN headline_sigma2 TEXT;      -- NULL: one σ² for every cell
ALTER TABLE releases ADD COLUMN rate_partition INTEGER NOT NULL DEFAULT 0;

ALTER TABLE region_envelopes ADD COLUMN headline_sigma2 TEXT;
ALTER TABLE region_envelopes ADD COLUMN rate_partition INTEGER NOT NULL DEFAULT 0;

UPDATE region_envelopes SET
    headline_sigma2 = json_extract(CAST(bytes AS TEXT), '$.noise.headline.sigma2'),
    rate_partition  = coalesce(json_extract(CAST(bytes AS TEXT), '$.noise.rates') = 'partition', 0);
