package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
)

// fuzzKey is the key the fuzz seeds are signed with: derived from a fixed
// seed, so that the signed envelopes committed under
// testdata/fuzz/FuzzVerify verify in every run and in every fuzzing
// process.
var fuzzKey = ed25519.NewKeyFromSeed(func() []byte { s := sha256.Sum256([]byte("snodo FuzzVerify")); return s[:] }())

const fuzzVerifyCorpus = "testdata/fuzz/FuzzVerify"

// FuzzVerify feeds bytes to Verify, starting from real envelopes signed
// with fuzzKey and committed under testdata/fuzz/FuzzVerify (signed-*).
// Properties: Verify never panics; it either refuses the bytes, with an
// error and no envelope, or returns an envelope whose signed content (the
// canonical JSON without the signature) is exactly that of one of the
// committed envelopes. Mutated bytes may verify only when the change means
// nothing — spacing, key order, the escaping of a string — never when it
// changes a value.
//
// The envelopes are committed rather than signed at each run because a
// release's noise differs from run to run, and every fuzzing process must
// know the same originals. SNODO_FUZZ_WRITE=1 writes fresh ones (after a
// change of the envelope's schema, say).
func FuzzVerify(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(f.TempDir(), "snodo.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	tk := TrustedKeys{}
	tk.Add(territory, fuzzKey.Public().(ed25519.PublicKey))

	// Envelopes signed now must verify: the committed ones are checked
	// against today's code below.
	cell := func(b map[string]string, n int64) disclosure.Cell {
		return disclosure.Cell{Indicator: "caseload", Version: "1", Measure: "households", Breakdown: b, Count: n}
	}
	cells := []disclosure.Cell{cell(nil, 77), cell(map[string]string{"sex": "F"}, 40), cell(map[string]string{"sex": "M"}, 35), cell(map[string]string{"sex": "X"}, 2)}
	fresh := map[string][]byte{}
	for name, c := range map[string]struct {
		epoch string
		set   disclosure.Settings
	}{"signed-noise": {"2025-Q2", disclosure.DefaultSettings()}, "signed-rounding": {"2025", disclosure.DefaultRoundingSettings()}} {
		l, err := disclosure.NewLedger(st, c.set)
		if err != nil {
			f.Fatal(err)
		}
		r, err := l.Release(ctx, disclosure.Request{Epoch: c.epoch, CatalogueVersion: "1.0.0", Cells: cells})
		if err != nil {
			f.Fatal(err)
		}
		raw, err := Seal(ctx, st, r, src, fuzzKey)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := Verify(raw, tk); err != nil {
			f.Fatalf("an envelope just signed does not verify: %v", err)
		}
		fresh[name] = raw
	}
	if os.Getenv("SNODO_FUZZ_WRITE") == "1" {
		for name, raw := range fresh {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", raw)
			if err := os.WriteFile(filepath.Join(fuzzVerifyCorpus, name), []byte(data), 0o644); err != nil {
				f.Fatal(err)
			}
		}
	}

	committed, err := corpusInputs(fuzzVerifyCorpus, "signed-")
	if err != nil {
		f.Fatal(err)
	}
	originals := map[string]bool{}
	for _, raw := range committed {
		e, err := Verify(raw, tk)
		if err != nil {
			f.Fatalf("a committed envelope of %s no longer verifies (%v): write fresh ones with SNODO_FUZZ_WRITE=1", fuzzVerifyCorpus, err)
		}
		msg, err := signingBytes(e)
		if err != nil {
			f.Fatal(err)
		}
		originals[string(msg)] = true
		// Changes a signature does not cover, and ones it does.
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			f.Fatal(err)
		}
		f.Add(pretty.Bytes())
		f.Add(bytes.Replace(raw, []byte(`"territory":"S`), []byte(`"territory":"\u0053`), 1))
		f.Add(bytes.Replace(raw, []byte(`"revision":0`), []byte(`"revision":0.0`), 1))
		f.Add(bytes.Replace(raw, []byte(`"revision":0`), []byte(`"revision":0,"revision":1`), 1))
		f.Add(bytes.Replace(raw, []byte(`"territory":"`), []byte(`"territory":"x","territory":"`), 1))
		f.Add(raw[:len(raw)/2])
	}
	if len(originals) == 0 {
		f.Fatalf("no signed envelope under %s: write them with SNODO_FUZZ_WRITE=1", fuzzVerifyCorpus)
	}
	f.Add([]byte(`{"signature":{"key_id":"x","value":"","algorithm":"Ed25519"}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Verify(data, tk)
		if err != nil {
			if e != nil {
				t.Fatalf("Verify returned an envelope with its error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "federation: ") {
				t.Errorf("error does not say where it comes from: %v", err)
			}
			return
		}
		msg, err := signingBytes(e)
		if err != nil {
			t.Fatalf("signingBytes of a verified envelope: %v", err)
		}
		if !originals[string(msg)] {
			t.Fatalf("an envelope verified whose content was never signed:\n%s", msg)
		}
	})
}

// corpusInputs reads the []byte inputs of the corpus files in dir whose
// name starts with prefix ("go test fuzz v1" format, one []byte value
// each); a missing dir has none.
func corpusInputs(dir, prefix string) ([][]byte, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, ent := range entries {
		if !strings.HasPrefix(ent.Name(), prefix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			continue
		}
		v, ok := strings.CutPrefix(lines[1], "[]byte(")
		if !ok || !strings.HasSuffix(v, ")") {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
		if err != nil {
			continue
		}
		out = append(out, []byte(s))
	}
	return out, nil
}
