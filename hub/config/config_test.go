package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/schemas"
)

func TestTemplateLoadsWithDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, config.FileName)
	if err := os.WriteFile(path, config.Template("SDS-FI-NORDOVEST", `SdS "Nord-Ovest": Firenze`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Territory{Code: "SDS-FI-NORDOVEST", Name: `SdS "Nord-Ovest": Firenze`}
	if diff := cmp.Diff(want, c.Territory); diff != "" {
		t.Errorf("territory (-want +got):\n%s", diff)
	}
	if got, want := c.Path(c.Store.Path), filepath.Join(dir, "snodo.db"); got != want {
		t.Errorf("store path %q, want %q", got, want)
	}
	if c.Mode != "territory" || c.Listen != config.DefaultListen || c.BusyTimeout().Seconds() != 5 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestProblemsSayWhereAndWhat(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		yaml string
		want []string // substrings of the problems, in order
	}{
		"unknown key at its line": {
			yaml: "version: 1\nterritory:\n  code: SDS-FI\n  name: Firenze\n  nmae: typo\n",
			want: []string{`snodo.yaml:5:3: /territory/nmae: unknown setting "nmae"`, "allowed here: code, comuni, foreign_residents, name, population"},
		},
		"more foreign residents than residents": {
			yaml: "version: 1\nterritory:\n  code: TOS-PI\n  name: Pisa\n  population: 1000\n  foreign_residents: 1200\n",
			want: []string{"snodo.yaml:6:22: /territory/foreign_residents: 1200 foreign residents is more than the population (1000)"},
		},
		"comuni are ISTAT codes": {
			yaml: "version: 1\nterritory:\n  code: TOS-PI\n  name: Pisa\n  comuni: [\"050026\", G702]\n",
			want: []string{"snodo.yaml:5:22: /territory/comuni/1: does not match pattern"},
		},
		"bad pattern says what was expected": {
			yaml: "version: 1\nterritory:\n  code: sds fi\n  name: Firenze\n",
			want: []string{"snodo.yaml:3:9: /territory/code:", "expected: The territory code: upper-case"},
		},
		"missing required setting points at the mapping": {
			yaml: "version: 1\nterritory:\n  code: SDS-FI\n",
			want: []string{"snodo.yaml:3:3: /territory: missing required setting 'name'"},
		},
		"wrong enum": {
			yaml: "version: 1\nterritory: {code: SDS-FI, name: F}\nlog:\n  level: loud\n",
			want: []string{"snodo.yaml:4:10: /log/level: value must be one of"},
		},
		"several problems are all reported": {
			yaml: "version: 2\nterritory: {code: x, name: F}\n",
			want: []string{"snodo.yaml:1:10: /version:", "snodo.yaml:2:19: /territory/code:"},
		},
		"broken YAML": {
			yaml: "version: 1\nterritory:\n  code: [unclosed\n",
			want: []string{"snodo.yaml:", "not valid YAML"},
		},
		"duplicate key": {
			yaml: "version: 1\nversion: 1\nterritory: {code: AB, name: F}\n",
			want: []string{"appears twice"},
		},
		"alias inside its own anchor": {
			yaml: "version: 1\nterritory: &t\n  code: AB\n  name: *t\n",
			want: []string{"snodo.yaml:4:9: alias *t refers to a value that contains the alias itself"},
		},
		"empty file": {
			yaml: "",
			want: []string{"snodo.yaml:1:1: the file is empty"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("snodo.yaml", []byte(tc.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			msg := err.Error()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("problems\n%s\ndo not contain %q (after offset %d)", msg, w, at)
				}
				at += i + len(w)
			}
		})
	}
}

func TestMissingFileSaysHowToCreateOne(t *testing.T) {
	t.Parallel()
	_, err := config.Load(filepath.Join(t.TempDir(), "snodo.yaml"))
	if err == nil || !strings.Contains(err.Error(), "snodo init") {
		t.Fatalf("got %v", err)
	}
}

func TestConnectors(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	c, err := config.Parse("snodo.yaml", []byte("version: 1\nterritory: {code: AB, name: A}\nconnectors:\n  - name: comune-firenze\n    plugin: bin/comune\n    sha256: "+sum+"\n    settings: comune.yaml\n  - name: sds\n    plugin: bin/sds\n    sha256: "+sum+"\n    enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := c.Connector("comune-firenze")
	if !ok || !k.IsEnabled() || k.Settings != "comune.yaml" {
		t.Fatalf("%+v", k)
	}
	if k, _ := c.Connector("sds"); k.IsEnabled() {
		t.Error("sds is disabled")
	}
	_, err = config.Parse("snodo.yaml", []byte("version: 1\nterritory: {code: AB, name: A}\nconnectors:\n  - {name: x-y, plugin: a, sha256: "+sum+"}\n  - {name: x-y, plugin: b, sha256: "+sum+"}\n"))
	if err == nil || !strings.Contains(err.Error(), `snodo.yaml:5:12: /connectors/1/name: connector name "x-y" is already used by /connectors/0`) {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = config.Parse("snodo.yaml", []byte("version: 1\nterritory: {code: AB, name: A}\nconnectors:\n  - {name: x, plugin: a, sha256: abc}\n"))
	if err == nil || !strings.Contains(err.Error(), "/connectors/0/sha256") || !strings.Contains(err.Error(), "sha256sum") {
		t.Fatalf("bad sum: %v", err)
	}
}

func TestOrganisationsAndReferrals(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	base := "version: 1\nterritory: {code: AB, name: A}\nconnectors:\n  - {name: comune, plugin: a, sha256: " + sum + "}\n  - {name: cpi, plugin: b, sha256: " + sum + "}\n"
	c, err := config.Parse("snodo.yaml", []byte(base+"organisations:\n  - {id: comune-sesto, connector: comune}\n  - {id: cpi-sesto, name: CPI, connector: cpi}\nreferrals:\n  envelope_retention: 48h\n  response_targets: {urgent: 24h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Serves(); got["comune-sesto"] != "comune" || got["cpi-sesto"] != "cpi" || len(got) != 2 {
		t.Errorf("Serves = %v", got)
	}
	retention, interval, targets := c.Referrals.Durations()
	if retention != 48*time.Hour || interval != config.DefaultDeliveryInterval || targets["urgent"] != 24*time.Hour || targets["routine"] != 7*24*time.Hour {
		t.Errorf("Durations = %v %v %v", retention, interval, targets)
	}
	bad := map[string]string{
		"unknown connector": "organisations:\n  - {id: asl, connector: asl}\n",
		"listed twice":      "organisations:\n  - {id: x, connector: cpi}\n  - {id: x, connector: comune}\n",
		"bad duration":      "referrals:\n  envelope_retention: a week\n",
		"unknown priority":  "referrals:\n  response_targets: {soon: 1h}\n",
	}
	want := map[string]string{
		"unknown connector": `snodo.yaml:7:26: /organisations/0/connector: no connector instance is named "asl"`,
		"listed twice":      `snodo.yaml:8:10: /organisations/1/id: organisation "x" is already listed at /organisations/0`,
		"bad duration":      "/referrals/envelope_retention",
		"unknown priority":  "/referrals/response_targets/soon",
	}
	for name, extra := range bad {
		_, err := config.Parse("snodo.yaml", []byte(base+extra))
		if err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: %v; want %q", name, err, want[name])
		}
	}
}

func TestRetentionBySchema(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("snodo.yaml", []byte("version: 1\nterritory: {code: AB, name: F}\nretention:\n  person: 120\n  referral: 60\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"person": 120, "referral": 60}, c.Retention); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown schema": {"retention:\n  persons: 12\n",
			`snodo.yaml:4:3: /retention/persons: unknown setting "persons": check its spelling and indentation (allowed here: assessment, consent,`},
		"zero months":  {"retention:\n  person: 0\n", "snodo.yaml:4:11: /retention/person:"},
		"not a number": {"retention:\n  person: ten\n", "snodo.yaml:4:11: /retention/person:"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("snodo.yaml", []byte("version: 1\nterritory: {code: AB, name: F}\n"+tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a problem containing %q", err, tc.want)
			}
			if name == "zero months" && !strings.Contains(err.Error(), "Months to keep person records") {
				t.Errorf("the problem does not say what was expected: %v", err)
			}
		})
	}
}

// TestRetentionNamesEverySchema keeps the retention settings in step with
// the data contract: one setting per schema, no other.
func TestRetentionNamesEverySchema(t *testing.T) {
	t.Parallel()
	var s struct {
		Properties struct {
			Retention struct {
				Properties map[string]any `json:"properties"`
			} `json:"retention"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(config.SchemaJSON(), &s); err != nil {
		t.Fatal(err)
	}
	var got []string
	for name := range s.Properties.Retention.Properties {
		got = append(got, name)
	}
	sort.Strings(got)
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		t.Fatal(err)
	}
	want := reg.Names()
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retention settings vs the contract's schemas (-want +got):\n%s", diff)
	}
}
