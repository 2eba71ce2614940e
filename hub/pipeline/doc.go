// Package pipeline takes the batches that connectors read and stores them:
// it checks every record, replaces every personal identifier by a person
// id, upserts the records and commits the connector's cursor in one SQLite
// transaction, and puts what it cannot accept in an encrypted quarantine.
//
// # Flow
//
// The supervisor hands each batch to [Pipeline.Sink]. Sink publishes it as
// one message (source, cursor and records, length-prefixed; a correlation id
// in the metadata) on an in-process watermill GoChannel and returns when the
// handler has acked it, that is when the batch is committed — or with the
// error that kept it from being committed, so that the supervisor reads it
// again from the last committed cursor.
//
// The handler's middleware, from the outside in: CorrelationID; a
// PoisonQueue, which sends a batch that keeps failing to a second handler
// that puts every one of its records in quarantine (with the reason) and
// commits its cursor, so nothing is lost and the connector is not stuck;
// Retry with exponential backoff (for a store that is busy or briefly
// failing); and Recoverer, whose panic message — it may quote data — is
// replaced by a fixed one (the stack goes to the log).
//
// For each batch the handler first checks the records, in parallel
// (Config.Workers goroutines, in chunks, while the transaction stores the
// chunks already checked), without touching the store:
//
//  1. decode (numbers kept as written);
//  2. normalise the identifier values of every personRef ("identifiers"
//     objects anywhere in the record, extensions included: no identifier
//     is ever stored as it came);
//  3. the envelope: "source" must be the connector instance's name and
//     "territory" the hub's; a record_id shaped like a codice fiscale or an
//     STP/ENI code is refused (and kept only inside the sealed record);
//  4. the record's schema (Registry.ValidateDocument): every violation
//     with its JSON pointer;
//  5. every identifier's syntax and check character, and its keyed digest;
//  6. the canonical body to store (keys sorted, no insignificant white
//     space: what encoding/json writes without HTML escaping), with a
//     placeholder as long as a person id where each {"identifiers": …}
//     was.
//
// Then, in one store.Write transaction: each record's identifiers are
// looked up in the keyed index — an identifier seen before decides the
// person, new ones are linked to that person (a provisional code and a
// codice fiscale that arrive together become one person), a new person is
// made only when none is known, and identifiers that already belong to two
// different people send the record to quarantine — and each person id is
// written over its placeholder, so that every {"identifiers": …} has become
// {"person_id": …}; the record is upserted with the person id of its main
// person (/person, else the first person it names) for the timeline;
// records that failed go to quarantine; last, the cursor. A bad record never
// blocks the rest of its batch.
//
// # Quarantine
//
// A quarantined record keeps its errors as [{pointer, message}] — messages
// never quote a value of the record — and the raw record sealed with
// AES-256-GCM under a key derived from the pseudonymisation key (HKDF-SHA256,
// info "snodo quarantine v1"), a random nonce, and the source and record id
// as additional data. [Pipeline.Replay] opens them and runs them through
// the same checks; one that passes is stored (no cursor), one that still
// fails keeps its new errors. A record the source has delivered again since
// it was quarantined (after its mapping was fixed and its cursor reset) is
// not stored over the newer delivery: replay marks it superseded.
//
// # Floods
//
// Per source, the pipeline keeps the outcomes of the last Flood.Window
// records (of the last Flood.MaxAge): when more than Flood.Threshold of them
// went to quarantine, Sink returns a *supervisor.DegradedError after
// committing ("73 of the last 200 records went to quarantine …"), and the
// supervisor shows the connector as degraded while it keeps reading.
//
// # Counters
//
// [Pipeline.Stats] counts records by source and outcome (inserted,
// updated, unchanged, quarantined) and the latency of batches, for the
// metrics endpoint.
package pipeline
