package schemas_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/snodo-hub/snodo/schemas"
)

// encodingJSON is the reference: encoding/json without HTML escaping.
func encodingJSON(t testing.TB, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestCanonicalIsEncodingJSON(t *testing.T) {
	t.Parallel()
	docs := map[string]string{
		"a record":       `{"schema":"https://snodo-hub.github.io/schemas/person/1.0.0","record_id":"P-1","person":{"identifiers":{"cf":"RSSMRA85T10A562S"}},"languages":["it","fr"],"birth_year":1988,"permit":{"status":"valid"}}`,
		"escapes":        `{"a":"quote \" backslash \\ slash / tab \t nl \n cr \r bell \u0007 nul \u0000 del \u007f","<html>":"<b>&amp;</b>"}`,
		"unicode":        `{"città":"Forlì–Cesena ✓ 😀","sep":"a\u2028b\u2029c","bom":"\ufeff"}`,
		"numbers":        `{"i":-12,"f":1.50,"e":1e-7,"big":123456789012345678901234567890,"z":0}`,
		"nesting":        `[[],{},[{"b":[null,true,false],"a":{"y":1,"x":2}}],"",[[[]]]]`,
		"keys in order":  `{"b":1,"a":2,"B":3,"aa":4,"a a":5,"é":6,"_":7,"10":8,"9":9}`,
		"many keys":      `{"k01":1,"k02":2,"k03":3,"k04":4,"k05":5,"k06":6,"k07":7,"k08":8,"k09":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20,"k21":21,"k22":22,"k23":23,"k24":24,"k25":25,"k26":26,"k27":27,"k28":28,"k29":29,"k30":30,"k31":31,"k32":32,"k33":33,"k34":34}`,
		"scalar string":  `"just a string"`,
		"scalar literal": `null`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := schemas.Decode([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := schemas.AppendCanonical(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, v); !bytes.Equal(got, want) {
				t.Errorf("AppendCanonical:\n%s\nencoding/json:\n%s", got, want)
			}
		})
	}
	// Strings that the decoder never makes (invalid UTF-8) still match.
	for _, s := range []string{"a\xffb", "\xe2\x80", "ok"} {
		got, _ := schemas.AppendCanonical(nil, s)
		if want := encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, encoding/json %s", s, got, want)
		}
	}
	if _, err := schemas.AppendCanonical(nil, json.Number("1x")); err == nil {
		t.Errorf("an invalid number was written")
	}
	if got, err := schemas.AppendCanonical(nil, []any{int64(-7), 2.5}); err != nil || string(got) != "[-7,2.5]" {
		t.Errorf("int64 and float64: %s %v", got, err)
	}
	if _, err := schemas.AppendCanonical(nil, struct{}{}); err == nil {
		t.Errorf("a struct was written")
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add(`{"a":[1,"x\u2028",{"b":null}],"c":true}`)
	f.Add(`"\u0000\t\\"`)
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := schemas.Decode([]byte(doc))
		if err != nil {
			return
		}
		got, err := schemas.AppendCanonical(nil, v)
		if err != nil {
			t.Fatalf("schemas.AppendCanonical(%q): %v", doc, err)
		}
		if want := encodingJSON(t, v); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n%s\n%s", doc, got, want)
		}
	})
}
