package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

// invalidVariants returns many invalid identifiers derived from valid ones:
// every position replaced by a set of characters, truncations, extensions,
// and their spaced, lower-case forms.
func invalidVariants(t *testing.T) []string {
	t.Helper()
	bases := []string{
		"RSSMRA85T10A562S",
		"CCCFBA85D03L219P",
		"RSSMRA85T10A56NH",
		withCheck(t, "BNCLRA90E45H501"),
		withCheck(t, "LKHFTM98S52Z330"),
		withCheck(t, "RSSMRAURTMLARSN"),
		"00743110157",
		withProvisionalCheck(t, "3141592653"),
		"STP1200010000001",
		"ENI0902041234567",
	}
	replacements := []string{"0", "4", "9", "A", "B", "K", "L", "V", "X", "Z", ".", "/", "é", "\xff", "\x00"}
	var out []string
	for _, b := range bases {
		for i := 0; i < len(b); i++ {
			for _, r := range replacements {
				v := b[:i] + r + b[i+1:]
				out = append(out, v, strings.ToLower(v), " "+v[:3]+" "+v[3:]+"\n")
			}
			out = append(out, b[:i]+b[i+1:], b[:i]+"Q"+b[i:]) // one shorter, one longer
		}
		out = append(out, b+b, b[:len(b)-1]+"1")
	}
	return out
}

func TestErrorsNeverContainTheIdentifier(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, in := range invalidVariants(t) {
		_, err := identity.Parse(in)
		if err == nil {
			continue // a replacement happened to give another valid code
		}
		checked++
		var ie *identity.InvalidError
		if !errors.As(err, &ie) {
			t.Fatalf("error %T is not *InvalidError", err)
		}
		msg := err.Error()
		norm := identity.Normalise(in)
		if strings.Contains(msg, in) || strings.Contains(msg, norm) {
			t.Fatalf("message contains the identifier: %s", msg)
		}
		// Not even a recognisable part: no 6 consecutive characters of it.
		for i := 0; i+6 <= len(norm); i++ {
			if strings.Contains(msg, norm[i:i+6]) {
				t.Fatalf("message contains %d characters of the identifier: %s", 6, msg)
			}
		}
		for _, kind := range []identity.Kind{identity.KindCF, identity.KindProvisional, identity.KindSTP, identity.KindENI} {
			if _, err := identity.ParseKind(kind, in); err != nil && strings.Contains(err.Error(), norm) {
				t.Fatalf("ParseKind(%s) message contains the identifier: %s", kind, err)
			}
		}
	}
	if checked < 2000 {
		t.Fatalf("only %d invalid variants checked; the generator is broken", checked)
	}
}

func TestCodeFormatsMasked(t *testing.T) {
	t.Parallel()
	c, err := identity.Parse("RSSMRA85T10A562S")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "cf:****************"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	wrapped := struct{ Who identity.Code }{c}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%60v"} {
		outputs["code "+verb] = fmt.Sprintf(verb, c)
		outputs["pointer "+verb] = fmt.Sprintf(verb, &c)
		outputs["struct "+verb] = fmt.Sprintf(verb, wrapped)
		outputs["slice "+verb] = fmt.Sprintf(verb, []identity.Code{c})
	}
	outputs["error wrap"] = fmt.Errorf("store %v: %w", c, errors.New("boom")).Error()
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		l := slog.New(h(&b))
		l.Info("ingest", "code", c, slog.Any("any", c), slog.Any("ptr", &c))
		outputs["slog "+name] = b.String()
	}
	for name, out := range outputs {
		if strings.Contains(out, c.Value) || strings.Contains(out, "A562") || strings.Contains(out, "RSSMRA") {
			t.Errorf("%s shows the identifier: %s", name, out)
		}
		if !strings.Contains(out, "cf:****************") {
			t.Errorf("%s does not show the masked form: %s", name, out)
		}
	}
	// Zero value.
	if got := fmt.Sprint(identity.Code{}); got != "identity.Code(empty)" {
		t.Errorf("zero Code prints %q", got)
	}
	// The value stays reachable on purpose, e.g. for the encrypted
	// delivery envelope.
	raw, err := json.Marshal(c.Value)
	if err != nil || string(raw) != `"RSSMRA85T10A562S"` {
		t.Errorf("Value = %s, %v", raw, err)
	}
}

func TestKeyFormatsRedacted(t *testing.T) {
	t.Parallel()
	k, err := identity.ParseKey([]byte(strings.Repeat("ab", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("start", "key", k)
	slog.New(slog.NewTextHandler(&b, nil)).Info("start", "key", k)
	outs := []string{b.String(), fmt.Sprint(k), fmt.Sprintf("%x %X %v %+v %#v %s %d", k, k, k, k, k, k, k), fmt.Sprintf("%v", &k)}
	for _, out := range outs {
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
			t.Errorf("key printed: %s", out)
		}
		if !strings.Contains(out, "identity.Key(redacted)") {
			t.Errorf("no redacted form in %s", out)
		}
	}
}
