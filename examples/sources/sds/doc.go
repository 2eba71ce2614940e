// Package sds simulates the information system of the Società della Salute
// Firenze Nord-Ovest (organisation [OrgID]): the Punto Unico di Accesso
// (PUA), the multidimensional assessments of the UVM and the social-health
// services, seen — as in the real territory — through a nightly CSV export
// folder, and an inbox folder where other services drop referrals
// (segnalazioni). It is test equipment for connectors/sds and the
// end-to-end tests: use [New] with a temporary folder, or run cmd/sim-sds.
//
// Everything is deterministic for a seed: the data are derived from the
// population (examples/sources/population: the people Person.In(SDS)
// reports, with LocalID as id_assistito and the codes of IDIn and
// FormerIDIn, possibly mistyped) and generators seeded with its seed. The
// system's clock starts at [Start] (population.AsOf at 08:00 UTC), moves a
// minute at each change and to the next morning at each night; the wall
// clock is never read.
//
// # Export folder (Dir/export)
//
// Each night ([System.WriteNight]) writes one file of each of [Kinds],
// named with the night's date — assistiti_20250630.csv,
// accessi_pua_20250630.csv, valutazioni_uvm_20250630.csv,
// servizi_20250630.csv, stati_segnalazioni_20250630.csv — holding the rows
// created or changed since the previous night (header only when none). A
// row changed again appears again in a later night with the same id. The
// first night (population.AsOf) holds the whole history. Files are
// semicolon-separated, ISO-8859-1 (Latin-1) encoded, CRLF, with Italian
// headers ([HeaderAssistiti], [HeaderAccessi], [HeaderValutazioni],
// [HeaderServizi], [HeaderStati]); dates are dd/mm/yyyy ([DateLayout]),
// times dd/mm/yyyy hh:mm:ss in Europe/Rome time ([TimeLayout]), amounts
// Italian style ("1.234,50"), booleans S/N. Each file is written to a
// temporary ".tmp-" file and renamed, so a reader never sees half a file;
// files are never rewritten.
//
// Every row about a person carries the codes the SDS holds: codice_fiscale,
// codice_provvisorio, codice_stp (STP090201 + 7 digits, for foreigners
// whose permit is expired or missing), codice_eni (never set by the
// generator, accepted in the inbox).
//
//   - assistiti: the people taken in charge, with names, birth date and
//     place (a connector must drop them), sex, citizenship, residence
//     (ISTAT), permit (stato_permesso Italian: [PermitStatusCodes];
//     motivo_permesso a permit-reason code; scadenza mm/yyyy), reception
//     exit (SAI/CAS and date), invalidita S/N, data_presa_in_carico.
//   - accessi_pua: accesses to the PUA (canale sportello, telefono,
//     domicilio; bisogno_prevalente of [NeedCodes]; esito informazioni,
//     presa_in_carico or invio). An access with esito invio sent a referral:
//     id_segnalazione (INV-<year>-<n>), ente_destinatario (organisation id),
//     categoria_segnalazione (referral-category code), priorita (Italian:
//     [PriorityCodes]), data_ora_invio. Its first status is inviata
//     (requested); only later changes are in stati_segnalazioni.
//   - valutazioni_uvm: UVM assessments at T0, T6 and T12 (momento), with
//     ambiti (comma-separated, [DomainCodes]), condizione_abitativa (EL1–EL6
//     or alloggiato), limitazione_salute (grave, moderata, nessuna),
//     rete_sociale (assente, parziale, presente), permit status and reason,
//     livello_italiano (CEFR) for foreign citizens.
//   - servizi: services provided (tipo_servizio of [ServiceCodes], modalita
//     una_tantum or periodica, data_inizio, data_fine, importo).
//   - stati_segnalazioni: every status change of a referral after its first
//     status: id_evento "<referral id>-<sequenza>", id_segnalazione,
//     direzione (inviata, ricevuta), protocollo (IN-<key> of the inbox file
//     a received referral came in), fonte_esterna and id_esterno (the
//     origin's source and record id of a received referral), sequenza,
//     stato_precedente, stato, motivo ([ReasonCodes]), data_ora,
//     impostato_da (organisation id) and origine: interna for a change made
//     in the SDS, esterna for one received in the inbox (and the first
//     status, ricevuta, of a received referral). A connector emits only the
//     interna ones.
//
// Referral statuses are Italian; [StatusCodes] maps them to
// schemas/codes/referral-status.json: inviata and ricevuta → requested,
// accolta → accepted, in_carico → in-progress, sospesa → on-hold, conclusa
// → completed, respinta → rejected, annullata → cancelled, fallita →
// failed, errata → entered-in-error. respinta, annullata, sospesa and
// fallita need a motivo.
//
// # Inbox folder (Dir/inbox)
//
// Other services (through the hub's connector) drop one CSV file per
// document, same format as the export, one row:
//
//   - segnalazione_<key>.csv ([HeaderInboxSegnalazione]): a referral for
//     the SDS: chiave, fonte and id_esterno (the origin's source and record
//     id), ente_richiedente and ente_destinatario (organisation ids; the
//     latter must be [OrgID]), the person's codes, categoria
//     (referral-category), tipo_servizio (service-type, optional), priorita
//     (Italian), data_ora_richiesta.
//   - stato_<key>.csv ([HeaderInboxStato]): a status change by the other
//     party: chiave, id_segnalazione (a referral the PUA sent) or fonte and
//     id_esterno (a referral it received), stato and motivo (Italian),
//     data_ora, impostato_da.
//
// [System.ProcessInbox] takes the files in, in name order: a referral
// gets a RIC-<year>-<n> id and status ricevuta and keeps protocollo
// IN-<key>; a status change is applied (origine esterna) unless the
// referral is closed. A key or an origin (fonte, id_esterno) seen before
// changes nothing. Files go to inbox/elaborati, refused ones to
// inbox/scartati ([System.Refusals] says why).
//
// # Test controls
//
// [System.WriteNight] (the next export), [System.ProcessInbox], the staff's
// work on received referrals [System.Accept], [System.Start],
// [System.Complete], [System.Reject], [System.Advance] (every open one a
// step), on sent ones [System.Cancel]; [System.SendReferral] (a new PUA
// access ending in a referral); [System.SetOutage] (the share is down: the
// two folders vanish until it is up again). The program cmd/sim-sds runs
// the system over a folder and offers the controls over HTTP.
package sds
