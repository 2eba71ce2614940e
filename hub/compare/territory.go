package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Territory is one territory of the region as the public territories file
// describes it. Its figures are public covariates (resident population,
// foreign residents), never data of the territory's own households: they
// are the denominators of per-capita rates and the basis of benchmark
// groups and peers.
type Territory struct {
	// Code is the territory's code as enrolled in the region, e.g. "TOS-FI".
	Code string `json:"code"`
	Name string `json:"name"`
	// Population is the resident population (the sum over Comuni).
	Population int64 `json:"population"`
	// ForeignResidents is the number of residents of foreign citizenship.
	ForeignResidents int64 `json:"foreign_residents"`
	// Comuni are the ISTAT codes of the municipalities the territory covers.
	Comuni []string `json:"comuni"`
}

// ForeignShare is the share of foreign residents in the population, in
// [0, 1]; 0 for a territory with no population.
func (t Territory) ForeignShare() float64 {
	if t.Population <= 0 {
		return 0
	}
	return float64(t.ForeignResidents) / float64(t.Population)
}

// Region names the region a territories file describes.
type Region struct {
	Code string `json:"code"` // ISTAT region code, e.g. "09"
	Name string `json:"name"`
}

// Source says where some fields of a territories file come from, so that
// the attribution an open licence asks for travels with the data and the
// dashboard can show it.
type Source struct {
	Fields  []string `json:"fields"`
	Source  string   `json:"source"`
	Licence string   `json:"licence,omitempty"`
	URL     string   `json:"url,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// TerritoriesFile is the file a region loads to describe its territories.
type TerritoriesFile struct {
	Region      Region      `json:"region"`
	Sources     []Source    `json:"sources"`
	Territories []Territory `json:"territories"`
}

var (
	territoryCodeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	istatCodeRe     = regexp.MustCompile(`^[0-9]{6}$`)
)

// LoadTerritoriesFile reads and checks a territories file. Unknown fields
// are refused rather than ignored: a misspelt "foreign_resident" would
// otherwise load as zero foreign residents and silently skew every
// per-capita rate and benchmark group. Errors name the place in the file
// as a JSON pointer ("/territories/3/population") and the territory.
func LoadTerritoriesFile(r io.Reader) (*TerritoriesFile, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("territories file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f TerritoriesFile
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("territories file: invalid JSON at byte %d: %w", se.Offset, err)
		}
		return nil, fmt.Errorf("territories file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("territories file: more than one JSON value")
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("territories file: %w", err)
	}
	return &f, nil
}

// LoadTerritories reads and checks a territories file (see
// [LoadTerritoriesFile]) and returns its territories.
func LoadTerritories(r io.Reader) ([]Territory, error) {
	f, err := LoadTerritoriesFile(r)
	if err != nil {
		return nil, err
	}
	return f.Territories, nil
}

// check reports the first problem of the file, in file order.
func (f *TerritoriesFile) check() error {
	if len(f.Territories) == 0 {
		return errors.New("/territories: no territory: list at least one")
	}
	codes := map[string]int{}
	comuni := map[string]string{}
	for i, t := range f.Territories {
		at := func(field, format string, args ...any) error {
			return fmt.Errorf("/territories/%d/%s (territory %q): %s", i, field, t.Code, fmt.Sprintf(format, args...))
		}
		if !territoryCodeRe.MatchString(t.Code) {
			return at("code", "must match %s", territoryCodeRe)
		}
		if j, dup := codes[t.Code]; dup {
			return at("code", "duplicate of /territories/%d", j)
		}
		codes[t.Code] = i
		if t.Name == "" {
			return at("name", "must not be empty")
		}
		if t.Population <= 0 {
			return at("population", "is %d: it must be above 0", t.Population)
		}
		if t.ForeignResidents < 0 || t.ForeignResidents > t.Population {
			return at("foreign_residents", "is %d: it must be between 0 and the population %d", t.ForeignResidents, t.Population)
		}
		for k, c := range t.Comuni {
			if !istatCodeRe.MatchString(c) {
				return at(fmt.Sprintf("comuni/%d", k), "%q is not a 6-digit ISTAT code", c)
			}
			if other, dup := comuni[c]; dup {
				return at(fmt.Sprintf("comuni/%d", k), "comune %s is also in territory %q: a comune belongs to one territory", c, other)
			}
			comuni[c] = t.Code
		}
	}
	return nil
}
