// Package population generates the seeded synthetic population that the
// three simulated source systems of examples/sources — comune (municipal
// social services), sds (health society) and cpi (employment centre) —
// draw from, so that the same people appear in several systems and the hub
// has to match them to one person id.
//
// # The territory
//
// Everybody lives in the SdS Firenze Nord-Ovest ([TerritoryCode]
// SDS-FI-NORDOVEST): Sesto Fiorentino, Calenzano, Campi Bisenzio, Signa,
// Lastra a Signa, Scandicci, Fiesole and Vaglia, with residence weighted by
// population. Every place code — ISTAT and cadastral codes of comuni,
// Z-codes of foreign states — is read from the reference data embedded in
// package schemas (schemas/places), never written in this package; see
// [Territory].
//
// # People and households
//
// [Generate] builds households of about 2.3 people: single adults (many
// elderly), couples with and without children, single parents, a few
// multi-family and cohabiting households. About 40 % of households are
// headed by foreign citizens, from the countries of the territory's
// residents and asylum seekers; a share of those are recent arrivals, many of them out
// of SAI/CAS reception ([ReceptionExit]), with residence permits
// ([Permit]). Codes of roles, household types, ISEE bands, permits and
// reception systems come from the code lists in schemas/codes.
//
// Names are random combinations from lists of common given names and
// surnames by country: they describe nobody. The codes are computed from
// them, so a code may coincide with a real one by chance, but nothing else
// about that person is in the data.
//
// # Identifiers
//
// Nearly everybody has a valid codice fiscale (Person.CF), computed by the real
// algorithm from the synthetic name, birth date, sex and place, with the
// check character of hub/identity; when two people's first 15 characters
// would collide, the later one gets an omocodic code (Person.Omocodic), as
// the Agenzia delle Entrate does: twins whose names give the same letters,
// and people born abroad and recorded as born on 1 January. Some recent
// arrivals have only a provisional 11-digit code (Person.Provisional),
// some have a provisional code and later a codice fiscale.
//
// What a system holds is [Person.IDIn]: the same code everywhere, except
// that a person with both codes appears with the provisional code in one
// system and the codice fiscale in the others, and that about 1.5 % of
// (person, system) pairs hold a mistyped code whose check fails
// ([Person.TypoIn]) — the hub must quarantine those records.
// [Person.FormerIDIn] gives the one record that holds both codes of a
// person, which lets the hub link them.
//
// # Systems
//
// [Person.In] says which systems know a person and [Person.LocalID] under
// which id: the comune knows about 60 % of households (all their members),
// the SDS about a third of people (more among the elderly, the disabled
// and people out of reception), the CPI about 45 % of people aged 16–66
// (more among foreign citizens); hundreds of people are in two or three
// systems. [Organisations] lists the organisations the systems and the
// hub's configuration refer to.
//
// Everything is deterministic for a seed, relative to the fixed date
// [AsOf]; [Population.Stats] summarises a population.
package population
