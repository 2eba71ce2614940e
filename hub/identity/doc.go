// Package identity parses and validates the personal identifiers that reach
// a Snodo hub, and turns them into pseudonymous person ids through a keyed
// index.
//
// # Identifiers
//
// Four kinds are accepted (see DOMAIN.md, "Identifiers and
// pseudonymisation"):
//
//   - [KindCF], the codice fiscale: 16 characters — surname and name letters
//     (1–6), birth year (7–8), month letter (9), birth day, plus 40 for women
//     (10–11), place of birth as a cadastral (Belfiore) code (12–15, "Z" for
//     people born abroad) and a check letter (16). When two people would get
//     the same code, the tax agency replaces digits, right to left, with the
//     omocodia letters L M N P Q R S T U V. The parser decodes those letters to
//     read the birth date and place, but never changes the code itself: an
//     omocodic code belongs to a different person than its "undone" form.
//   - [KindProvisional], the 11-digit provisional code given to asylum
//     seekers and people awaiting a definitive codice fiscale, with a
//     Luhn-like check digit.
//   - [KindSTP] and [KindENI], health-service codes for foreigners without a
//     permit (STP) and EU citizens without health cover (ENI): "STP" or "ENI"
//     followed by 13 digits; only their shape is checked.
//
// Input is normalised first ([Normalise]: white space and hyphens dropped,
// letters upper-cased); [Parse] detects the kind from the shape and validates
// it, [ParseKind] forces a kind. Every failure is an [*InvalidError] that says
// which 1-based position is wrong and why, so that a record can be sent to
// quarantine with a reason an operator can act on.
//
// # Nothing raw is ever printed
//
// A raw identifier must never reach a log line, an error message, a panic or
// anything federated: logs are copied around, kept for years and read by
// people with no right to know who a person is. So:
//
//   - error messages name at most one offending character (and the expected
//     one), never the code;
//   - [Code] and [Key] format themselves masked under every fmt verb and
//     through log/slog, so an accidental %v leaks nothing; the normalised
//     identifier is reachable only through the exported Code.Value field,
//     which code must read on purpose.
//
// # The keyed index
//
// Analytical tables hold a person id, never an identifier. The index computes
// HMAC-SHA-256 with the territory's secret [Key] over kind + "|" + normalised
// value ([Key.Digest]); a [Directory] maps each digest to a random person id
// (a ULID, [NewPersonID]) assigned the first time the digest is seen. Without
// the key nobody can test a guessed codice fiscale against the digests, and
// the key never leaves the territory, nor does the person id. One person may
// collect several identifiers over time — typically a provisional code, then
// a definitive codice fiscale — and [Index.Link] attaches the new one to the
// same person id, so the person's history is not split.
//
// The package holds no storage: hub/store implements [Directory] on SQLite.
//
// # JSON Schema formats
//
// [CheckFormat] ("codice-fiscale") and [CheckPersonalIDFormat]
// ("personal-id") check stored, already normalised values. With
// santhosh-tekuri/jsonschema/v5 register them as
//
//	c.Formats["codice-fiscale"] = func(v any) bool { return identity.CheckFormat(v) == nil }
package identity
