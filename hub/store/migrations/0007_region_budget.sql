-- 0007_region_budget: what the region needs of an envelope besides its
-- cells, kept in columns at intake so that it never re-parses the bytes:
-- the reporting year and ρ spent (the region keeps its own account of each
-- territory's yearly budget and refuses an envelope that would overspend
-- it, whatever the envelope claims), the cap the territory declared, and
-- the noise and disclosure settings its aggregates apply (intervals from
-- σ², "<10" below display_below, no rate under min_rate_denominator).
--
-- Envelopes received before this migration are filled in from their bytes,
-- which were verified when they arrived.

ALTER TABLE region_envelopes ADD COLUMN reporting_year INTEGER NOT NULL DEFAULT 0;
ALTER TABLE region_envelopes ADD COLUMN rho_spent TEXT NOT NULL DEFAULT '0';
ALTER TABLE region_envelopes ADD COLUMN rho_cap TEXT NOT NULL DEFAULT '0';
ALTER TABLE region_envelopes ADD COLUMN mechanism TEXT NOT NULL DEFAULT '';
ALTER TABLE region_envelopes ADD COLUMN sigma2 TEXT;            -- NULL without noise (rounding mode)
ALTER TABLE region_envelopes ADD COLUMN display_below INTEGER NOT NULL DEFAULT 0;
ALTER TABLE region_envelopes ADD COLUMN min_rate_denominator INTEGER NOT NULL DEFAULT 0;
ALTER TABLE region_envelopes ADD COLUMN rounding_base INTEGER NOT NULL DEFAULT 0;

UPDATE region_envelopes SET
    reporting_year       = json_extract(CAST(bytes AS TEXT), '$.reporting_year'),
    rho_spent            = json_extract(CAST(bytes AS TEXT), '$.budget.rho_spent'),
    rho_cap              = json_extract(CAST(bytes AS TEXT), '$.budget.rho_cap'),
    mechanism            = json_extract(CAST(bytes AS TEXT), '$.noise.mechanism'),
    sigma2               = json_extract(CAST(bytes AS TEXT), '$.noise.sigma2'),
    display_below        = json_extract(CAST(bytes AS TEXT), '$.disclosure.display_below'),
    min_rate_denominator = json_extract(CAST(bytes AS TEXT), '$.disclosure.min_rate_denominator'),
    rounding_base        = json_extract(CAST(bytes AS TEXT), '$.disclosure.rounding_base');

CREATE INDEX region_envelopes_year ON region_envelopes (territory, reporting_year);
