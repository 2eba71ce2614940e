package stats

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/schemas"
)

// Period is a reporting period: a calendar quarter or year, as the half-open
// interval of days [Start, End) in UTC.
type Period struct {
	Kind    string // schemas.PeriodQuarter or schemas.PeriodYear
	Year    int
	Quarter int // 1-4 for a quarter, 0 for a year
	Start   time.Time
	End     time.Time // the first day after the period
}

// ParsePeriod reads a period written as a year ("2025") or a quarter
// ("2025-Q2").
func ParsePeriod(s string) (Period, error) {
	const help = `write a year such as "2025" or a quarter such as "2025-Q2"`
	yearPart, quarterPart, isQuarter := strings.Cut(strings.TrimSpace(s), "-")
	if len(yearPart) != 4 {
		return Period{}, fmt.Errorf("period %q: %s", s, help)
	}
	year, err := strconv.Atoi(yearPart)
	if err != nil || year < 1900 || year > 9998 {
		return Period{}, fmt.Errorf("period %q: the year must be four digits between 1900 and 9998 (%s)", s, help)
	}
	if !isQuarter {
		start := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
		return Period{Kind: schemas.PeriodYear, Year: year, Start: start, End: start.AddDate(1, 0, 0)}, nil
	}
	if len(quarterPart) != 2 || (quarterPart[0] != 'Q' && quarterPart[0] != 'q') || quarterPart[1] < '1' || quarterPart[1] > '4' {
		return Period{}, fmt.Errorf("period %q: the quarter must be Q1, Q2, Q3 or Q4 (%s)", s, help)
	}
	q := int(quarterPart[1] - '0')
	start := time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	return Period{Kind: schemas.PeriodQuarter, Year: year, Quarter: q, Start: start, End: start.AddDate(0, 3, 0)}, nil
}

// String writes the period as ParsePeriod reads it.
func (p Period) String() string {
	if p.Kind == schemas.PeriodQuarter {
		return fmt.Sprintf("%04d-Q%d", p.Year, p.Quarter)
	}
	return fmt.Sprintf("%04d", p.Year)
}

// contains says whether the day (or instant) t falls in the period.
func (p Period) contains(t time.Time) bool {
	return !t.IsZero() && !t.Before(p.Start) && t.Before(p.End)
}

// overlaps says whether [from, to] (to zero: open-ended) shares a day
// with the period.
func (p Period) overlaps(from, to time.Time) bool {
	return !from.IsZero() && from.Before(p.End) && (to.IsZero() || !to.Before(p.Start))
}

// lastYear is the calendar year of the period's last day, the year ages
// are computed at.
func (p Period) lastYear() int { return p.End.AddDate(0, 0, -1).Year() }
