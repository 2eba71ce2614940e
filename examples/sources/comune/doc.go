// Package comune simulates the municipal social-services case system of
// the Comune di Sesto Fiorentino (organisation [OrgID]): a REST/JSON API
// with Italian field names, over the people of the shared synthetic
// population (examples/sources/population) that the comune knows. It is
// test equipment for connectors/comune and the end-to-end tests: use
// [New] and httptest, or run cmd/sim-comune.
//
// Everything is deterministic for a seed: the data are derived from the
// population and a generator seeded with its seed, and the system has its
// own clock, which starts at [Start] (population.AsOf at 08:00 UTC) and
// moves one second at each change and with [Server.Advance]; the wall
// clock is never read.
//
// # Data
//
//   - persone: every person the comune knows (population.Person.In), with
//     id population.Person.LocalID ("ANAG-0000123"), the codes as the
//     system holds them (codice_fiscale from IDIn, possibly mistyped;
//     codice_fiscale_provvisorio from IDIn or FormerIDIn — never another
//     code), names, full birth date, birth place, citizenship, residence
//     (ISTAT), household and role, languages, disability, permit
//     (permesso_soggiorno: stato, motivo, scadenza YYYY-MM) and exit from
//     reception (uscita_accoglienza: sistema SAI/CAS, data).
//
//   - nuclei: the households the comune knows, with type, ISEE band and
//     members (id_persona, ruolo).
//
//   - consensi: consents of people aged 16 or more to share data with
//     [OrgCPI] and [OrgSDS] for the purpose "referral"
//     (schemas/codes/consent-purpose.json): about 78 % to both, 6 % to the
//     CPI only, 4 % to the SDS only, the rest none; 3 % revoked. stato is
//     "attivo" (consent-status active) or "revocato" (inactive, with
//     data_revoca).
//
//   - segnalazioni: referrals. direzione "inviata": sent by the comune's
//     social workers to the CPI or the SDS (about 8 % of adults, some
//     later annullata); direzione "ricevuta": received with POST. Each has
//     the person's codes as the comune holds them (for received ones, as
//     the sender gave them, and id_persona when the comune finds the code
//     in its registry), ente_richiedente and ente_destinatario
//     (population.Organisations ids), categoria (referral-category code),
//     priorita (referral-priority code), data_segnalazione, stato,
//     motivo_stato, stato_aggiornato_il, and riferimento_esterno
//     {sistema, id} for received ones.
//
//   - stati-segnalazioni: every status change, append-only: id
//     "<referral id>-<sequenza>", id_segnalazione, riferimento_esterno,
//     sequenza (from 1), da, a, motivo, il, impostato_da (organisation
//     id), origine "interna" (made in the comune) or "esterna" (received
//     with POST .../stati, or the first status of a received referral).
//     A connector emits only the interna ones.
//
//   - progetti: pathways (progetto personalizzato / PaIS) of about 30 %
//     of the households, led by the comune: dates of access, preliminary
//     analysis, signature, start, next review, closure; stato (Italian:
//     [PathwayStatusCodes]); obiettivi {area goal-category, esito
//     goal-achievement}.
//
//   - valutazioni: social assessments of a pathway's reference person at
//     T0 (preliminary-assessment), T6, T12 and exit (social-assessment):
//     ambiti (assessment-domain codes), condizione_abitativa (ETHOS
//     Light), fascia_isee, sostegno_reddito, rete_sociale.
//
//   - inserimenti-abitativi: housing placements of a quarter of the
//     households with a pathway: tipologia (Italian: [TenureCodes] —
//     coabitazione is shared living, bene_confiscato a confiscated flat,
//     emergenza_abitativa emergency accommodation), permanente, comune of
//     the dwelling (ISTAT), data_ingresso, data_uscita and, once ended,
//     destinazione (ETHOS Light), gruppo_destinazione
//     (destination-group), motivo_uscita (placement-exit-reason).
//
// Other code fields hold the codes of schemas/codes as they are (roles,
// household types, ISEE bands, permits, categories, priorities...).
// Referral statuses and reasons are Italian codes; [StatusCodes] and
// [ReasonCodes] map them to schemas/codes/referral-status.json and
// referral-status-reason.json (inviata → requested, accettata →
// accepted, in_carico → in-progress, conclusa → completed, rifiutata →
// rejected, annullata → cancelled, sospesa → on-hold, fallita → failed,
// errata → entered-in-error, bozza → draft). rifiutata, annullata,
// sospesa and fallita need a reason; rifiutata, annullata, fallita,
// conclusa and errata are final.
//
// # API
//
// Every /api request needs the header X-API-Key (401 otherwise). Lists
// take pagina (from 1; alias page) and dimensione (1–500, default 100;
// alias limit) and aggiornato_dal (RFC 3339; alias updated_since), and
// answer
//
//	{"totale": N, "pagina": p, "dimensione": d, "pagine": n, "successiva": "/api/v1/...?pagina=p+1&...", "risultati": [...]}
//
// sorted by (aggiornato_il, id). aggiornato_dal is inclusive
// (aggiornato_il >= aggiornato_dal): a reader resumes from the last
// aggiornato_il it saw and skips the ids it already has at that instant.
// Bad paging or dates answer 400. Until a control changes something, the
// data are those of population.AsOf: the referral data change through the
// API and the controls, the registry (persone, nuclei) and consents with
// Server.Update; pathways, assessments and placements do not change after
// start.
//
//	GET  /api/v1/persone, /api/v1/persone/{id}
//	GET  /api/v1/nuclei
//	GET  /api/v1/consensi
//	GET  /api/v1/progetti, /api/v1/valutazioni, /api/v1/inserimenti-abitativi
//	GET  /api/v1/segnalazioni         also ?direzione=inviata|ricevuta, ?sistema_esterno=&id_esterno=
//	GET  /api/v1/segnalazioni/{id}    the referral with its "storia" (events)
//	GET  /api/v1/stati-segnalazioni   also ?origine=interna|esterna
//	POST /api/v1/segnalazioni         a referral for the comune ([NuovaSegnalazione]):
//	                                  201 new, 200 the same referral again for a known
//	                                  riferimento_esterno (nothing changes), 422 refused
//	POST /api/v1/segnalazioni/{id}/stati  a status set by the other organisation
//	                                  ([NuovoStato]): 201 new, 200 repeated id_evento,
//	                                  404 unknown referral, 409 final status, 422 refused
//
// Faults: during an outage ([Server.SetOutage]) every /api request is
// answered 503 with Retry-After: 30; with a fault rate
// (Options.FaultRate, [Server.SetFaultRate]) that share of authorised
// requests is answered 429 with Retry-After: 1 or 503, half each, from a
// generator seeded with the seed. Error bodies are {"errore": "..."} and
// never contain a person's code.
//
// # Test controls
//
// Without API key and never faulty, each with a Go method:
//
//	POST /_sim/guasto {"attivo": bool, "tasso_errori": float}   SetOutage, SetFaultRate
//	POST /_sim/segnalazioni {"persona": <population index>, "ente_destinatario": "cpi-sesto-fiorentino",
//	     "categoria": "employment-status", "priorita": "routine"}  CreateReferral: a social worker sends a referral now
//	POST /_sim/segnalazioni/{id}/stato {"stato": "...", "motivo": "..."}  SetStatus: a staff change (interna)
//	POST /_sim/lavora                                             Work: every open received referral moves one step
//	                                                              (inviata → accettata → in_carico → conclusa)
//	POST /_sim/aggiorna {"record": n}                             Update: n registry changes (persone, nuclei, consensi)
//	POST /_sim/avanza {"minuti": n}                               Advance the clock
//	GET  /_sim/stato                                              counts, clock, outage
package comune
