package attack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
)

// Release is what an attacker sees of one release: the published cells
// and the public parameters the signed envelope carries (mode, threshold,
// σ², rounding base). It holds no true count.
type Release struct {
	Publisher    string
	Epoch        string
	Revision     int
	Mode         string                // "noise", "rounding" or "threshold"
	Threshold    int64                 // cells whose true count is below it are suppressed
	RoundingBase int64                 // rounding mode: published counts are multiples of it
	Noise        *disclosure.NoisePlan // noise mode: the σ² of the cells
	Cells        []disclosure.PublishedCell
}

// ModeThreshold is the baseline's mode: true counts, small cells suppressed.
const ModeThreshold = "threshold"

// Publisher turns true counts into a release.
type Publisher interface {
	Name() string
	// Publish releases an epoch at a revision. A repeated call for the same
	// epoch and revision is a re-request.
	Publish(ctx context.Context, epoch string, revision int, catalogueVersion string, cells []disclosure.Cell) (*Release, error)
	Close() error
}

// LedgerPublisher publishes through Snodo's real disclosure.Ledger over a
// store of its own.
type LedgerPublisher struct {
	name   string
	st     *store.Store
	ledger *disclosure.Ledger
}

// NewLedgerPublisher opens a store at dir/<name>.db and a ledger over it
// with the settings.
func NewLedgerPublisher(ctx context.Context, dir, name string, set disclosure.Settings) (*LedgerPublisher, error) {
	// A fixed clock: release timestamps are not part of the attack.
	clock := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	st, err := store.Open(ctx, filepath.Join(dir, name+".db"), store.WithClock(func() time.Time { return clock }))
	if err != nil {
		return nil, fmt.Errorf("attack: publisher %s: %w", name, err)
	}
	l, err := disclosure.NewLedger(st, set)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("attack: publisher %s: %w", name, err)
	}
	return &LedgerPublisher{name: name, st: st, ledger: l}, nil
}

func (p *LedgerPublisher) Name() string { return p.name }

func (p *LedgerPublisher) Close() error { return p.st.Close() }

// Publish asks the ledger for the release. An overspend comes back as the
// ledger's *disclosure.OverspendError.
func (p *LedgerPublisher) Publish(ctx context.Context, epoch string, revision int, catalogueVersion string, cells []disclosure.Cell) (*Release, error) {
	r, err := p.ledger.Release(ctx, disclosure.Request{Epoch: epoch, Revision: revision, CatalogueVersion: catalogueVersion, Cells: cells})
	if err != nil {
		return nil, err
	}
	out := &Release{Publisher: p.name, Epoch: epoch, Revision: revision, Mode: string(r.Settings.Mode),
		Threshold: r.Settings.Threshold, Cells: r.Cells}
	if r.Settings.Mode == disclosure.ModeRounding {
		out.RoundingBase = r.Settings.RoundingBase
	}
	out.Noise = r.Noise
	return out, nil
}

// ThresholdPublisher is the baseline: the true counts, with every cell
// whose count is under the threshold suppressed and nothing else (the
// DataSHIELD / Sistan minimum-cell rule without secondary suppression). It
// keeps its releases so that a re-request gets the same answer.
type ThresholdPublisher struct {
	Threshold int64
	stored    map[string]*Release
}

// NewThresholdPublisher returns the baseline with a minimum cell of thr.
func NewThresholdPublisher(thr int64) *ThresholdPublisher {
	return &ThresholdPublisher{Threshold: thr, stored: map[string]*Release{}}
}

func (p *ThresholdPublisher) Name() string { return "threshold-only" }

func (p *ThresholdPublisher) Close() error { return nil }

func (p *ThresholdPublisher) Publish(_ context.Context, epoch string, revision int, _ string, cells []disclosure.Cell) (*Release, error) {
	k := fmt.Sprintf("%s/%d", epoch, revision)
	if r, ok := p.stored[k]; ok {
		return r, nil
	}
	if len(cells) == 0 {
		return nil, errors.New("attack: threshold publisher: no cells")
	}
	r := &Release{Publisher: p.Name(), Epoch: epoch, Revision: revision, Mode: ModeThreshold, Threshold: p.Threshold}
	for _, c := range cells {
		pc := disclosure.PublishedCell{Indicator: c.Indicator, Version: c.Version, Breakdown: c.Breakdown, Measure: c.Measure}
		if c.Count < p.Threshold {
			pc.Suppressed = true
		} else {
			pc.Value = c.Count
		}
		r.Cells = append(r.Cells, pc)
	}
	p.stored[k] = r
	return r, nil
}

// RedrawPublisher is the counterfactual of the averaging attack: a
// publisher that draws fresh discrete Gaussian noise on every request, with
// the σ² of a given release (each cell its tier's, every cell drawn
// independently), instead of re-sending the stored values. Snodo never
// does this; it is here to show what storing prevents.
type RedrawPublisher struct {
	Noise     *disclosure.NoisePlan
	Threshold int64
	Sampler   *disclosure.Sampler
}

func (p *RedrawPublisher) Name() string { return "redraw-counterfactual" }

func (p *RedrawPublisher) Close() error { return nil }

func (p *RedrawPublisher) Publish(_ context.Context, epoch string, revision int, _ string, cells []disclosure.Cell) (*Release, error) {
	r := &Release{Publisher: p.Name(), Epoch: epoch, Revision: revision, Mode: string(disclosure.ModeNoise), Threshold: p.Threshold, Noise: p.Noise}
	for _, c := range cells {
		pc := disclosure.PublishedCell{Indicator: c.Indicator, Version: c.Version, Breakdown: c.Breakdown, Measure: c.Measure}
		if c.Count < p.Threshold {
			pc.Suppressed = true
		} else {
			rho, err := disclosure.RhoForSigmaSquared(p.Noise.CellSigma2(c.Breakdown))
			if err != nil {
				return nil, fmt.Errorf("attack: redraw publisher: %w", err)
			}
			noisy, err := p.Sampler.Noise([]int64{c.Count}, rho)
			if err != nil {
				return nil, fmt.Errorf("attack: redraw publisher: %w", err)
			}
			pc.Value = noisy[0]
		}
		r.Cells = append(r.Cells, pc)
	}
	return r, nil
}
