package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/hub/config"
)

// FuzzParse feeds snodo.yaml bytes to Parse. Properties: it never panics;
// every error is a *config.Error whose problems each name the file, a line
// of at least 1 and a message; a configuration that parses parses the same
// again, from the same bytes and from itself written back as YAML.
func FuzzParse(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	for _, s := range []string{
		string(config.Template("SDS-FI-NORDOVEST", "Società della Salute \"Fiorentina\" Nord-Ovest")),
		"version: 1\nterritory: {code: AB, name: A}\n",
		"version: 1\nterritory:\n  code: TOS-PI\n  name: Pisa\n  population: 1000\n  foreign_residents: 1200\n  comuni: [\"050026\", G702]\n",
		"version: 1\nterritory: {code: AB, name: A}\nconnectors:\n  - {name: comune, plugin: a, sha256: " + sum + ", settings: c.yaml, enabled: false, read_interval: 5m}\n  - {name: cpi, plugin: b, sha256: " + sum + "}\n" +
			"organisations:\n  - {id: comune-sesto, connector: comune}\n  - {id: cpi-sesto, name: CPI, connector: cpi}\nreferrals:\n  envelope_retention: 48h\n  response_targets: {urgent: 24h}\n",
		"version: 1\nterritory: {code: AB, name: A}\ndisclosure:\n  mode: rounding\n  rounding_base: 5\n  threshold: 3\n",
		"version: 1\nterritory: {code: AB, name: A}\ndisclosure:\n  rho_year_cap: 1\n  rho_annual: 3/4\n  rho_quarterly: 1/16\n  headline_share: 7/8\n",
		"version: 1\nterritory: {code: AB, name: A}\nfederation:\n  region_url: https://region.example/\n  nats_url: nats://localhost:4222\n",
		"version: 1\nversion: 1\nterritory: {code: AB, name: A}\n",
		"version: 1\nterritory: &t\n  code: AB\n  name: *t\n",
		"version: 1\nterritory:\n  code: [unclosed\n",
		"a: &a [*a, *a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
		"version: 1\nterritory: {code: AB, name: A}\n<<: {mode: region}\n",
		"version: !!binary aGVsbG8=\n",
		"--- \n...\n---\nversion: 1\n",
		"\t- x",
		"",
		"\xff\xfe",
		"version: 1e400\nterritory: {code: AB, name: A}\n",
		"version: 1\nterritory: {code: AB, name: A, population: 99999999999999999999}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("snodo.yaml", data)
		if err != nil {
			checkError(t, err)
			return
		}
		again, err := config.Parse("snodo.yaml", data)
		if err != nil {
			t.Fatalf("the same bytes parsed once, then failed: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("two parses of the same bytes differ (-first +second):\n%s", diff)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("write the configuration back as YAML: %v", err)
		}
		// Zero values are written back as empty strings and nulls, which
		// the file would leave out: leave them out too.
		var tree any
		if err := yaml.Unmarshal(out, &tree); err != nil {
			t.Fatalf("read the written YAML: %v", err)
		}
		out, err = yaml.Marshal(prune(tree))
		if err != nil {
			t.Fatal(err)
		}
		back, err := config.Parse("snodo.yaml", out)
		if err != nil {
			t.Fatalf("the configuration written back does not parse:\n%s\n%v", out, err)
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Fatalf("the configuration written back parses differently (-first +back):\n%s", diff)
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *config.Error: %v", err, err)
	}
	if len(ce.Problems) == 0 {
		t.Fatalf("a *config.Error without problems")
	}
	for _, p := range ce.Problems {
		if p.File != "snodo.yaml" || p.Line < 1 || strings.TrimSpace(p.Message) == "" {
			t.Errorf("problem without file, line or message: %+v", p)
		}
	}
}

// prune removes empty strings, nulls and empty mappings and sequences from
// a decoded YAML tree, in mappings only (a sequence keeps its positions),
// and the territory's figures when 0: their Go zero means "not set".
func prune(v any) any {
	switch n := v.(type) {
	case map[string]any:
		for k, x := range n {
			x = prune(x)
			if isEmpty(x) || (x == 0 && (k == "population" || k == "foreign_residents")) {
				delete(n, k)
				continue
			}
			n[k] = x
		}
		return n
	case []any:
		for i, x := range n {
			n[i] = prune(x)
		}
		return n
	}
	return v
}

func isEmpty(v any) bool {
	switch n := v.(type) {
	case nil:
		return true
	case string:
		return n == ""
	case map[string]any:
		return len(n) == 0
	case []any:
		return len(n) == 0
	}
	return false
}
