// Package federation builds, signs and verifies the envelopes in which a
// territory sends its statistics upward (shared/design/PRIVACY.md, "Signed
// submissions").
//
// An envelope holds one release of the indicator catalogue (an epoch at a
// revision, from hub/disclosure): the published cells (noisy or rounded
// values, or suppressed), the noise parameters, the ρ spent and cumulative
// for the reporting year, the disclosure settings, the software version,
// the territory code and the creation time. Its JSON Schema is
// schemas/federation/envelope.schema.json. The territory signs the canonical
// JSON (schemas.AppendCanonical) of the envelope without its "signature"
// member with its Ed25519 key (hub/keyring); the signature block names the
// key by its fingerprint. Nothing in an envelope is personal: no person id,
// identifier, record id, free text or true count.
package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// Algorithm is the only signature algorithm of envelopes.
const Algorithm = "Ed25519"

// Envelope is the content of a federation envelope, as its JSON Schema
// describes it.
type Envelope struct {
	Schema           string     `json:"schema"`
	Level            string     `json:"level,omitempty"` // "" (territory) or LevelRegion
	Territory        string     `json:"territory"`
	CatalogueVersion string     `json:"catalogue_version"`
	Epoch            string     `json:"epoch"`
	EpochKind        string     `json:"epoch_kind"`
	ReportingYear    int        `json:"reporting_year"`
	Revision         int        `json:"revision"`
	CreatedAt        string     `json:"created_at"`
	SoftwareVersion  string     `json:"software_version"`
	Disclosure       Disclosure `json:"disclosure"`
	Noise            Noise      `json:"noise"`
	Budget           Budget     `json:"budget"`
	Cells            []Cell     `json:"cells"`
	Parts            []Part     `json:"parts,omitempty"` // level region only
	Signature        *Signature `json:"signature,omitempty"`
}

// LevelRegion marks a region's envelope: its sums sent further up.
const LevelRegion = "region"

// MechanismAggregate is the noise mechanism of a region's envelope: sums
// of the territories' published values, no noise added, no ρ spent.
const MechanismAggregate = "aggregate"

// Part is one territory envelope a region's sums stand on.
type Part struct {
	Territory string `json:"territory"`
	Epoch     string `json:"epoch"`
	Revision  int    `json:"revision"`
	SHA256    string `json:"sha256"` // hex, of the envelope's bytes
	Mechanism string `json:"mechanism"`
	// Sigma2, HeadlineSigma2 and Rates are the part's noise as its
	// envelope's Noise states it.
	Sigma2         string `json:"sigma2,omitempty"`
	HeadlineSigma2 string `json:"headline_sigma2,omitempty"`
	Rates          string `json:"rates,omitempty"`
	RhoSpent       string `json:"rho_spent"`
}

// Disclosure are the territory's disclosure settings used for the release
// (hub/disclosure.Settings); ρ values are exact rationals ("1/16").
type Disclosure struct {
	Mode               string `json:"mode"`
	RhoYearCap         string `json:"rho_year_cap"`
	RhoAnnual          string `json:"rho_annual"`
	RhoQuarterly       string `json:"rho_quarterly"`
	HeadlineShare      string `json:"headline_share,omitempty"`
	Threshold          int64  `json:"threshold"`
	DisplayBelow       int64  `json:"display_below"`
	MinRateDenominator int64  `json:"min_rate_denominator"`
	RoundingBase       int64  `json:"rounding_base"`
}

// Noise describes the mechanism: "discrete-gaussian" with σ², or
// "rounding" (no noise, ρ = 0). ρ = Tables / (2 σ²); with a Headline
// tier, ρ = (Tables − Headline.Tables)/(2 σ²) + Headline.Tables/(2 σ²ₕ),
// σ² being the breakdowns' and σ²ₕ the totals'. Rates is RatesPartition
// when rates were noised as one partition table (disclosure.Cell.Within).
type Noise struct {
	Mechanism string    `json:"mechanism"`
	Sigma2    string    `json:"sigma2,omitempty"`
	Headline  *Headline `json:"headline,omitempty"`
	Rates     string    `json:"rates,omitempty"`
	Rho       string    `json:"rho"`
	Tables    int       `json:"tables"`
}

// Headline is the totals' tier of an envelope's noise.
type Headline struct {
	Tables int    `json:"tables"`
	Sigma2 string `json:"sigma2"`
}

// RatesPartition is Noise.Rates for rates noised as one partition table:
// Var(denominator) = 2 Var(numerator), Cov = Var(numerator).
const RatesPartition = "partition"

// Budget is the release's line of the reporting year's ledger.
type Budget struct {
	Year          int    `json:"year"`
	RhoSpent      string `json:"rho_spent"`
	RhoCumulative string `json:"rho_cumulative"`
	RhoCap        string `json:"rho_cap"`
}

// Cell is a published cell: a value, or suppressed.
type Cell struct {
	Indicator  string            `json:"indicator"`
	Version    string            `json:"version"`
	Breakdown  map[string]string `json:"breakdown"`
	Measure    string            `json:"measure"`
	Value      *int64            `json:"value,omitempty"`
	Suppressed bool              `json:"suppressed,omitempty"`
	// Level region only: the territories in the sum, and the sum of their
	// σ² ("" when none added noise).
	Contributors int    `json:"contributors,omitempty"`
	Sigma2       string `json:"sigma2,omitempty"`
}

// Signature is the signature block.
type Signature struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	Value     string `json:"value"` // standard base64 of the 64-byte signature
}

// Source says who makes envelopes: the territory code of snodo.yaml and the
// software version.
type Source struct {
	Territory       string
	SoftwareVersion string
}

// KeyID is the fingerprint of a public key: "ed25519:" and the lower-case
// hex SHA-256 of its 32 raw bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:])
}

// Build makes the unsigned envelope of a release.
func Build(r *disclosure.Release, src Source) (*Envelope, error) {
	if r == nil {
		return nil, errors.New("federation: build envelope: no release")
	}
	s := r.Settings
	e := &Envelope{
		Schema:           schemas.EnvelopeSchemaID,
		Territory:        src.Territory,
		CatalogueVersion: r.CatalogueVersion,
		Epoch:            r.Epoch.Name,
		EpochKind:        r.Epoch.Kind,
		ReportingYear:    r.Epoch.Year,
		Revision:         r.Revision,
		CreatedAt:        r.CreatedAt.UTC().Format(time.RFC3339Nano),
		SoftwareVersion:  src.SoftwareVersion,
		Disclosure: Disclosure{
			Mode: string(s.Mode), RhoYearCap: s.YearCap.RatString(), RhoAnnual: s.AnnualRho.RatString(),
			RhoQuarterly: s.QuarterlyRho.RatString(), HeadlineShare: s.HeadlineShare.RatString(), Threshold: s.Threshold, DisplayBelow: s.DisplayBelow,
			MinRateDenominator: s.MinRateDenominator, RoundingBase: s.RoundingBase,
		},
		Noise:  Noise{Mechanism: r.Mechanism, Rho: r.Rho.RatString(), Tables: r.Tables},
		Budget: Budget{Year: r.Epoch.Year, RhoSpent: r.Rho.RatString(), RhoCumulative: r.RhoCumulative.RatString(), RhoCap: r.RhoCap.RatString()},
		Cells:  make([]Cell, len(r.Cells)),
	}
	if n := r.Noise; n != nil {
		e.Noise.Sigma2 = n.Sigma2.RatString()
		if n.Headline != nil {
			e.Noise.Headline = &Headline{Tables: n.Headline.Tables, Sigma2: n.Headline.Sigma2.RatString()}
		}
		if n.RatePartition {
			e.Noise.Rates = RatesPartition
		}
	}
	for i, c := range r.Cells {
		b := c.Breakdown
		if b == nil {
			b = map[string]string{}
		}
		e.Cells[i] = Cell{Indicator: c.Indicator, Version: c.Version, Breakdown: b, Measure: c.Measure}
		if c.Suppressed {
			e.Cells[i].Suppressed = true
		} else {
			v := c.Value
			e.Cells[i].Value = &v
		}
	}
	return e, nil
}

// signingBytes is the canonical JSON of e without its signature: what the
// signature covers.
func signingBytes(e *Envelope) ([]byte, error) {
	unsigned := *e
	unsigned.Signature = nil
	raw, err := json.Marshal(&unsigned)
	if err != nil {
		return nil, err
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		return nil, err
	}
	return schemas.AppendCanonical(nil, doc)
}

// Sign signs e with key and returns the envelope's bytes: canonical JSON,
// checked against the envelope schema. e.Signature is set.
func Sign(e *Envelope, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("federation: sign envelope: the signing key has %d bytes, not the %d of an Ed25519 private key", len(key), ed25519.PrivateKeySize)
	}
	msg, err := signingBytes(e)
	if err != nil {
		return nil, fmt.Errorf("federation: sign envelope: %w", err)
	}
	e.Signature = &Signature{
		Algorithm: Algorithm,
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)),
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("federation: sign envelope: %w", err)
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("federation: sign envelope: %w", err)
	}
	if err := validate(doc); err != nil {
		return nil, fmt.Errorf("federation: the envelope of %s revision %d is not valid: %w", e.Epoch, e.Revision, err)
	}
	if err := checkContent(e); err != nil {
		return nil, fmt.Errorf("federation: the envelope of %s revision %d is not consistent: %w", e.Epoch, e.Revision, err)
	}
	return schemas.AppendCanonical(nil, doc)
}

// Seal returns the signed envelope of a release, making and storing it the
// first time: a stored envelope is returned as it is, so every retry sends
// the same bytes.
func Seal(ctx context.Context, st *store.Store, r *disclosure.Release, src Source, key ed25519.PrivateKey) ([]byte, error) {
	if r.Envelope != nil {
		return r.Envelope, nil
	}
	e, err := Build(r, src)
	if err != nil {
		return nil, err
	}
	raw, err := Sign(e, key)
	if err != nil {
		return nil, err
	}
	if err := st.SetReleaseEnvelope(ctx, r.ID, raw); err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	r.Envelope = raw
	return raw, nil
}

// TrustedKey is a public key enrolled for a territory.
type TrustedKey struct {
	Territory string
	Key       ed25519.PublicKey
}

// TrustedKeys maps key ids (KeyID) to enrolled keys.
type TrustedKeys map[string]TrustedKey

// Add enrols pub for the territory.
func (t TrustedKeys) Add(territory string, pub ed25519.PublicKey) {
	t[KeyID(pub)] = TrustedKey{Territory: territory, Key: pub}
}

var (
	// ErrUnknownKey: the envelope names a key that is not enrolled.
	ErrUnknownKey = errors.New("the envelope is signed with a key that is not enrolled")
	// ErrBadSignature: the signature block is malformed.
	ErrBadSignature = errors.New("the envelope's signature is malformed")
	// ErrTampered: the signature does not match the content.
	ErrTampered = errors.New("the signature does not match the envelope's content: it was changed after signing, or signed with another key")
	// ErrWrongTerritory: the key is enrolled for another territory.
	ErrWrongTerritory = errors.New("the envelope's territory is not the one its key is enrolled for")
	// ErrInconsistent: the signed content contradicts itself.
	ErrInconsistent = errors.New("the envelope's content is inconsistent")
)

// SchemaError lists the envelope's schema violations, each with its JSON
// pointer.
type SchemaError struct {
	Violations []schemas.Violation
}

func (e *SchemaError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return "the envelope does not match its schema (" + schemas.EnvelopeSchemaID + "): " + strings.Join(parts, "; ")
}

// ContentError is an inconsistency of the content at a JSON pointer. It
// wraps ErrInconsistent.
type ContentError struct {
	Pointer string
	Message string
}

func (e *ContentError) Error() string { return e.Pointer + ": " + e.Message }
func (e *ContentError) Unwrap() error { return ErrInconsistent }

func validate(doc any) error {
	es, err := schemas.CompileEnvelope()
	if err != nil {
		return err
	}
	if vs := es.Validate(doc); vs != nil {
		return &SchemaError{Violations: vs}
	}
	return nil
}

// Verify checks envelope bytes: JSON, the schema (a *SchemaError with JSON
// pointers), a key enrolled in trusted (ErrUnknownKey) for the envelope's
// territory (ErrWrongTerritory), a well-formed signature (ErrBadSignature)
// over the content (ErrTampered), and the consistency of the content (a
// *ContentError: ρ and σ², cumulative ρ within the cap, epoch and year). It
// returns the verified envelope. Error messages never repeat values of the
// envelope other than its territory, epoch and key id.
func Verify(data []byte, trusted TrustedKeys) (*Envelope, error) {
	doc, err := schemas.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("federation: the envelope is not JSON: %w", err)
	}
	if err := validate(doc); err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("federation: read envelope: %w", err)
	}
	name := fmt.Sprintf("envelope of territory %s, epoch %s revision %d", e.Territory, e.Epoch, e.Revision)
	tk, ok := trusted[e.Signature.KeyID]
	if !ok {
		return nil, fmt.Errorf("federation: %s: %w (key %s): enrol the territory's public key first", name, ErrUnknownKey, e.Signature.KeyID)
	}
	if tk.Territory != e.Territory {
		return nil, fmt.Errorf("federation: %s: %w: key %s is enrolled for %s", name, ErrWrongTerritory, e.Signature.KeyID, tk.Territory)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(e.Signature.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("federation: %s: %w: /signature/value is not the base64 of a %d-byte signature", name, ErrBadSignature, ed25519.SignatureSize)
	}
	obj := doc.(map[string]any) // the schema says it is an object
	unsigned := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "signature" {
			unsigned[k] = v
		}
	}
	msg, err := schemas.AppendCanonical(nil, unsigned)
	if err != nil {
		return nil, fmt.Errorf("federation: %s: %w", name, err)
	}
	if !ed25519.Verify(tk.Key, msg, sig) {
		return nil, fmt.Errorf("federation: %s: %w", name, ErrTampered)
	}
	// What the struct holds must be what was signed: no parser
	// differential (duplicate keys, say) may slip a value past the check.
	if again, err := signingBytes(&e); err != nil || !bytes.Equal(again, msg) {
		return nil, fmt.Errorf("federation: %s: %w (the envelope reads two ways: duplicate keys?)", name, ErrTampered)
	}
	if err := checkContent(&e); err != nil {
		return nil, fmt.Errorf("federation: %s: %w", name, err)
	}
	return &e, nil
}

// checkContent checks what the schema cannot: numbers that must agree.
func checkContent(e *Envelope) error {
	epoch, err := disclosure.ParseEpoch(e.Epoch)
	if err != nil {
		return &ContentError{"/epoch", err.Error()}
	}
	if epoch.Kind != e.EpochKind {
		return &ContentError{"/epoch_kind", fmt.Sprintf("the epoch is %s, not %s", epoch.Kind, e.EpochKind)}
	}
	if epoch.Year != e.ReportingYear || e.Budget.Year != e.ReportingYear {
		return &ContentError{"/reporting_year", "the epoch, the reporting year and the budget year differ"}
	}
	if _, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err != nil {
		return &ContentError{"/created_at", "not an RFC 3339 time"}
	}
	rat := func(ptr, s string) (*big.Rat, error) {
		r, err := disclosure.ParseRat(s)
		if err != nil {
			return nil, &ContentError{ptr, "not an exact rational in lowest terms"}
		}
		return r, nil
	}
	spent, err := rat("/budget/rho_spent", e.Budget.RhoSpent)
	if err != nil {
		return err
	}
	cum, err := rat("/budget/rho_cumulative", e.Budget.RhoCumulative)
	if err != nil {
		return err
	}
	capRho, err := rat("/budget/rho_cap", e.Budget.RhoCap)
	if err != nil {
		return err
	}
	noiseRho, err := rat("/noise/rho", e.Noise.Rho)
	if err != nil {
		return err
	}
	if noiseRho.Cmp(spent) != 0 {
		return &ContentError{"/noise/rho", "differs from /budget/rho_spent"}
	}
	if spent.Cmp(cum) > 0 {
		return &ContentError{"/budget/rho_cumulative", "is less than the ρ spent by this release"}
	}
	if cum.Cmp(capRho) > 0 {
		return &ContentError{"/budget/rho_cumulative", fmt.Sprintf("ρ = %s exceeds the year's cap %s: the release is over budget", cum.RatString(), capRho.RatString())}
	}
	if e.Level == LevelRegion {
		return checkRegionContent(e, spent, rat)
	}
	if e.Noise.Mechanism == MechanismAggregate || e.Disclosure.Mode == MechanismAggregate {
		return &ContentError{"/noise/mechanism", "aggregate is for a region's envelope (level region)"}
	}
	for i, c := range e.Cells {
		if c.Contributors != 0 || c.Sigma2 != "" {
			return &ContentError{"/cells/" + strconv.Itoa(i), "contributors and sigma2 are for a region's envelope (level region)"}
		}
	}
	switch e.Noise.Mechanism {
	case "discrete-gaussian":
		if e.Disclosure.Mode != string(disclosure.ModeNoise) {
			return &ContentError{"/noise/mechanism", "does not match /disclosure/mode"}
		}
		sigma2, err := rat("/noise/sigma2", e.Noise.Sigma2)
		if err != nil {
			return err
		}
		if sigma2.Sign() <= 0 {
			return &ContentError{"/noise/sigma2", "must be positive"}
		}
		plan := disclosure.NoisePlan{Tables: e.Noise.Tables, Sigma2: sigma2}
		if h := e.Noise.Headline; h != nil {
			hs, err := rat("/noise/headline/sigma2", h.Sigma2)
			if err != nil {
				return err
			}
			if hs.Sign() <= 0 {
				return &ContentError{"/noise/headline/sigma2", "must be positive"}
			}
			if h.Tables >= e.Noise.Tables {
				return &ContentError{"/noise/headline/tables", "must be fewer than /noise/tables: the breakdowns' tables are the rest"}
			}
			plan.Headline = &disclosure.Tier{Tables: h.Tables, Sigma2: hs}
		}
		if plan.Rho().Cmp(noiseRho) != 0 {
			return &ContentError{"/noise/rho", "is not what the tables and σ² given spend: tables / (2 σ²), or with headline (tables − headline.tables) / (2 σ²) + headline.tables / (2 headline.sigma2)"}
		}
	case "rounding":
		if e.Disclosure.Mode != string(disclosure.ModeRounding) {
			return &ContentError{"/noise/mechanism", "does not match /disclosure/mode"}
		}
		for i, c := range e.Cells {
			if c.Value != nil && e.Disclosure.RoundingBase > 1 && *c.Value%e.Disclosure.RoundingBase != 0 {
				return &ContentError{"/cells/" + strconv.Itoa(i) + "/value", "is not rounded to the rounding base"}
			}
		}
	}
	return nil
}

// checkRegionContent checks a region's envelope: sums spend nothing, every
// sum has contributors among the parts, and each part is one territory.
func checkRegionContent(e *Envelope, spent *big.Rat, rat func(ptr, s string) (*big.Rat, error)) error {
	if e.Noise.Mechanism != MechanismAggregate || e.Disclosure.Mode != MechanismAggregate {
		return &ContentError{"/noise/mechanism", "a region's envelope carries sums: mechanism and mode aggregate"}
	}
	if spent.Sign() != 0 {
		return &ContentError{"/budget/rho_spent", "a region's sums spend no ρ of their own"}
	}
	seen := map[string]bool{}
	for i, p := range e.Parts {
		ptr := "/parts/" + strconv.Itoa(i)
		if seen[p.Territory] {
			return &ContentError{ptr + "/territory", "a territory is in the parts twice"}
		}
		seen[p.Territory] = true
		if p.Epoch != e.Epoch {
			return &ContentError{ptr + "/epoch", "differs from /epoch"}
		}
		if _, err := rat(ptr+"/rho_spent", p.RhoSpent); err != nil {
			return err
		}
		if (p.Mechanism == "discrete-gaussian") != (p.Sigma2 != "") {
			return &ContentError{ptr + "/sigma2", "is given exactly when the part added discrete Gaussian noise"}
		}
		if p.Sigma2 == "" && (p.HeadlineSigma2 != "" || p.Rates != "") {
			return &ContentError{ptr, "headline_sigma2 and rates describe noise: they need sigma2"}
		}
		if p.HeadlineSigma2 != "" {
			if _, err := rat(ptr+"/headline_sigma2", p.HeadlineSigma2); err != nil {
				return err
			}
		}
		if p.Sigma2 != "" {
			if _, err := rat(ptr+"/sigma2", p.Sigma2); err != nil {
				return err
			}
		}
	}
	for i, c := range e.Cells {
		ptr := "/cells/" + strconv.Itoa(i)
		switch {
		case c.Suppressed && (c.Contributors != 0 || c.Sigma2 != ""):
			return &ContentError{ptr, "a suppressed sum has no contributors"}
		case !c.Suppressed && (c.Contributors < 1 || c.Contributors > len(e.Parts)):
			return &ContentError{ptr + "/contributors", "must be between 1 and the number of parts"}
		}
		if c.Sigma2 != "" {
			if _, err := rat(ptr+"/sigma2", c.Sigma2); err != nil {
				return err
			}
		}
	}
	return nil
}
