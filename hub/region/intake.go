// Package region is the region hub's side of federation: it receives the
// signed envelopes of enrolled territories (hub/federation), verifies them,
// stores each once, logs every attempt in a hash-chained intake log, and
// answers aggregate queries with their coverage ("27 of 30 territories"),
// never imputing what a territory did not publish (PRIVACY.md).
//
// A region can send its own sums further up with the same envelope format;
// that is not built yet: an aggregate would become a cell of a region's
// envelope signed with the region's key, with the coverage alongside.
package region

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// Outcome is what became of an envelope.
type Outcome string

// The outcomes, as the intake log writes them.
const (
	Accepted  Outcome = store.IntakeAccepted  // new: stored (HTTP 201)
	Duplicate Outcome = store.IntakeDuplicate // the same bytes were stored before (HTTP 200)
	Conflict  Outcome = store.IntakeConflict  // other bytes are stored for the same release (HTTP 409)
	Refused   Outcome = store.IntakeRefused   // not verified (HTTP 401, 403 or 422)
)

// Receipt says what the intake did with an envelope.
type Receipt struct {
	Outcome          Outcome   `json:"outcome"`
	Territory        string    `json:"territory,omitempty"`
	CatalogueVersion string    `json:"catalogue_version,omitempty"`
	Epoch            string    `json:"epoch,omitempty"`
	Revision         int       `json:"revision"`
	KeyID            string    `json:"key_id,omitempty"`
	SHA256           string    `json:"sha256"`      // hex SHA-256 of the bytes received
	LogSeq           int64     `json:"log_seq"`     // the attempt's entry in the intake log
	Cells            int       `json:"cells"`       // cells stored (accepted) or held (duplicate)
	At               time.Time `json:"received_at"` // when the attempt was logged
}

// Error kinds: every error of Receive other than a store failure wraps one
// of these (and, for refusals, the federation error that explains it).
var (
	// ErrConflict: another envelope is stored for the same territory,
	// catalogue version, epoch and revision. HTTP 409.
	ErrConflict = errors.New("a different envelope was received already for this territory, catalogue version, epoch and revision: a correction must be a new revision")
	// ErrUnauthenticated: the key is not enrolled (or revoked), or the
	// signature does not verify. HTTP 401.
	ErrUnauthenticated = errors.New("the envelope's signature is not from an enrolled key")
	// ErrForbidden: the key is enrolled for another territory. HTTP 403.
	ErrForbidden = errors.New("the envelope's key is enrolled for another territory")
	// ErrInvalid: not JSON, not the envelope schema, or inconsistent
	// content. HTTP 422; the error carries JSON pointers (Pointers).
	ErrInvalid = errors.New("the envelope is not valid")
	// ErrOverBudget: with the envelopes the region already holds for the
	// territory's reporting year, the ρ spent would exceed the cap the
	// envelope states, whatever cumulative ρ it claims. HTTP 422.
	ErrOverBudget = errors.New("the envelope would take the territory over its privacy budget for the year")
)

// RefusedError is a refusal: Kind is one of the Err* above, Err the
// verification's error.
type RefusedError struct {
	Kind    error
	Err     error
	Receipt Receipt
}

func (e *RefusedError) Error() string { return e.Err.Error() }

// Unwrap gives both the kind and the cause to errors.Is.
func (e *RefusedError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Pointers returns the JSON pointers of a schema or content error.
func Pointers(err error) []string {
	var se *federation.SchemaError
	if errors.As(err, &se) {
		out := make([]string, 0, len(se.Violations))
		for _, v := range se.Violations {
			p := v.Pointer
			if p == "" {
				p = "/"
			}
			out = append(out, p)
		}
		return out
	}
	var ce *federation.ContentError
	if errors.As(err, &ce) {
		return []string{ce.Pointer}
	}
	return nil
}

// Permanent reports whether sending the same envelope again cannot succeed
// (a conflict or a refusal), as opposed to a failure of the region's store.
func Permanent(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrOverBudget)
}

// OverBudgetError is the region's own account of a territory's budget
// refusing an envelope: the envelope's ρ on top of what the region holds
// for the year exceeds the cap. The territory's ledger refuses such a
// release before it is signed, so this means the envelope was signed
// outside Snodo's ledger, or the ledger was lost or rolled back.
type OverBudgetError struct {
	Territory string
	Year      int
	Held      *big.Rat // ρ of the envelopes the region holds for the year
	Envelopes int      // how many
	Asked     *big.Rat // this envelope's ρ
	Cap       *big.Rat // the cap it states
}

func (e *OverBudgetError) Error() string {
	total := new(big.Rat).Add(e.Held, e.Asked)
	return fmt.Sprintf("over budget: %s's %d releases held here (%d) spent ρ = %s; this one spends ρ = %s more, %s in all, above the cap of %s it states. "+
		"The territory's own ledger refuses such a release, so this one was signed outside it, or the ledger was lost or restored from an old backup: check the territory's hub",
		e.Territory, e.Year, e.Envelopes, e.Held.RatString(), e.Asked.RatString(), total.RatString(), e.Cap.RatString())
}

// checkBudget keeps the region's own account of the territory's year: the
// ρ of every envelope it holds for the year plus this one's must stay
// within the cap this one states. A revision spends its own ρ, as it does
// in the territory's ledger.
func checkBudget(ctx context.Context, tx *store.Tx, env *federation.Envelope) error {
	asked, err := disclosure.ParseRat(env.Budget.RhoSpent)
	if err != nil {
		return fmt.Errorf("/budget/rho_spent: %w", err)
	}
	capRho, err := disclosure.ParseRat(env.Budget.RhoCap)
	if err != nil {
		return fmt.Errorf("/budget/rho_cap: %w", err)
	}
	held, err := tx.RegionRhoSpent(ctx, env.Territory, env.ReportingYear)
	if err != nil {
		return err
	}
	sum := new(big.Rat)
	for _, h := range held {
		r, err := disclosure.ParseRat(h)
		if err != nil {
			return fmt.Errorf("a stored envelope's ρ: %w", err)
		}
		sum.Add(sum, r)
	}
	if new(big.Rat).Add(sum, asked).Cmp(capRho) > 0 {
		return &OverBudgetError{Territory: env.Territory, Year: env.ReportingYear, Held: sum, Envelopes: len(held), Asked: asked, Cap: capRho}
	}
	return nil
}

// Intake receives envelopes into a region store. It is safe for concurrent
// use.
type Intake struct {
	st  *store.Store
	log *slog.Logger
}

// NewIntake returns an intake storing into st; log may be nil.
func NewIntake(st *store.Store, log *slog.Logger) *Intake {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Intake{st: st, log: log}
}

// TrustedKeys returns the active enrolled keys.
func TrustedKeys(ctx context.Context, st *store.Store, keyIDs ...string) (federation.TrustedKeys, error) {
	keys, err := st.RegionKeys(ctx, keyIDs...)
	if err != nil {
		return nil, err
	}
	tk := federation.TrustedKeys{}
	for _, k := range keys {
		if k.Active() && len(k.PublicKey) == ed25519.PublicKeySize {
			tk[k.KeyID] = federation.TrustedKey{Territory: k.Territory, Key: ed25519.PublicKey(k.PublicKey)}
		}
	}
	return tk, nil
}

// header is what an envelope claims about itself, read without trusting it
// for the intake log; fields that do not match their schema pattern are
// left out, so a refused envelope puts no free text in the log.
type header struct {
	Territory        string `json:"territory"`
	CatalogueVersion string `json:"catalogue_version"`
	Epoch            string `json:"epoch"`
	Revision         *int   `json:"revision"`
	Signature        *struct {
		KeyID string `json:"key_id"`
	} `json:"signature"`
}

var (
	territoryRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	epochRE     = regexp.MustCompile(`^[0-9]{4}(-Q[1-4])?$`)
	keyIDRE     = regexp.MustCompile(`^ed25519:[0-9a-f]{64}$`)
)

func claimed(data []byte) store.IntakeEntry {
	e := store.IntakeEntry{Revision: -1}
	var h header
	if json.Unmarshal(data, &h) != nil {
		return e
	}
	if territoryRE.MatchString(h.Territory) {
		e.Territory = h.Territory
	}
	if epochRE.MatchString(h.Epoch) {
		e.Epoch = h.Epoch
	}
	if h.Revision != nil && *h.Revision >= 0 && *h.Revision < 1<<20 {
		e.Revision = *h.Revision
	}
	if h.Signature != nil && keyIDRE.MatchString(h.Signature.KeyID) {
		e.KeyID = h.Signature.KeyID
	}
	return e
}

// classify maps a federation.Verify error to a kind.
func classify(err error) error {
	switch {
	case errors.Is(err, federation.ErrWrongTerritory):
		return ErrForbidden
	case errors.Is(err, federation.ErrUnknownKey), errors.Is(err, federation.ErrTampered), errors.Is(err, federation.ErrBadSignature):
		return ErrUnauthenticated
	}
	return ErrInvalid
}

// maxReason bounds the reason kept in the log.
const maxReason = 2000

// Receive verifies an envelope against the enrolled keys and stores it
// once. It returns a receipt and:
//   - nil for a new envelope (Accepted) or the same bytes again (Duplicate);
//   - an error wrapping ErrConflict when other bytes are stored for the
//     same territory, catalogue version, epoch and revision;
//   - a *RefusedError wrapping ErrUnauthenticated, ErrForbidden or
//     ErrInvalid when it does not verify;
//   - another error when the store fails (try again later).
//
// Every attempt but the last kind is appended to the intake log, with the
// SHA-256 of the bytes; a refused envelope's bytes are not kept.
func (in *Intake) Receive(ctx context.Context, envelope []byte) (Receipt, error) {
	sum := sha256.Sum256(envelope)
	rc := Receipt{SHA256: hex.EncodeToString(sum[:]), Revision: -1}
	// Only the key the envelope names can verify it: the others are not
	// read (one row, not every enrolled key, per envelope). An envelope
	// that names none gets an empty set and is refused as before.
	trusted := federation.TrustedKeys{}
	var err error
	if id := claimed(envelope).KeyID; id != "" {
		trusted, err = TrustedKeys(ctx, in.st, id)
	}
	if err != nil {
		return rc, fmt.Errorf("region intake: %w", err)
	}
	env, verr := federation.Verify(envelope, trusted)
	if verr != nil {
		entry := claimed(envelope)
		entry.Outcome = store.IntakeRefused
		entry.SHA256 = sum[:]
		entry.Reason = verr.Error()
		if len(entry.Reason) > maxReason {
			entry.Reason = entry.Reason[:maxReason] + "…"
		}
		if err := in.st.Write(ctx, func(tx *store.Tx) error { _, err := tx.AppendIntake(ctx, &entry); return err }); err != nil {
			return rc, fmt.Errorf("region intake: log a refused envelope: %w", err)
		}
		rc.Outcome, rc.Territory, rc.Epoch, rc.Revision, rc.KeyID, rc.LogSeq, rc.At = Refused, entry.Territory, entry.Epoch, entry.Revision, entry.KeyID, entry.Seq, entry.At
		in.log.Warn("envelope refused", "territory", entry.Territory, "epoch", entry.Epoch, "key_id", entry.KeyID, "sha256", rc.SHA256, "reason", entry.Reason, "log_seq", entry.Seq)
		return rc, &RefusedError{Kind: classify(verr), Err: verr, Receipt: rc}
	}
	rc.Territory, rc.CatalogueVersion, rc.Epoch, rc.Revision, rc.KeyID, rc.Cells = env.Territory, env.CatalogueVersion, env.Epoch, env.Revision, env.Signature.KeyID, len(env.Cells)
	cells, err := flatten(env)
	if err != nil {
		return rc, fmt.Errorf("region intake: %w", err)
	}
	entry := store.IntakeEntry{Territory: env.Territory, KeyID: env.Signature.KeyID, Epoch: env.Epoch, Revision: env.Revision, SHA256: sum[:]}
	var overBudget *OverBudgetError
	err = in.st.Write(ctx, func(tx *store.Tx) error {
		have, found, err := tx.FindRegionEnvelope(ctx, env.Territory, env.CatalogueVersion, env.Epoch, env.Revision)
		if err != nil {
			return err
		}
		if !found {
			if err := checkBudget(ctx, tx, env); errors.As(err, &overBudget) {
				entry.Outcome, entry.Reason = store.IntakeRefused, err.Error()
				_, err = tx.AppendIntake(ctx, &entry)
				return err
			} else if err != nil {
				return err
			}
		}
		switch {
		case !found:
			entry.Outcome, entry.Reason = store.IntakeAccepted, fmt.Sprintf("stored, %d cells", len(cells))
			if _, err := tx.InsertRegionEnvelope(ctx, stored(env, envelope, sum[:]), cells); err != nil {
				return err
			}
		case string(have) == string(sum[:]):
			entry.Outcome, entry.Reason = store.IntakeDuplicate, "the same envelope was stored before"
		default:
			entry.Outcome, entry.Reason = store.IntakeConflict, "other content is stored for this territory, catalogue version, epoch and revision (sha256 "+hex.EncodeToString(have)+")"
		}
		_, err = tx.AppendIntake(ctx, &entry)
		return err
	})
	if err != nil {
		return rc, fmt.Errorf("region intake: envelope of %s %s revision %d: %w", env.Territory, env.Epoch, env.Revision, err)
	}
	rc.Outcome, rc.LogSeq, rc.At = Outcome(entry.Outcome), entry.Seq, entry.At
	logArgs := []any{"territory", env.Territory, "epoch", env.Epoch, "revision", env.Revision, "sha256", rc.SHA256, "log_seq", entry.Seq}
	switch rc.Outcome {
	case Refused:
		rc.Cells = 0
		in.log.Warn("envelope refused", append(logArgs, "reason", entry.Reason)...)
		return rc, &RefusedError{Kind: ErrOverBudget, Err: overBudget, Receipt: rc}
	case Conflict:
		in.log.Warn("envelope conflicts with the one stored", logArgs...)
		return rc, fmt.Errorf("region intake: envelope of %s %s revision %d: %w", env.Territory, env.Epoch, env.Revision, ErrConflict)
	case Duplicate:
		in.log.Info("envelope received again", logArgs...)
	default:
		in.log.Info("envelope accepted", append(logArgs, "cells", len(cells))...)
	}
	return rc, nil
}

// stored is the envelope as the region stores it.
func stored(env *federation.Envelope, raw, sum []byte) *store.RegionEnvelope {
	return &store.RegionEnvelope{Territory: env.Territory, CatalogueVersion: env.CatalogueVersion,
		Epoch: env.Epoch, Revision: env.Revision, KeyID: env.Signature.KeyID, Bytes: raw, SHA256: sum,
		ReportingYear: env.ReportingYear, RhoSpent: env.Budget.RhoSpent, RhoCap: env.Budget.RhoCap,
		Mechanism: env.Noise.Mechanism, Sigma2: env.Noise.Sigma2, RatePartition: env.Noise.Rates == federation.RatesPartition,
		HeadlineSigma2: headlineSigma2(env),
		DisplayBelow:   int(env.Disclosure.DisplayBelow), MinRateDenominator: int(env.Disclosure.MinRateDenominator), RoundingBase: int(env.Disclosure.RoundingBase)}
}

// headlineSigma2 is the σ² of the envelope's totals when they have a tier
// of their own.
func headlineSigma2(env *federation.Envelope) string {
	if env.Noise.Headline == nil {
		return ""
	}
	return env.Noise.Headline.Sigma2
}

// flatten turns the envelope's cells into rows; breakdowns become canonical
// JSON objects.
func flatten(env *federation.Envelope) ([]store.RegionCell, error) {
	out := make([]store.RegionCell, len(env.Cells))
	for i, c := range env.Cells {
		b, err := canonicalBreakdown(c.Breakdown)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i, err)
		}
		out[i] = store.RegionCell{Indicator: c.Indicator, IndicatorVersion: c.Version, Breakdown: b, Measure: c.Measure, Suppressed: c.Suppressed}
		if c.Value != nil {
			out[i].Value = *c.Value
		} else {
			out[i].Suppressed = true
		}
	}
	return out, nil
}

func canonicalBreakdown(b map[string]string) (string, error) {
	m := make(map[string]any, len(b))
	for k, v := range b {
		m[k] = v
	}
	raw, err := schemas.AppendCanonical(nil, m)
	if err != nil {
		return "", err
	}
	return string(raw), nil
}

// ParseBreakdown reads "key:value" pairs (as the query parameter
// breakdown=sex:F gives them) into a breakdown; none is the total.
func ParseBreakdown(pairs []string) (map[string]string, error) {
	b := map[string]string{}
	for _, p := range pairs {
		for _, kv := range strings.Split(p, ",") {
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, ":")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("breakdown %q: give key:value", kv)
			}
			if _, dup := b[k]; dup {
				return nil, fmt.Errorf("breakdown: %q given twice", k)
			}
			b[k] = v
		}
	}
	return b, nil
}
