// Package stats computes the indicators of the catalogue (schemas/indicators,
// loaded by schemas.Indicators) for a reporting period, from one consistent
// snapshot of the store, as tables of true counts. Noise, thresholds and
// rounding are the disclosure package's job; nothing here ever holds a
// person id, a record id or free text, only codes and counts.
//
// # Periods
//
// ParsePeriod reads "2025" (a year) or "2025-Q2" (a quarter); a period is the
// half-open interval of days [Start, End) in UTC. Each indicator says which
// period kinds it is published for: the headline indicators (1-4, 11, 13,
// 14) quarterly and yearly, the cohort indicators (5-10, 12) and cost (15)
// yearly only. Options.AsOf is the observation date: an event dated after
// it (a response, a closure, a placement, a signature, an assessment) is
// treated as not yet happened, so a release recomputed later over the same
// period gives the same counts whatever came in since; zero means
// everything stored.
//
// # The household: the counting unit
//
// PRIVACY.md's unit is the household per reporting year: it adds 1 to
// exactly one cell of each table. Households are the connected parts of a
// graph whose nodes are person ids and household records, linked by a
// person record's household reference, a household record's members, and
// any record that names both a person and a household (pathway, housing
// placement, assessment). Two people are one household as soon as one link
// joins them; a person linked to nothing is a household of one. A record
// that names neither a person nor a household (a referral without a person)
// is not counted.
//
// For every indicator a household contributes through one index record,
// chosen deterministically (the earliest by the date that matters, then by
// source and record id): the numerator and denominator are 0 or 1 (the
// household is in the numerator only if it is in the denominator), a binned
// indicator puts it in exactly one bin, a sum adds its total clamped to the
// catalogue's cap. Each table has a total row and a row per value of each
// breakdown of the indicator, every value present with zeros, so a
// household appears once in the total and once in each breakdown.
//
// # Breakdowns
//
// Sex, age band and citizenship group describe the household's reference
// person: the member a household record names with role reference-person
// (the smallest person id if several), otherwise the person of the index
// record, otherwise the smallest person id of the household. Person fields
// merge all the person's person records, the most recently recorded value
// winning. The age is the year the period ends minus the birth year.
// The citizenship group is the source's when it gives one, otherwise IT is
// italian, the 26 other EU states' Belfiore codes are eu and any other Z
// code is non-eu. The household type is that of the most recently recorded
// household record of the household. ETHOS at entry is the ETHOS Light
// value of the earliest T0 assessment of any member. A value missing, or
// not in the breakdown's list, is counted under "unknown".
//
// # Counting rules
//
// Referrals (1-3) read the hub's referrals table. A referral is requested
// in the period when its authored_on falls in it and it is not a draft,
// entered-in-error, or cancelled without an applied status event to
// requested. The household's index referral is its first requested in the
// period. (1) accepted: it has a first response (responded_at) by AsOf and
// its status is not rejected — rejected is final, so any other status after
// a response followed an acceptance. (2) its status is completed and
// closed_at is at most 90 days (2,160 hours) after authored_on, by AsOf.
// (3) whole days (24 hours) from authored_on to responded_at: ≤2, 3-7,
// 8-30, >30, or none when there is no response by AsOf.
//
// A pathway is active in the period when it is neither draft nor
// entered-in-error, started before the period end (and by AsOf) and did not
// end before the period start. (14) households with an active pathway.
// (13) of those, the households one of whose active pathways has a
// volunteer assignment active on a day of the period, or lists volunteers.
// (4) the household's earliest-started active pathway, binned by its first
// permanent placement starting between the pathway start and the period end
// (calendar months, upper bounds included: ≤3, 3-6, 6-12, 12-24, >24,
// not-yet). (11) the household's pathway with the earliest accessed_on
// over all time, when that day falls in the period; in the numerator when
// the preliminary assessment came within 60 days of access and the
// signature within 120 days of the assessment. (15) the spend of the
// household's active pathways whose cost period overlaps the period (or
// has none), in euro cents, clamped per household.
//
// (5, 6) the household's first permanent placement whose day 182 (365)
// after its start falls in the period, so each placement enters one year
// only; retained when it had not ended before that day or it ended towards
// a permanent destination. (7) the household's first exit to a permanent
// destination whose following 365 days end in the period; a return is an
// assessment in EL1-EL3, a placement starting from EL1-EL3, or an exit to
// EL1-EL3 or to the homeless group, of any member, within those 365 days.
//
// (8, 9, 12) the household's first T12 assessment in the period that
// records the item (ETHOS, ILO status of a person aged 20-64 in the year of
// the assessment, social network with an absent network at the person's
// first T0 recording it); compared with the same person's first T0.
// (10) the household's first internship whose day 180 after its end falls
// in the period; employed when the same person has a contract started by
// that day and not ended before it.
//
// All fifteen indicators of catalogue v1 are implemented; Implemented and
// ErrNotImplemented exist for later catalogue versions.
package stats
