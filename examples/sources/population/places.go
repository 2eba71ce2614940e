package population

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sync"

	"github.com/snodo-hub/snodo/schemas"
)

// Municipality is one comune of the territory, with its codes as the
// embedded reference data (schemas/places/comuni.json) gives them.
type Municipality struct {
	// ISTAT is the 6-digit ISTAT code, e.g. "048043".
	ISTAT string
	// Cadastral is the cadastral (Belfiore) code, the place part of a
	// codice fiscale, e.g. "I684".
	Cadastral string
	// Name is the Italian name, e.g. "Sesto Fiorentino".
	Name string
	// Population is the census population, used to weight residence.
	Population int
}

// territoryComuni are the comuni of the SdS Firenze Nord-Ovest, looked up by
// name in the province of Firenze: no code is written here.
var territoryComuni = []string{
	"Sesto Fiorentino", "Calenzano", "Campi Bisenzio", "Signa",
	"Lastra a Signa", "Scandicci", "Fiesole", "Vaglia",
}

// italianBirthPlace is a comune where Italian residents of the territory
// were born: mostly the Florentine hospitals, some the South (the internal
// migration of the 1950s–70s), looked up by name and car plate.
type italianBirthPlace struct {
	name, plate string
	weight      int
}

var italianBirthPlaces = []italianBirthPlace{
	{"Firenze", "FI", 60}, {"Prato", "PO", 6}, {"Sesto Fiorentino", "FI", 5},
	{"Scandicci", "FI", 3}, {"Empoli", "FI", 3}, {"Pistoia", "PT", 3},
	{"Roma", "RM", 2}, {"Napoli", "NA", 4}, {"Palermo", "PA", 3},
	{"Bari", "BA", 2}, {"Catania", "CT", 2}, {"Cosenza", "CS", 2},
	{"Foggia", "FG", 2}, {"Salerno", "SA", 2}, {"Milano", "MI", 1},
}

// refData is what the generator needs from the embedded reference data.
type refData struct {
	territory   []Municipality
	birthPlaces []string // cadastral codes, parallel to italianBirthPlaces
	firenze     Municipality
	countries   map[string]string // Italian name → Z-code; looked up, never iterated
}

// loadRefData reads schemas/places through schemas.FS (no schema is
// compiled) once per process; the result is never modified.
var loadRefData = sync.OnceValues(func() (*refData, error) {
	fsys := schemas.FS()
	var comuni []schemas.Comune
	if err := readJSON(fsys, "places/comuni.json", &comuni); err != nil {
		return nil, err
	}
	var countries []schemas.Country
	if err := readJSON(fsys, "places/countries.json", &countries); err != nil {
		return nil, err
	}
	type key struct{ name, plate string }
	byName := make(map[key]schemas.Comune, len(comuni))
	for _, c := range comuni {
		byName[key{c.Name, c.Plate}] = c
	}
	find := func(name, plate string) (Municipality, error) {
		c, ok := byName[key{name, plate}]
		if !ok {
			return Municipality{}, fmt.Errorf("reference data schemas/places/comuni.json has no comune %q (%s)", name, plate)
		}
		return Municipality{ISTAT: c.ISTAT, Cadastral: c.Cadastral, Name: c.Name, Population: c.Population}, nil
	}
	rd := &refData{countries: make(map[string]string, len(countries))}
	for _, name := range territoryComuni {
		m, err := find(name, "FI")
		if err != nil {
			return nil, err
		}
		rd.territory = append(rd.territory, m)
	}
	for _, bp := range italianBirthPlaces {
		m, err := find(bp.name, bp.plate)
		if err != nil {
			return nil, err
		}
		rd.birthPlaces = append(rd.birthPlaces, m.Cadastral)
	}
	var err error
	if rd.firenze, err = find("Firenze", "FI"); err != nil {
		return nil, err
	}
	for _, c := range countries {
		if c.Active {
			rd.countries[c.Name] = c.Cadastral
		}
	}
	for i := range origins {
		if _, ok := rd.countries[origins[i].countryName]; !ok {
			return nil, fmt.Errorf("reference data schemas/places/countries.json has no current state %q", origins[i].countryName)
		}
	}
	return rd, nil
})

func readJSON(fsys fs.FS, name string, v any) error {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("read embedded reference data: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode embedded reference data schemas/%s: %w", name, err)
	}
	return nil
}

// mustRefData returns the reference data; it panics only if the embedded
// files are broken, which the package tests rule out.
func mustRefData() *refData {
	rd, err := loadRefData()
	if err != nil {
		panic("population: " + err.Error())
	}
	return rd
}

// Territory returns the eight comuni of the SdS Firenze Nord-Ovest, in a
// fixed order, with their codes from the embedded reference data.
func Territory() []Municipality {
	return append([]Municipality(nil), mustRefData().territory...)
}
