package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
)

// Comune is a current Italian municipality (ISTAT data, see places/README.md).
type Comune struct {
	ISTAT        string `json:"istat"`
	Name         string `json:"name"`
	Region       string `json:"region"`
	RegionName   string `json:"region_name"`
	Province     string `json:"province"`
	ProvinceName string `json:"province_name"`
	Plate        string `json:"plate"`
	Cadastral    string `json:"cadastral"`
	Population   int    `json:"population"`
}

// Country is a foreign state with its Belfiore code (Z + 3 digits), current
// or former.
type Country struct {
	Cadastral string  `json:"cadastral"`
	Name      string  `json:"name"`
	NameEN    string  `json:"name_en"`
	Active    bool    `json:"active"`
	Ceased    *string `json:"ceased"`
}

// Places is the embedded reference data about municipalities and states.
type Places struct {
	Comuni    []Comune
	Countries []Country

	byISTAT     map[string]*Comune
	byCadastral map[string]string // Belfiore code → name, municipalities and states
	countries   map[string]*Country
}

func loadPlaces(fsys fs.FS) (*Places, error) {
	p := &Places{
		byISTAT:     map[string]*Comune{},
		byCadastral: map[string]string{},
		countries:   map[string]*Country{},
	}
	if err := readJSON(fsys, "places/comuni.json", &p.Comuni); err != nil {
		return nil, err
	}
	if err := readJSON(fsys, "places/countries.json", &p.Countries); err != nil {
		return nil, err
	}
	for i := range p.Comuni {
		c := &p.Comuni[i]
		p.byISTAT[c.ISTAT] = c
		p.byCadastral[c.Cadastral] = c.Name
	}
	for i := range p.Countries {
		c := &p.Countries[i]
		p.countries[c.Cadastral] = c
		p.byCadastral[c.Cadastral] = c.Name
	}
	return p, nil
}

func readJSON(fsys fs.FS, name string, v any) error {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("embedded reference data: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("embedded reference data schemas/%s: %w", name, err)
	}
	return nil
}

// Places returns the embedded reference data about places.
func (r *Registry) Places() *Places { return r.places }

// Comune finds a current municipality by its ISTAT code.
func (p *Places) Comune(istat string) (*Comune, bool) {
	c, ok := p.byISTAT[istat]
	return c, ok
}

// Country finds a foreign state by its Belfiore code.
func (p *Places) Country(code string) (*Country, bool) {
	c, ok := p.countries[code]
	return c, ok
}

// PlaceName finds the place part of a codice fiscale: a current
// municipality's cadastral code or a state's Z-code. A code that is not
// found may still be a former municipality: it is unknown, not wrong.
func (p *Places) PlaceName(cadastral string) (string, bool) {
	n, ok := p.byCadastral[cadastral]
	return n, ok
}

func (p *Places) checkComune(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if _, ok := p.byISTAT[s]; !ok {
		return errors.New("no current municipality has this ISTAT code (6 digits, e.g. 048017 for Firenze)")
	}
	return nil
}

func (p *Places) checkCountry(v any) error {
	s, ok := v.(string)
	if !ok || s == "IT" {
		return nil
	}
	if _, ok := p.countries[s]; !ok {
		return errors.New("not a known state: use IT for Italy or the Belfiore code of a foreign state (Z + 3 digits, e.g. Z330 for Morocco)")
	}
	return nil
}
