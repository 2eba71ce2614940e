package disclosure

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

// Ledger makes releases and keeps the privacy budget ledger, both persisted
// in the store (tables releases, release_cells and budget_ledger).
//
// A release of an epoch at a revision is computed once: asking again for a
// stored (epoch, revision) returns the stored values, identical, and never
// draws noise again (averaging repeated answers would remove it). A revision
// is a new, explicit release that spends budget again. The ledger refuses a
// release that would take the year's spending over the cap.
type Ledger struct {
	st       *store.Store
	settings Settings
	sampler  *Sampler // nil: crypto/rand
}

// NewLedger returns a ledger over st with the territory's disclosure
// settings.
func NewLedger(st *store.Store, settings Settings) (*Ledger, error) {
	if st == nil {
		return nil, errors.New("disclosure: ledger needs a store")
	}
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	return &Ledger{st: st, settings: settings}, nil
}

// Settings returns the settings new releases are made with.
func (l *Ledger) Settings() Settings { return l.settings }

// ErrOverspend is wrapped by an *OverspendError.
var ErrOverspend = errors.New("the release would exceed the year's privacy budget")

// OverspendError is returned when a release would spend more ρ than the
// reporting year has left. Its message says what is left and what was
// asked.
type OverspendError struct {
	Epoch    string
	Revision int
	Year     int
	Cap      *big.Rat
	Spent    *big.Rat
	Asked    *big.Rat
}

// Left is the ρ the year has left.
func (e *OverspendError) Left() *big.Rat { return new(big.Rat).Sub(e.Cap, e.Spent) }

func (e *OverspendError) Error() string {
	left := e.Left()
	return fmt.Sprintf("release %s revision %d refused: it needs ρ = %s (%s) but the %d budget has only ρ = %s (%s) left (cap %s, already spent %s); wait for the next reporting year, or raise the cap in the territory's disclosure settings",
		e.Epoch, e.Revision, e.Asked.RatString(), ratDecimal(e.Asked), e.Year, left.RatString(), ratDecimal(left), e.Cap.RatString(), e.Spent.RatString())
}

func (e *OverspendError) Unwrap() error { return ErrOverspend }

// Release is a stored release: what was published for an epoch at a
// revision, and what it cost.
type Release struct {
	ID               int64
	Epoch            Epoch
	Revision         int
	CatalogueVersion string
	Settings         Settings
	Mechanism        string     // "discrete-gaussian" or "rounding"
	Noise            *NoisePlan // the noise's σ² per tier; nil in the rounding mode
	Tables           int        // tables the ρ was split over, each with L2 sensitivity 1
	Rho              *big.Rat   // spent by this release
	RhoCumulative    *big.Rat   // spent in the reporting year up to and including it
	RhoCap           *big.Rat   // the year's cap
	CreatedAt        time.Time
	Cells            []PublishedCell
	Envelope         []byte // the signed envelope, once made
}

// PublishedCell is a cell as released: the published value (noisy or
// rounded), or none when suppressed. It holds no true count.
type PublishedCell struct {
	Indicator  string
	Version    string
	Breakdown  map[string]string // nil for the total
	Measure    string
	Value      int64 // 0 when Suppressed
	Suppressed bool
}

// Request asks for the release of an epoch.
type Request struct {
	Epoch            string // "2025-Q2" or "2025"
	Revision         int    // 0, then 1, 2, … for announced revisions
	CatalogueVersion string
	Cells            []Cell // true counts
}

// Budget is the state of a reporting year's ledger.
type Budget struct {
	Year    int
	Cap     *big.Rat
	Spent   *big.Rat
	Left    *big.Rat
	Entries []store.LedgerEntry
}

// Budget returns the ledger of a reporting year.
func (l *Ledger) Budget(ctx context.Context, year int) (Budget, error) {
	entries, err := l.st.YearLedger(ctx, year)
	if err != nil {
		return Budget{}, fmt.Errorf("disclosure: %w", err)
	}
	spent, err := sumLedger(entries)
	if err != nil {
		return Budget{}, err
	}
	return Budget{Year: year, Cap: new(big.Rat).Set(l.settings.YearCap), Spent: spent,
		Left: new(big.Rat).Sub(l.settings.YearCap, spent), Entries: entries}, nil
}

func sumLedger(entries []store.LedgerEntry) (*big.Rat, error) {
	spent := new(big.Rat)
	for _, e := range entries {
		r, err := ParseRat(e.Rho)
		if err != nil {
			return nil, fmt.Errorf("disclosure: ledger entry of %s revision %d: %w", e.Epoch, e.Revision, err)
		}
		spent.Add(spent, r)
	}
	return spent, nil
}

// Find returns the stored release of the epoch at the revision.
func (l *Ledger) Find(ctx context.Context, epoch string, revision int) (*Release, bool, error) {
	sr, found, err := l.st.FindRelease(ctx, epoch, revision)
	if err != nil || !found {
		return nil, found, err
	}
	r, err := fromStore(sr)
	return r, err == nil, err
}

// RhoFor returns the ρ a release of the epoch spends under the ledger's
// settings: 0 in the rounding mode.
func (l *Ledger) RhoFor(e Epoch) *big.Rat {
	switch {
	case l.settings.Mode == ModeRounding:
		return new(big.Rat)
	case e.Kind == "annual":
		return new(big.Rat).Set(l.settings.AnnualRho)
	default:
		return new(big.Rat).Set(l.settings.QuarterlyRho)
	}
}

// Release returns the release of req.Epoch at req.Revision: the stored one
// when it exists (identical values, req.Cells ignored), otherwise a new one
// computed from req.Cells, protected, and stored atomically with its ledger
// entry. It refuses an overspend with an *OverspendError, a revision that
// skips a number, and a first release at a revision other than 0.
func (l *Ledger) Release(ctx context.Context, req Request) (*Release, error) {
	epoch, err := ParseEpoch(req.Epoch)
	if err != nil {
		return nil, fmt.Errorf("disclosure: release: %w", err)
	}
	name := fmt.Sprintf("%s revision %d", epoch.Name, req.Revision)
	if req.Revision < 0 {
		return nil, fmt.Errorf("disclosure: release %s: the revision cannot be negative", name)
	}
	if r, found, err := l.Find(ctx, epoch.Name, req.Revision); err != nil || found {
		if err != nil {
			return nil, fmt.Errorf("disclosure: release %s: %w", name, err)
		}
		return r, nil
	}
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("disclosure: release %s: %w", name, err)
	}
	settingsJSON, err := l.settings.MarshalJSON()
	if err != nil {
		return nil, err
	}
	rho := l.RhoFor(epoch)

	var out *Release
	err = l.st.Write(ctx, func(tx *store.Tx) error {
		// Inside the write transaction: nobody else can release meanwhile.
		if sr, found, err := tx.FindRelease(ctx, epoch.Name, req.Revision); err != nil || found {
			if err != nil {
				return err
			}
			out, err = fromStore(sr)
			return err
		}
		latest, released, err := tx.LatestRevision(ctx, epoch.Name)
		if err != nil {
			return err
		}
		switch {
		case !released && req.Revision != 0:
			return fmt.Errorf("revision %d of %s asked, but %s was never released: the first release is revision 0", req.Revision, epoch.Name, epoch.Name)
		case released && req.Revision != latest+1:
			return fmt.Errorf("revision %d of %s asked, but the latest is %d: the next revision is %d", req.Revision, epoch.Name, latest, latest+1)
		}
		entries, err := tx.YearLedger(ctx, epoch.Year)
		if err != nil {
			return err
		}
		spent, err := sumLedger(entries)
		if err != nil {
			return err
		}
		total := new(big.Rat).Add(spent, rho)
		if total.Cmp(l.settings.YearCap) > 0 {
			return &OverspendError{Epoch: epoch.Name, Revision: req.Revision, Year: epoch.Year,
				Cap: new(big.Rat).Set(l.settings.YearCap), Spent: spent, Asked: rho}
		}
		var carried map[string]bool
		if l.settings.Mode == ModeRounding {
			if carried, err = tx.SuppressedBefore(ctx, string(ModeRounding)); err != nil {
				return err
			}
		}
		p, err := protect(l.sampler, l.settings, rho, req.Cells, carried)
		if err != nil {
			return err
		}
		sr := &store.Release{
			Epoch: epoch.Name, Kind: epoch.Kind, Year: epoch.Year, Revision: req.Revision,
			CatalogueVersion: req.CatalogueVersion, Mode: string(l.settings.Mode),
			Tables: p.tables, Settings: settingsJSON,
			Rho: rho.RatString(), RhoCumulative: total.RatString(), RhoCap: l.settings.YearCap.RatString(),
		}
		if p.plan != nil {
			sr.Sigma2 = p.plan.Sigma2.RatString()
			if h := p.plan.Headline; h != nil {
				sr.HeadlineTables, sr.HeadlineSigma2 = h.Tables, h.Sigma2.RatString()
			}
			sr.RatePartition = p.plan.RatePartition
		}
		sr.Cells = make([]store.ReleaseCell, len(p.cells))
		for i, c := range p.cells {
			sr.Cells[i] = store.ReleaseCell{Indicator: c.Indicator, IndicatorVersion: c.Version,
				Breakdown: breakdownJSON(c.Breakdown), Measure: c.Measure, Value: c.Value, Suppressed: c.Suppressed}
		}
		if _, err := tx.InsertRelease(ctx, sr); err != nil {
			return err
		}
		// Read it back, so that a new release and a stored one come out
		// of the same code and are identical.
		back, found, err := tx.FindRelease(ctx, epoch.Name, req.Revision)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("the release just stored cannot be read back")
		}
		out, err = fromStore(back)
		return err
	})
	if err != nil {
		var oe *OverspendError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, fmt.Errorf("disclosure: release %s: %w", name, err)
	}
	return out, nil
}

// checkRequest validates the catalogue version and the cells of a request.
func checkRequest(req Request) error {
	if err := checkCode("the catalogue version", req.CatalogueVersion); err != nil {
		return err
	}
	if len(req.Cells) == 0 {
		return errors.New("no cells to release")
	}
	keys := make(map[string]bool, len(req.Cells))
	for i, c := range req.Cells {
		if err := c.check(); err != nil {
			return fmt.Errorf("cell %d: %w", i, err)
		}
		k := cellKey(c.Indicator, c.Version, c.Breakdown, c.Measure)
		if keys[k] {
			return fmt.Errorf("cell %d (indicator %s, measure %s) appears twice", i, c.Indicator, c.Measure)
		}
		keys[k] = true
	}
	if _, err := nestedPairs(req.Cells); err != nil {
		return err
	}
	return nil
}

// Preview says what a release would be, without drawing noise or storing
// anything: which cells would be suppressed, the ρ it would spend and what
// the year has left. For "snodo stats preview".
type Preview struct {
	Epoch    Epoch
	Revision int
	Released bool  // the epoch at this revision is already stored: Release returns it as it is
	Refused  error // why Release would refuse it (an *OverspendError, a revision out of order), or nil
	Rho      *big.Rat
	Budget   Budget
	Tables   int
	Noise    *NoisePlan    // the σ² the release would have; nil in the rounding mode
	Cells    []PreviewCell // in release order
}

// PreviewCell is a cell of a preview: its key and whether it would be
// suppressed (its true count is in the request, not here).
type PreviewCell struct {
	Indicator  string
	Version    string
	Breakdown  map[string]string
	Measure    string
	Suppressed bool
}

// Preview computes the suppression pattern and the cost of a release
// without making it. The pattern is final in the rounding mode; in the
// noise mode it is the threshold's.
func (l *Ledger) Preview(ctx context.Context, req Request) (*Preview, error) {
	epoch, err := ParseEpoch(req.Epoch)
	if err != nil {
		return nil, fmt.Errorf("disclosure: preview: %w", err)
	}
	name := fmt.Sprintf("%s revision %d", epoch.Name, req.Revision)
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("disclosure: preview %s: %w", name, err)
	}
	b, err := l.Budget(ctx, epoch.Year)
	if err != nil {
		return nil, err
	}
	p := &Preview{Epoch: epoch, Revision: req.Revision, Rho: l.RhoFor(epoch), Budget: b}
	if _, found, err := l.st.FindRelease(ctx, epoch.Name, req.Revision); err != nil {
		return nil, fmt.Errorf("disclosure: preview %s: %w", name, err)
	} else if found {
		p.Released = true
	}
	latest := -1
	for _, e := range b.Entries {
		if e.Epoch == epoch.Name && e.Revision > latest {
			latest = e.Revision
		}
	}
	switch {
	case p.Released:
	case req.Revision != latest+1:
		p.Refused = fmt.Errorf("revision %d of %s is out of order: the next revision is %d", req.Revision, epoch.Name, latest+1)
	case new(big.Rat).Add(b.Spent, p.Rho).Cmp(b.Cap) > 0:
		p.Refused = &OverspendError{Epoch: epoch.Name, Revision: req.Revision, Year: epoch.Year, Cap: b.Cap, Spent: b.Spent, Asked: p.Rho}
	}
	var carried map[string]bool
	set := l.settings
	if set.Mode == ModeRounding {
		if carried, err = l.st.SuppressedBefore(ctx, string(ModeRounding)); err != nil {
			return nil, fmt.Errorf("disclosure: preview %s: %w", name, err)
		}
	}
	// The pattern does not depend on the noise.
	pr := protectPattern(set, req.Cells, carried, set.Mode == ModeRounding)
	p.Tables = pr.tables
	if set.Mode == ModeNoise {
		if p.Noise, err = planNoise(set, p.Rho, req.Cells); err != nil {
			return nil, fmt.Errorf("disclosure: preview %s: %w", name, err)
		}
	}
	p.Cells = make([]PreviewCell, len(pr.cells))
	for i, c := range pr.cells {
		p.Cells[i] = PreviewCell{Indicator: c.Indicator, Version: c.Version, Breakdown: c.Breakdown, Measure: c.Measure, Suppressed: c.Suppressed}
	}
	return p, nil
}

func fromStore(sr *store.Release) (*Release, error) {
	epoch, err := ParseEpoch(sr.Epoch)
	if err != nil {
		return nil, err
	}
	r := &Release{ID: sr.ID, Epoch: epoch, Revision: sr.Revision, CatalogueVersion: sr.CatalogueVersion,
		Tables: sr.Tables, CreatedAt: sr.CreatedAt, Envelope: sr.Envelope}
	if err := r.Settings.UnmarshalJSON(sr.Settings); err != nil {
		return nil, fmt.Errorf("stored release %s revision %d: %w", sr.Epoch, sr.Revision, err)
	}
	r.Mechanism = "rounding"
	if sr.Sigma2 != "" {
		r.Mechanism = "discrete-gaussian"
		r.Noise = &NoisePlan{Tables: sr.Tables, RatePartition: sr.RatePartition}
		if r.Noise.Sigma2, err = ParseRat(sr.Sigma2); err != nil {
			return nil, fmt.Errorf("stored release %s revision %d: σ²: %w", sr.Epoch, sr.Revision, err)
		}
		if sr.HeadlineSigma2 != "" {
			r.Noise.Headline = &Tier{Tables: sr.HeadlineTables}
			if r.Noise.Headline.Sigma2, err = ParseRat(sr.HeadlineSigma2); err != nil {
				return nil, fmt.Errorf("stored release %s revision %d: headline σ²: %w", sr.Epoch, sr.Revision, err)
			}
		}
	}
	for _, f := range []struct {
		dst  **big.Rat
		text string
	}{{&r.Rho, sr.Rho}, {&r.RhoCumulative, sr.RhoCumulative}, {&r.RhoCap, sr.RhoCap}} {
		if *f.dst, err = ParseRat(f.text); err != nil {
			return nil, fmt.Errorf("stored release %s revision %d: ledger: %w", sr.Epoch, sr.Revision, err)
		}
	}
	r.Cells = make([]PublishedCell, len(sr.Cells))
	for i, c := range sr.Cells {
		b, err := parseBreakdown(c.Breakdown)
		if err != nil {
			return nil, fmt.Errorf("stored release %s revision %d: cell %d: %w", sr.Epoch, sr.Revision, i, err)
		}
		r.Cells[i] = PublishedCell{Indicator: c.Indicator, Version: c.IndicatorVersion, Breakdown: b,
			Measure: c.Measure, Value: c.Value, Suppressed: c.Suppressed}
	}
	return r, nil
}
