package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

const territory = "SDS-FI-NORDOVEST"

var src = Source{Territory: territory, SoftwareVersion: "v0.6.0-test"}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	at := time.Date(2025, 7, 31, 10, 0, 0, 0, time.UTC)
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "snodo.db"),
		store.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// population is what the test territory's store holds about its people.
type population struct {
	personIDs []string
	recordIDs []string
	cfs       []string // the identifiers the people were linked by
}

// fill stores n people with a household record each, and returns the true
// counts a statistics run would compute: households by sex.
func fill(t *testing.T, st *store.Store, n int) (population, []disclosure.Cell) {
	t.Helper()
	ctx := context.Background()
	var pop population
	bySex := map[string]int64{}
	for i := range n {
		cf := fmt.Sprintf("RSSMRA%02dA%02dH501%c", 50+i%40, 1+i%28, 'A'+rune(i%26))
		digest := sha256.Sum256([]byte(cf))
		pid, _, err := st.ResolvePerson(ctx, digest[:], identity.KindCF, identity.NewPersonID())
		if err != nil {
			t.Fatal(err)
		}
		sex := []string{"F", "M", "M", "F", "X"}[i%5]
		if i%5 == 4 && i > 4 {
			sex = "F" // a single "X": under the threshold
		}
		rid := fmt.Sprintf("HH-%05d", 1000+i)
		body := fmt.Sprintf(`{"members":[{"person":{"person_id":%q},"sex":%q}],"note":"visited by Mario Rossi"}`, pid, sex)
		err = st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.UpsertRecord(ctx, store.Record{Schema: "household", SchemaID: schemas.BaseURL + "schemas/household/1.0.0",
				Source: "cartella", RecordID: rid, Territory: territory, Body: []byte(body), PersonID: pid})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pop.personIDs = append(pop.personIDs, pid)
		pop.recordIDs = append(pop.recordIDs, rid)
		pop.cfs = append(pop.cfs, cf)
		bySex[sex]++
	}
	cells := []disclosure.Cell{{Indicator: "caseload", Version: "1", Measure: "households", Count: int64(n)}}
	for _, sex := range []string{"F", "M", "X"} {
		cells = append(cells, disclosure.Cell{Indicator: "caseload", Version: "1", Measure: "households",
			Breakdown: map[string]string{"sex": sex}, Count: bySex[sex]})
	}
	return pop, cells
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	key, err := keyring.CreateSigningKey(filepath.Join(t.TempDir(), "keys", "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func release(t *testing.T, st *store.Store, set disclosure.Settings, epoch string, cells []disclosure.Cell) *disclosure.Release {
	t.Helper()
	l, err := disclosure.NewLedger(st, set)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Release(context.Background(), disclosure.Request{Epoch: epoch, CatalogueVersion: "1.0.0", Cells: cells})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func trust(key ed25519.PrivateKey) TrustedKeys {
	tk := TrustedKeys{}
	tk.Add(territory, key.Public().(ed25519.PublicKey))
	return tk
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	_, cells := fill(t, st, 60)
	key := newKey(t)
	for _, c := range []struct {
		epoch string
		set   disclosure.Settings
	}{{"2025-Q2", disclosure.DefaultSettings()}, {"2025", disclosure.DefaultRoundingSettings()}} {
		r := release(t, st, c.set, c.epoch, cells)
		raw, err := Seal(ctx, st, r, src, key)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Verify(raw, trust(key))
		if err != nil {
			t.Fatalf("%s: %v", c.epoch, err)
		}
		if e.Territory != territory || e.Epoch != c.epoch || e.Revision != 0 || e.CatalogueVersion != "1.0.0" ||
			e.SoftwareVersion != src.SoftwareVersion || e.Signature.KeyID != KeyID(key.Public().(ed25519.PublicKey)) {
			t.Errorf("%s: envelope header %+v", c.epoch, e)
		}
		if len(e.Cells) != len(r.Cells) {
			t.Fatalf("%d cells, want %d", len(e.Cells), len(r.Cells))
		}
		for i, pc := range r.Cells {
			ec := e.Cells[i]
			if ec.Suppressed != pc.Suppressed || (!pc.Suppressed && *ec.Value != pc.Value) {
				t.Errorf("%s cell %d: %+v, release %+v", c.epoch, i, ec, pc)
			}
		}
		if e.Budget.RhoSpent != r.Rho.RatString() || e.Budget.RhoCumulative != r.RhoCumulative.RatString() || e.Noise.Mechanism != r.Mechanism {
			t.Errorf("%s: budget %+v noise %+v", c.epoch, e.Budget, e.Noise)
		}

		// The envelope is canonical JSON and stored; asking again, even
		// for a fresh copy of the release, sends the same bytes.
		doc, _ := schemas.Decode(raw)
		canon, _ := schemas.AppendCanonical(nil, doc)
		if string(canon) != string(raw) {
			t.Errorf("%s: envelope is not canonical", c.epoch)
		}
		l, _ := disclosure.NewLedger(st, c.set)
		again, _, err := l.Find(ctx, c.epoch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.Envelope) != string(raw) {
			t.Errorf("%s: stored envelope differs", c.epoch)
		}
		again.Envelope = nil
		raw2, err := Seal(ctx, st, again, src, key) // Ed25519 is deterministic
		if err != nil || string(raw2) != string(raw) {
			t.Errorf("%s: re-sealing gave other bytes (%v)", c.epoch, err)
		}
	}
}

// mutate decodes the envelope, changes it, and writes it back canonical,
// with the original signature.
func mutate(t *testing.T, raw []byte, f func(m map[string]any)) []byte {
	t.Helper()
	doc, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	f(doc.(map[string]any))
	out, err := schemas.AppendCanonical(nil, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func at(m map[string]any, path ...any) map[string]any {
	var cur any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func firstValueCell(m map[string]any) map[string]any {
	for _, c := range m["cells"].([]any) {
		if _, ok := c.(map[string]any)["value"]; ok {
			return c.(map[string]any)
		}
	}
	panic("no published cell")
}

func TestTamperingDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	_, cells := fill(t, st, 60)
	key := newKey(t)
	raw, err := Seal(ctx, st, release(t, st, disclosure.DefaultSettings(), "2025-Q2", cells), src, key)
	if err != nil {
		t.Fatal(err)
	}
	tk := trust(key)
	for name, f := range map[string]func(m map[string]any){
		"cell value": func(m map[string]any) {
			c := firstValueCell(m)
			n, _ := c["value"].(json.Number).Int64()
			c["value"] = json.Number(fmt.Sprint(n + 1))
		},
		"cell unsuppressed": func(m map[string]any) {
			for _, c := range m["cells"].([]any) {
				cm := c.(map[string]any)
				if cm["suppressed"] == true {
					delete(cm, "suppressed")
					cm["value"] = json.Number("1")
				}
			}
		},
		"cell dropped":     func(m map[string]any) { m["cells"] = m["cells"].([]any)[1:] },
		"cell category":    func(m map[string]any) { at(m, "cells", 1, "breakdown")["sex"] = "Z" },
		"rho":              func(m map[string]any) { at(m, "noise")["rho"] = "1/8"; at(m, "budget")["rho_spent"] = "1/8" },
		"rho cumulative":   func(m map[string]any) { at(m, "budget")["rho_cumulative"] = "1/32" },
		"sigma2":           func(m map[string]any) { at(m, "noise")["sigma2"] = "32"; at(m, "noise")["tables"] = json.Number("4") },
		"epoch":            func(m map[string]any) { m["epoch"] = "2025-Q3" },
		"revision":         func(m map[string]any) { m["revision"] = json.Number("1") },
		"threshold":        func(m map[string]any) { at(m, "disclosure")["threshold"] = json.Number("1") },
		"territory":        func(m map[string]any) { m["territory"] = "SDS-PO" },
		"created at":       func(m map[string]any) { m["created_at"] = "2025-08-01T10:00:00Z" },
		"software version": func(m map[string]any) { m["software_version"] = "v9" },
	} {
		_, err := Verify(mutate(t, raw, f), tk)
		if !errors.Is(err, ErrTampered) && !(name == "territory" && errors.Is(err, ErrWrongTerritory)) {
			t.Errorf("%s: got %v, want ErrTampered", name, err)
		}
	}
	if _, err := Verify(raw, tk); err != nil {
		t.Errorf("untouched envelope: %v", err)
	}

	// A duplicate key cannot make the envelope read two ways.
	dup := strings.Replace(string(raw), `"epoch":"2025-Q2"`, `"epoch":"2025-Q2","epoch":"2025-Q3"`, 1)
	if _, err := Verify([]byte(dup), tk); err == nil {
		t.Error("an envelope with a duplicate key was accepted")
	}
}

func TestWrongKeyRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	_, cells := fill(t, st, 30)
	key, other := newKey(t), newKey(t)
	r := release(t, st, disclosure.DefaultSettings(), "2025-Q1", cells)

	e, _ := Build(r, src)
	byOther, err := Sign(e, other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(byOther, trust(key))
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), KeyID(other.Public().(ed25519.PublicKey))) {
		t.Errorf("unenrolled key: %v", err)
	}
	// Signed by another key but naming the enrolled one.
	named := mutate(t, byOther, func(m map[string]any) {
		at(m, "signature")["key_id"] = KeyID(key.Public().(ed25519.PublicKey))
	})
	if _, err := Verify(named, trust(key)); !errors.Is(err, ErrTampered) {
		t.Errorf("signature by another key under the enrolled id: %v", err)
	}
	// The right key enrolled for another territory.
	elsewhere := TrustedKeys{}
	elsewhere.Add("SDS-PO", key.Public().(ed25519.PublicKey))
	good, err := Seal(ctx, st, r, src, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(good, elsewhere); !errors.Is(err, ErrWrongTerritory) {
		t.Errorf("key of another territory: %v", err)
	}
	// A malformed signature (non-zero padding bits: not strict base64).
	bad := mutate(t, good, func(m map[string]any) {
		at(m, "signature")["value"] = strings.Repeat("A", 85) + "B=="
	})
	if _, err := Verify(bad, trust(key)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("malformed signature: %v", err)
	}
	if _, err := Verify(good, TrustedKeys{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no key enrolled: %v", err)
	}
}

func TestSchemaViolationsPointAtTheField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	_, cells := fill(t, st, 30)
	key := newKey(t)
	good, err := Seal(ctx, st, release(t, st, disclosure.DefaultSettings(), "2025-Q1", cells), src, key)
	if err != nil {
		t.Fatal(err)
	}
	for want, f := range map[string]func(m map[string]any){
		"/note":                  func(m map[string]any) { m["note"] = "x" },
		"/cells/0/value":         func(m map[string]any) { at(m, "cells", 0)["value"] = "12" },
		"/noise/rho":             func(m map[string]any) { at(m, "noise")["rho"] = "0.0625" },
		"/signature/algorithm":   func(m map[string]any) { at(m, "signature")["algorithm"] = "RSA" },
		"/territory":             func(m map[string]any) { m["territory"] = "sds fi" },
		"/cells/1/breakdown/sex": func(m map[string]any) { at(m, "cells", 1, "breakdown")["sex"] = "Mario Rossi" },
		"/budget":                func(m map[string]any) { delete(at(m, "budget"), "rho_cap") },
	} {
		_, err := Verify(mutate(t, good, f), trust(key))
		var se *SchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *SchemaError", want, err)
			continue
		}
		found := false
		for _, v := range se.Violations {
			found = found || v.Pointer == want
		}
		if !found {
			t.Errorf("%s: violations %v", want, se.Violations)
		}
		if strings.Contains(err.Error(), "Rossi") {
			t.Errorf("%s: the error repeats a value: %v", want, err)
		}
	}
	if _, err := Verify([]byte("not json"), trust(key)); err == nil {
		t.Error("non-JSON accepted")
	}
}

// signRaw signs a document as Sign does, without Sign's checks: a
// misbehaving (or modified) territory.
func signRaw(t *testing.T, m map[string]any, key ed25519.PrivateKey) []byte {
	t.Helper()
	delete(m, "signature")
	msg, err := schemas.AppendCanonical(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	m["signature"] = map[string]any{"algorithm": Algorithm, "key_id": KeyID(key.Public().(ed25519.PublicKey)),
		"value": base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))}
	out, err := schemas.AppendCanonical(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInconsistentContentRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	_, cells := fill(t, st, 30)
	key := newKey(t)
	good, err := Seal(ctx, st, release(t, st, disclosure.DefaultSettings(), "2025-Q1", cells), src, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		want string
		f    func(m map[string]any)
	}{
		{"/budget/rho_cumulative", func(m map[string]any) { at(m, "budget")["rho_cumulative"] = "17/16" }}, // over the cap
		{"/noise/rho", func(m map[string]any) { at(m, "noise")["sigma2"] = "1" }},                          // ρ ≠ what the tiers spend
		{"/epoch_kind", func(m map[string]any) { m["epoch_kind"] = "annual" }},
		{"/reporting_year", func(m map[string]any) { at(m, "budget")["year"] = json.Number("2024") }},
		// The totals' tier: its σ² and tables must add up to the ρ, and
		// leave the breakdowns some tables.
		{"/noise/headline/tables", func(m map[string]any) { at(m, "noise", "headline")["tables"] = at(m, "noise")["tables"] }},
		{"/noise/headline/sigma2", func(m map[string]any) { at(m, "noise", "headline")["sigma2"] = "0" }},
		{"/noise/rho", func(m map[string]any) { at(m, "noise", "headline")["sigma2"] = "1" }},
	} {
		want, f := c.want, c.f
		doc, _ := schemas.Decode(good)
		m := doc.(map[string]any)
		f(m)
		_, err := Verify(signRaw(t, m, key), trust(key))
		var ce *ContentError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInconsistent) || ce.Pointer != want {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

var (
	ulidShape = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)
	cfShape   = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)
	digits11  = regexp.MustCompile(`[0-9]{11}`)
)

// TestEnvelopeHoldsNothingPersonal scans every byte of the envelopes made
// from a store full of people for their ids, identifiers, record ids, the
// free text of their records, and anything shaped like them.
func TestEnvelopeHoldsNothingPersonal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	pop, cells := fill(t, st, 150)
	key := newKey(t)
	var sent [][]byte
	for _, c := range []struct {
		epoch string
		set   disclosure.Settings
	}{{"2025-Q1", disclosure.DefaultSettings()}, {"2025", disclosure.DefaultSettings()}, {"2026", disclosure.DefaultRoundingSettings()}} {
		raw, err := Seal(ctx, st, release(t, st, c.set, c.epoch, cells), src, key)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, raw)
	}
	for _, raw := range sent {
		text := string(raw)
		for _, list := range [][]string{pop.personIDs, pop.recordIDs, pop.cfs} {
			for _, s := range list {
				if strings.Contains(text, s) {
					t.Fatalf("the envelope contains a person id, record id or identifier")
				}
			}
		}
		// The shape scans skip the signature block (a hash and a
		// signature, random-looking by design); the exact scans above
		// covered every byte.
		doc, _ := schemas.Decode(raw)
		delete(doc.(map[string]any), "signature")
		unsigned, _ := schemas.AppendCanonical(nil, doc)
		text = string(unsigned)
		for name, re := range map[string]*regexp.Regexp{"person-id": ulidShape, "codice fiscale": cfShape, "11-digit code": digits11} {
			if loc := re.FindStringIndex(text); loc != nil {
				t.Errorf("the envelope contains a %s-shaped string at byte %d: %s", name, loc[0], text[max(0, loc[0]-40):loc[1]])
			}
		}
		for _, w := range []string{"Rossi", "Mario", "visited", "cartella", "HH-", "person_id"} {
			if strings.Contains(text, w) {
				t.Errorf("the envelope contains %q", w)
			}
		}
		// No free text: no string value holds white space.
		walkStrings(doc, func(s string) {
			if strings.ContainsAny(s, " \t\n\r") {
				t.Errorf("the envelope holds a string with white space (free text?) of %d bytes", len(s))
			}
		})
	}
	// The scanner itself finds what it looks for.
	if !ulidShape.MatchString(pop.personIDs[0]) || !cfShape.MatchString(pop.cfs[0]) {
		t.Fatal("the shape scanners do not match real ids")
	}
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for k, e := range x {
			f(k)
			walkStrings(e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := KeyID(pub)
	if !regexp.MustCompile(`^ed25519:[0-9a-f]{64}$`).MatchString(id) || id != KeyID(append(ed25519.PublicKey(nil), pub...)) {
		t.Errorf("KeyID = %s", id)
	}
}
