// Package cpi simulates the information system of the Centro per
// l'Impiego di Sesto Fiorentino (organisation cpi-sesto-fiorentino): a
// paged XML feed of the working-age people it knows and of their active
// labour policy measures, and an XML API that receives referrals
// (segnalazioni) from the other services and reports their progress.
//
// It draws everything from package population: the people are those
// population.Person.In(population.CPI) reports, with the SIL id of
// LocalID and the identifier of IDIn as the cpi holds it — codice
// fiscale or provisional code, mistyped for some people — and, for
// people who had a provisional code first, the former code of
// FormerIDIn. Their measures are derived deterministically from the seed
// and the person: the DID (dichiarazione di immediata disponibilità) on
// registration, profiling (classe 1–4 and an index) and the service pact
// (patto di servizio personalizzato), then internships, training courses
// and contracts from the Comunicazioni Obbligatorie with their CO contract
// type (codes of schemas/codes/contract-type.json).
//
// # HTTP API
//
// Every document is XML in the namespace urn:example:cpi:feed:1 (see
// [Namespace]); errors answer an <errore> with <codice> and <messaggio>.
// API requests carry the key in the X-Api-Key header when the server has
// one (401 otherwise).
//
//   - GET /feed?dal=<sequenza>&pagina=<n>&dimensione=<n> — the entries
//     (<voce tipo="...">) with a sequence number above dal (default 0),
//     oldest first, in pages of dimensione (default 100, at most 500)
//     numbered from 1; <link rel="next"> when another page follows, and
//     <ultima-sequenza>, the highest sequence number. A client keeps the
//     sequenza of the last entry it processed as its cursor. An object that
//     changes is appended again with a new sequence number and the same
//     <id>. Entry kinds: lavoratore, did, patto-servizio, profilazione,
//     tirocinio, rapporto-lavoro, formazione, segnalazione (a referral
//     received) and segnalazione-stato (a referral status change, with
//     <origine> cpi for the centre's own changes and richiedente for a
//     cancellation posted by the requester).
//   - POST /segnalazioni — registers a referral (<segnalazione> with
//     <lavoratore> holding <codice-fiscale> or <codice-provvisorio>,
//     <richiedente> an organisation id of population.Organisations,
//     <categoria> a referral-category code, <priorita> routine, urgent,
//     asap or stat, optional <data-richiesta> and <note>, and
//     <riferimento-esterno> with the origin's <fonte> and <id>). Answers
//     201 with an <esito> holding the cpi's <id> (SEG-<year>-<n>) and
//     <stato>; the same riferimento-esterno again answers 200 with the
//     same id and changes nothing. 422 for an invalid referral.
//   - GET /segnalazioni/{id} — the referral with its <stato>, <motivo> and
//     <storia> of status changes.
//   - POST /segnalazioni/{id}/stato — a status change by the requester
//     (<aggiornamento-stato> with <stato>annullata</stato>, optional
//     <motivo>, and <riferimento>, the requester's id of the change: the
//     same riferimento again changes nothing). 409 when the referral is
//     already closed.
//
// Referral states: ricevuta → presa-in-carico → in-corso → conclusa, or
// respinta (from ricevuta or presa-in-carico, with a motivo of [Motivi]),
// or annullata by the requester.
//
// # Test controls
//
// In process: [Server.Accept], [Server.Start], [Server.Complete],
// [Server.Reject], [Server.Advance] (the staff's work on every open
// referral), [Server.SetOutage] (every API request answers 503 with
// Retry-After while down), [Server.FailNext] (the next requests answer
// the given statuses, e.g. 429). Over HTTP, without key and regardless
// of faults: POST /_sim/guasto?attivo=true|false, POST
// /_sim/errori?codici=429,503, POST /_sim/avanza, POST
// /_sim/segnalazioni/{id}/{accetta|avvia|concludi|respingi?motivo=...}.
//
// The simulated clock starts at population.AsOf() 08:00 UTC and moves on
// one minute for every change, so that the same seed and the same calls
// give the same documents. The program cmd/sim-cpi serves it.
package cpi
