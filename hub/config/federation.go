package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

// Disclosure is the territory's disclosure control (snodo.yaml
// "disclosure:"). Empty fields take the defaults of
// disclosure.DefaultSettings (or DefaultRoundingSettings in the rounding
// mode); see Config.DisclosureSettings.
type Disclosure struct {
	Mode               string `yaml:"mode"`
	RhoYearCap         string `yaml:"rho_year_cap"`
	RhoAnnual          string `yaml:"rho_annual"`
	RhoQuarterly       string `yaml:"rho_quarterly"`
	HeadlineShare      string `yaml:"headline_share"`
	Threshold          *int64 `yaml:"threshold"`
	DisplayBelow       *int64 `yaml:"display_below"`
	MinRateDenominator *int64 `yaml:"min_rate_denominator"`
	RoundingBase       *int64 `yaml:"rounding_base"`
}

// Federation says where the territory sends its signed releases
// (snodo.yaml "federation:").
type Federation struct {
	// RegionURL is the regional hub's base URL; envelopes are posted to
	// /api/v1/intake under it. Empty: no region configured (releases stay
	// in the outbox).
	RegionURL string `yaml:"region_url"`
	// CAFile is a PEM bundle of the certificate authorities trusted for an
	// https region_url instead of the system's; relative to snodo.yaml.
	CAFile string `yaml:"ca_file"`
	// NATSURL, when set, sends envelopes through NATS JetStream instead
	// of HTTP. CAFile applies to it too when the connection is TLS.
	NATSURL string `yaml:"nats_url"`
	// NATSCredentials is the NATS credentials file (.creds) the uplink
	// presents to the NATS server; relative to snodo.yaml. Empty: none.
	NATSCredentials string `yaml:"nats_credentials"`
}

// federationProblems checks what the schema cannot: the NATS credentials
// file exists and only its owner may read it (it holds the nkey seed, a
// secret like the hub's keys), at the line of the setting.
func federationProblems(path string, doc *yaml.Node) []Problem {
	node, key := yamldoc.NodeAt(doc, "/federation/nats_credentials")
	if key == nil || node == nil || node.Kind != yaml.ScalarNode || node.Value == "" {
		return nil
	}
	file := node.Value
	if !filepath.IsAbs(file) {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		file = filepath.Join(filepath.Dir(abs), file)
	}
	problem := func(msg string) []Problem {
		return []Problem{{File: path, Line: node.Line, Column: node.Column, Pointer: "/federation/nats_credentials", Message: msg}}
	}
	err := keyring.CheckPrivate(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return problem(fmt.Sprintf("%s does not exist: the NATS credentials file (.creds) from the NATS server's operator", file))
	case err != nil:
		return problem(err.Error())
	}
	return nil
}

// DisclosureSettings returns the territory's disclosure settings: the
// configured values over the defaults of the mode. Parse has already
// checked them, so the error only reports a Config built by hand.
func (c *Config) DisclosureSettings() (disclosure.Settings, error) {
	return c.Disclosure.settings()
}

func (d Disclosure) settings() (disclosure.Settings, error) {
	s, err := d.merge()
	if err != nil {
		return s, err
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// merge applies the configured values over the mode's defaults, without
// checking the result.
func (d Disclosure) merge() (disclosure.Settings, error) {
	s := disclosure.DefaultSettings()
	if d.Mode == string(disclosure.ModeRounding) {
		s = disclosure.DefaultRoundingSettings()
	} else if d.Mode != "" && d.Mode != string(disclosure.ModeNoise) {
		return s, fmt.Errorf("disclosure: mode %q is not %q or %q", d.Mode, disclosure.ModeNoise, disclosure.ModeRounding)
	}
	for _, r := range []struct {
		dst  **big.Rat
		text string
		name string
	}{{&s.YearCap, d.RhoYearCap, "rho_year_cap"}, {&s.AnnualRho, d.RhoAnnual, "rho_annual"}, {&s.QuarterlyRho, d.RhoQuarterly, "rho_quarterly"},
		{&s.HeadlineShare, d.HeadlineShare, "headline_share"}} {
		if r.text == "" {
			continue
		}
		v, err := disclosure.ParseRat(r.text)
		if err != nil {
			return s, fmt.Errorf("disclosure: %s: %w", r.name, err)
		}
		*r.dst = v
	}
	for _, f := range []struct {
		dst *int64
		v   *int64
	}{{&s.Threshold, d.Threshold}, {&s.DisplayBelow, d.DisplayBelow}, {&s.MinRateDenominator, d.MinRateDenominator}, {&s.RoundingBase, d.RoundingBase}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return s, nil
}

// disclosureProblems checks what the schema cannot: ρ values in lowest
// terms, each within the cap, and the settings as a whole, each problem at
// the line of the setting concerned.
func disclosureProblems(path string, doc *yaml.Node) []Problem {
	node, key := yamldoc.NodeAt(doc, "/disclosure")
	if key == nil || node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	var d Disclosure
	if err := node.Decode(&d); err != nil {
		return []Problem{{File: path, Line: node.Line, Column: node.Column, Pointer: "/disclosure",
			Message: "cannot be read: " + err.Error()}}
	}
	at := func(name string) (int, int, string) {
		if n, k := yamldoc.NodeAt(node, "/"+name); k != nil {
			return n.Line, n.Column, "/disclosure/" + name
		}
		return key.Line, key.Column, "/disclosure"
	}
	for _, r := range []struct{ key, text string }{{"rho_year_cap", d.RhoYearCap}, {"rho_annual", d.RhoAnnual}, {"rho_quarterly", d.RhoQuarterly}, {"headline_share", d.HeadlineShare}} {
		if r.text == "" {
			continue
		}
		if _, err := disclosure.ParseRat(r.text); err != nil {
			line, col, ptr := at(r.key)
			return []Problem{{File: path, Line: line, Column: col, Pointer: ptr, Message: err.Error()}}
		}
	}
	s, err := d.merge()
	if err != nil {
		line, col, ptr := at("mode")
		return []Problem{{File: path, Line: line, Column: col, Pointer: ptr, Message: err.Error()}}
	}
	// Point a ρ above the cap at the ρ concerned.
	for _, r := range []struct {
		key string
		v   *big.Rat
	}{{"rho_annual", s.AnnualRho}, {"rho_quarterly", s.QuarterlyRho}} {
		if r.v.Cmp(s.YearCap) > 0 {
			line, col, ptr := at(r.key)
			return []Problem{{File: path, Line: line, Column: col, Pointer: ptr,
				Message: fmt.Sprintf("ρ = %s exceeds the year cap rho_year_cap = %s: lower it, or raise the cap", r.v.RatString(), s.YearCap.RatString())}}
		}
	}
	if s.HeadlineShare.Cmp(big.NewRat(1, 1)) >= 0 {
		line, col, ptr := at("headline_share")
		return []Problem{{File: path, Line: line, Column: col, Pointer: ptr,
			Message: fmt.Sprintf("%s leaves the breakdowns no ρ: use a share below 1 (default 7/8), or 0 for an even split", s.HeadlineShare.RatString())}}
	}
	if err := s.Validate(); err != nil {
		return []Problem{{File: path, Line: key.Line, Column: key.Column, Pointer: "/disclosure", Message: err.Error()}}
	}
	return nil
}
