package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/disclosure"
)

const head = "version: 1\nterritory: {code: SDS-FI, name: Firenze}\n"

func TestDisclosureDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("snodo.yaml", []byte(head))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DisclosureSettings()
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := got.MarshalJSON()
	wantJSON, _ := disclosure.DefaultSettings().MarshalJSON()
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("defaults %s, want %s", gotJSON, wantJSON)
	}
	if c.Federation.RegionURL != "" || c.Federation.NATSURL != "" {
		t.Errorf("federation defaults: %+v, want none", c.Federation)
	}
}

func TestDisclosureAndFederationSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("snodo.yaml", []byte(head+`disclosure:
  mode: rounding
  rho_year_cap: 2
  rho_annual: "3/2"
  rho_quarterly: 1/8
  headline_share: 2/3
  display_below: 5
federation:
  region_url: https://region.example.org
  nats_url: nats://region.example.org:4222
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.DisclosureSettings()
	if err != nil {
		t.Fatal(err)
	}
	// The rounding mode's default threshold is 10, not 3.
	if s.Mode != disclosure.ModeRounding || s.Threshold != 10 || s.RoundingBase != 5 || s.DisplayBelow != 5 || s.MinRateDenominator != 20 ||
		s.YearCap.RatString() != "2" || s.AnnualRho.RatString() != "3/2" || s.QuarterlyRho.RatString() != "1/8" ||
		s.HeadlineShare.RatString() != "2/3" {
		t.Errorf("settings %+v", s)
	}
	if c.Federation.RegionURL != "https://region.example.org" || c.Federation.NATSURL != "nats://region.example.org:4222" {
		t.Errorf("federation %+v", c.Federation)
	}
}

func TestDisclosureProblemsSayWhere(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		yaml string
		want []string
	}{
		"ρ not in lowest terms": {
			yaml: head + "disclosure:\n  rho_annual: 2/4\n",
			want: []string{"snodo.yaml:4:15: /disclosure/rho_annual:", "not in lowest terms: write 1/2"},
		},
		"ρ as a decimal": {
			yaml: head + "disclosure:\n  rho_quarterly: 0.25\n",
			want: []string{"snodo.yaml:4:18: /disclosure/rho_quarterly:"},
		},
		"ρ over the cap": {
			yaml: head + "disclosure:\n  rho_year_cap: 1/2\n  rho_annual: 3/4\n",
			want: []string{"snodo.yaml:5:15: /disclosure/rho_annual: ρ = 3/4 exceeds the year cap rho_year_cap = 1/2"},
		},
		"zero ρ": {
			yaml: head + "disclosure:\n  rho_quarterly: 0\n",
			want: []string{"snodo.yaml:3:1: /disclosure:", "quarterly ρ must be a positive number"},
		},
		"headline share of 1": {
			yaml: head + "disclosure:\n  headline_share: 1\n",
			want: []string{"snodo.yaml:4:19: /disclosure/headline_share: 1 leaves the breakdowns no ρ"},
		},
		"unknown mode": {
			yaml: head + "disclosure:\n  mode: laplace\n",
			want: []string{"snodo.yaml:4:9: /disclosure/mode: value must be one of"},
		},
		"threshold below 1": {
			yaml: head + "disclosure:\n  threshold: 0\n",
			want: []string{"snodo.yaml:4:14: /disclosure/threshold:"},
		},
		"unknown disclosure key": {
			yaml: head + "disclosure:\n  epsilon: 1\n",
			want: []string{`snodo.yaml:4:3: /disclosure/epsilon: unknown setting "epsilon"`, "allowed here: display_below, headline_share, min_rate_denominator, mode"},
		},
		"region URL not http": {
			yaml: head + "federation:\n  region_url: ftp://region.example.org\n",
			want: []string{"snodo.yaml:4:15: /federation/region_url:", "expected: The regional hub's base URL"},
		},
		"NATS URL not nats": {
			yaml: head + "federation:\n  nats_url: http://x:4222\n",
			want: []string{"snodo.yaml:4:13: /federation/nats_url:"},
		},
		"bad subject": {
			// The subject is the uplink's (snodo.envelopes.<code>), the
			// one the region reads: not a setting.
			yaml: head + "federation:\n  nats_subject: snodo.envelopes.x\n",
			want: []string{"snodo.yaml:4:3: /federation/nats_subject: unknown setting"},
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

// TestNATSCredentials: federation.nats_credentials names a credentials file
// relative to snodo.yaml that must exist and be readable by its owner only;
// each problem is reported at the setting's line with its JSON pointer.
func TestNATSCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "snodo.yaml")
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "keys", "nats.creds")
	if err := os.WriteFile(creds, []byte("-----BEGIN NATS USER JWT-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const fed = "federation:\n  nats_url: tls://nats.example.org:4222\n  ca_file: keys/ca.pem\n  nats_credentials: "
	c, err := config.Parse(path, []byte(head+fed+"keys/nats.creds\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Path(c.Federation.NATSCredentials); got != creds {
		t.Errorf("nats_credentials resolves to %s, want %s", got, creds)
	}
	if c.Federation.CAFile != "keys/ca.pem" {
		t.Errorf("ca_file %q", c.Federation.CAFile)
	}

	open := filepath.Join(dir, "open.creds")
	if err := os.WriteFile(open, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o640); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ value, want string }{
		"missing":           {"keys/none.creds", "snodo.yaml:6:21: /federation/nats_credentials: " + filepath.Join(dir, "keys", "none.creds") + " does not exist"},
		"readable by group": {open, "snodo.yaml:6:21: /federation/nats_credentials: " + open + " is readable by others (mode 0640): run \"chmod 600"},
		"a folder":          {"keys", "snodo.yaml:6:21: /federation/nats_credentials: " + filepath.Join(dir, "keys") + " is not a regular file"},
		"empty":             {"''", "snodo.yaml:6:21: /federation/nats_credentials:"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse(path, []byte(head+fed+tc.value+"\n"))
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a problem containing %q", err, tc.want)
			}
		})
	}
}
