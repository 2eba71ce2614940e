package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
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
//
// It is held without pointers — every text in one string, records as
// offsets into it, indexes keyed by integers — because it lives as long as
// the process: as 8,000 structs of strings it was 77,000 objects that the
// garbage collector scanned at every cycle, nearly half the cost of
// validating a record.
type Places struct {
	text        string
	comuni      []comuneRec
	countries   []countryRec
	byISTAT     map[uint32]int32
	byCadastral map[uint32]int32 // ≥ 0: a comune; < 0: country -(i+1)
}

type span struct{ off, n uint32 }

type comuneRec struct {
	istat                            uint32
	name, regionName, provinceName   span
	region, province, plate, cadCode span
	population                       uint32
}

type countryRec struct {
	code             span
	name, nameEN     span
	ceased           span
	active, hasCease bool
}

func (p *Places) str(s span) string { return p.text[s.off : s.off+s.n] }

func loadPlaces(fsys fs.FS) (*Places, error) {
	var comuni []Comune
	var countries []Country
	if err := readJSON(fsys, "places/comuni.json", &comuni); err != nil {
		return nil, err
	}
	if err := readJSON(fsys, "places/countries.json", &countries); err != nil {
		return nil, err
	}
	var text strings.Builder
	add := func(s string) span {
		sp := span{uint32(text.Len()), uint32(len(s))}
		text.WriteString(s)
		return sp
	}
	p := &Places{
		comuni:      make([]comuneRec, len(comuni)),
		countries:   make([]countryRec, len(countries)),
		byISTAT:     make(map[uint32]int32, len(comuni)),
		byCadastral: make(map[uint32]int32, len(comuni)+len(countries)),
	}
	for i, c := range comuni {
		code, ok := istatKey(c.ISTAT)
		if !ok || len(c.Cadastral) != 4 {
			return nil, fmt.Errorf("embedded reference data schemas/places/comuni.json: entry %d has ISTAT code %q, cadastral code %q", i, c.ISTAT, c.Cadastral)
		}
		p.comuni[i] = comuneRec{
			istat: code, name: add(c.Name), regionName: add(c.RegionName), provinceName: add(c.ProvinceName),
			region: add(c.Region), province: add(c.Province), plate: add(c.Plate), cadCode: add(c.Cadastral),
			population: uint32(c.Population),
		}
		p.byISTAT[code] = int32(i)
		p.byCadastral[cadastralKey(c.Cadastral)] = int32(i)
	}
	for i, c := range countries {
		if len(c.Cadastral) != 4 {
			return nil, fmt.Errorf("embedded reference data schemas/places/countries.json: entry %d has code %q", i, c.Cadastral)
		}
		r := countryRec{code: add(c.Cadastral), name: add(c.Name), nameEN: add(c.NameEN), active: c.Active}
		if c.Ceased != nil {
			r.ceased, r.hasCease = add(*c.Ceased), true
		}
		p.countries[i] = r
		p.byCadastral[cadastralKey(c.Cadastral)] = -int32(i) - 1
	}
	p.text = text.String()
	return p, nil
}

// istatKey packs a 6-digit ISTAT code into an integer.
func istatKey(s string) (uint32, bool) {
	if len(s) != 6 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// cadastralKey packs a 4-character Belfiore code into an integer.
func cadastralKey(s string) uint32 {
	if len(s) != 4 {
		return 0
	}
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
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

func (p *Places) comune(i int32) Comune {
	c := p.comuni[i]
	return Comune{
		ISTAT: fmt.Sprintf("%06d", c.istat), Name: p.str(c.name),
		Region: p.str(c.region), RegionName: p.str(c.regionName),
		Province: p.str(c.province), ProvinceName: p.str(c.provinceName),
		Plate: p.str(c.plate), Cadastral: p.str(c.cadCode), Population: int(c.population),
	}
}

func (p *Places) country(i int32) Country {
	c := p.countries[i]
	out := Country{Cadastral: p.str(c.code), Name: p.str(c.name), NameEN: p.str(c.nameEN), Active: c.active}
	if c.hasCease {
		s := p.str(c.ceased)
		out.Ceased = &s
	}
	return out
}

// Comuni lists every current municipality, by ISTAT code.
func (p *Places) Comuni() []Comune {
	out := make([]Comune, len(p.comuni))
	for i := range p.comuni {
		out[i] = p.comune(int32(i))
	}
	return out
}

// Countries lists the foreign states, current and former.
func (p *Places) Countries() []Country {
	out := make([]Country, len(p.countries))
	for i := range p.countries {
		out[i] = p.country(int32(i))
	}
	return out
}

// Comune finds a current municipality by its ISTAT code.
func (p *Places) Comune(istat string) (Comune, bool) {
	k, ok := istatKey(istat)
	if !ok {
		return Comune{}, false
	}
	i, ok := p.byISTAT[k]
	if !ok {
		return Comune{}, false
	}
	return p.comune(i), true
}

// Country finds a foreign state by its Belfiore code.
func (p *Places) Country(code string) (Country, bool) {
	i, ok := p.byCadastral[cadastralKey(code)]
	if !ok || i >= 0 {
		return Country{}, false
	}
	return p.country(-i - 1), true
}

// PlaceName finds the place part of a codice fiscale: a current
// municipality's cadastral code or a state's Z-code. A code that is not
// found may still be a former municipality: it is unknown, not wrong.
func (p *Places) PlaceName(cadastral string) (string, bool) {
	i, ok := p.byCadastral[cadastralKey(cadastral)]
	switch {
	case !ok:
		return "", false
	case i >= 0:
		return p.str(p.comuni[i].name), true
	}
	return p.str(p.countries[-i-1].name), true
}

func (p *Places) checkComune(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if k, ok := istatKey(s); ok {
		if _, ok := p.byISTAT[k]; ok {
			return nil
		}
	}
	return errors.New("no current municipality has this ISTAT code (6 digits, e.g. 048017 for Firenze)")
}

func (p *Places) checkCountry(v any) error {
	s, ok := v.(string)
	if !ok || s == "IT" {
		return nil
	}
	if i, ok := p.byCadastral[cadastralKey(s)]; ok && i < 0 {
		return nil
	}
	return errors.New("not a known state: use IT for Italy or the Belfiore code of a foreign state (Z + 3 digits, e.g. Z330 for Morocco)")
}
