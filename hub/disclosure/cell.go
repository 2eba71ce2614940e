package disclosure

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/snodo-hub/snodo/schemas"
)

// Cell is one true count of a statistical table, as package hub/stats
// computes it from the store: the count of households (one household per
// reporting year adds 1 to at most one cell of a table) in one cell of one
// indicator.
//
// A table is the cells of one indicator version, one measure and one set of
// breakdown dimensions: the total (no breakdown), by sex, by age band, …
// Privacy budget is accounted per table (see [Ledger]).
type Cell struct {
	Indicator string            // catalogue id of the indicator
	Version   string            // indicator version
	Breakdown map[string]string // dimension → category code; nil or empty for the total
	Measure   string            // "numerator", "denominator", a bin, …
	Count     int64             // the true count: never stored, never sent
	// Partition names measures that partition the households, such as a
	// binned indicator's bins: each household is in at most one of them,
	// so they form one table (sensitivity 1 over all of them) instead of
	// one table per measure. Empty: the measure is a table of its own.
	Partition string
	// Within names the measure of the same indicator, version and
	// breakdown whose households include this measure's: a rate's
	// numerator is within its denominator. Both cells carry the same
	// Partition, and the ledger noises the partition they stand for — the
	// numerator and the rest of the denominator, a household being in
	// exactly one of them — as one table: the numerator is published
	// with noise e₁, the denominator as the true count plus e₁ + e₂ (the
	// sum of the two noisy parts, post-processing that costs nothing).
	// A rate then costs the ρ of one table instead of two, and its noise
	// is smaller: see [PartitionRateNoise]. Only the noise mode uses it.
	Within string
}

// codeText is what ids, dimension names, categories and measures may be:
// short codes without white space, never free text.
var codeText = regexp.MustCompile(`^[^\s\x00-\x1f\x7f]{1,64}$`)

func checkCode(what, s string) error {
	if !utf8.ValidString(s) || !codeText.MatchString(s) {
		return fmt.Errorf("%s must be a code of 1 to 64 characters without white space", what)
	}
	return nil
}

// check validates c (the message names the cell by position, not content:
// a code that fails could be anything).
func (c Cell) check() error {
	if err := checkCode("the indicator id", c.Indicator); err != nil {
		return err
	}
	if err := checkCode("the indicator version", c.Version); err != nil {
		return err
	}
	if err := checkCode("the measure", c.Measure); err != nil {
		return err
	}
	for k, v := range c.Breakdown {
		if err := checkCode("a breakdown dimension", k); err != nil {
			return err
		}
		if err := checkCode("a breakdown category", v); err != nil {
			return err
		}
	}
	if c.Count < 0 {
		return fmt.Errorf("the count is negative (%d)", c.Count)
	}
	return nil
}

// breakdownJSON is the canonical JSON of a breakdown: "{}" for the total.
func breakdownJSON(b map[string]string) string {
	m := make(map[string]any, len(b))
	for k, v := range b {
		m[k] = v
	}
	out, err := schemas.AppendCanonical(nil, m)
	if err != nil { // strings only: cannot happen
		panic(err)
	}
	return string(out)
}

func parseBreakdown(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("stored breakdown: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// dimensions returns the sorted dimension names of a breakdown.
func dimensions(b map[string]string) []string {
	d := make([]string, 0, len(b))
	for k := range b {
		d = append(d, k)
	}
	slices.Sort(d)
	return d
}

// cellKey identifies a cell across releases (as store.ReleaseCell.Key).
func cellKey(indicator, version string, breakdown map[string]string, measure string) string {
	return indicator + "\x00" + version + "\x00" + breakdownJSON(breakdown) + "\x00" + measure
}

// tableKey identifies the table of a cell: indicator, version, breakdown
// dimensions and measure (or the partition its measure belongs to).
func tableKey(c Cell) string {
	m := c.Measure
	if c.Partition != "" {
		m = "partition:" + c.Partition
	}
	return c.Indicator + "\x00" + c.Version + "\x00" + strings.Join(dimensions(c.Breakdown), ",") + "\x00" + m
}

// Epoch is a release epoch: a quarter ("2025-Q2", provisional) or a year
// ("2025", final).
type Epoch struct {
	Name    string // "2025-Q2" or "2025"
	Kind    string // "quarterly" or "annual"
	Year    int    // the reporting year whose budget the release spends
	Quarter int    // 1–4, or 0 for an annual epoch
}

var epochText = regexp.MustCompile(`^([0-9]{4})(?:-Q([1-4]))?$`)

// ParseEpoch reads "YYYY" (annual) or "YYYY-QN" (quarterly, N from 1 to 4).
func ParseEpoch(s string) (Epoch, error) {
	m := epochText.FindStringSubmatch(s)
	if m == nil {
		return Epoch{}, fmt.Errorf("epoch %q: write YYYY for the annual release or YYYY-Q1 … YYYY-Q4 for a quarterly one", s)
	}
	year, _ := strconv.Atoi(m[1])
	if m[2] == "" {
		return Epoch{Name: s, Kind: "annual", Year: year}, nil
	}
	q, _ := strconv.Atoi(m[2])
	return Epoch{Name: s, Kind: "quarterly", Year: year, Quarter: q}, nil
}

// PartitionOf says how a measure of a catalogue indicator of the kind
// (schemas.KindRatio, …) is released, for Cell.Partition and Cell.Within:
// a binned indicator's bins partition its households (one table); a
// ratio's numerator is within its denominator, the pair one partition
// table (the numerator and the rest). Other measures are tables of their
// own.
func PartitionOf(kind, measure string) (partition, within string) {
	switch kind {
	case schemas.KindBinned:
		return "bins", ""
	case schemas.KindRatio:
		if measure == "numerator" {
			return "rate", "denominator"
		}
		return "rate", ""
	}
	return "", ""
}
