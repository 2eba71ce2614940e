package region

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// ErrNothingToSend: no territory has sent the epoch yet.
var ErrNothingToSend = errors.New("no territory has sent this epoch yet")

// Compose makes the unsigned envelope a region sends further up for an
// epoch: level "region", its code as territory, one cell per cell
// (indicator, version, breakdown, measure) of the territories' latest
// envelopes of the epoch, holding the sum of their published values, how
// many territories are in it and the sum of their σ²; the parts name the
// territory envelopes it stands on. A cell every territory suppressed
// stays suppressed. Sums of published values are as private as the values
// (post-processing): the region adds no noise and spends no ρ, and the
// upper level sees each territory's ρ in the parts.
func Compose(ctx context.Context, st *store.Store, epoch string, revision int, src federation.Source, now time.Time) (*federation.Envelope, error) {
	e, err := disclosure.ParseEpoch(epoch)
	if err != nil {
		return nil, fmt.Errorf("region: compose %s: %w", epoch, err)
	}
	envs, err := st.RegionLatestEnvelopes(ctx, epoch)
	if err != nil {
		return nil, fmt.Errorf("region: compose %s: %w", epoch, err)
	}
	if len(envs) == 0 {
		return nil, fmt.Errorf("region: compose %s: %w", epoch, ErrNothingToSend)
	}
	out := &federation.Envelope{
		Schema: schemas.EnvelopeSchemaID, Level: federation.LevelRegion, Territory: src.Territory,
		CatalogueVersion: envs[0].CatalogueVersion, Epoch: e.Name, EpochKind: e.Kind, ReportingYear: e.Year, Revision: revision,
		CreatedAt: now.UTC().Format(time.RFC3339Nano), SoftwareVersion: src.SoftwareVersion,
		Disclosure: federation.Disclosure{Mode: federation.MechanismAggregate, RhoYearCap: "0", RhoAnnual: "0", RhoQuarterly: "0", Threshold: 1},
		Noise:      federation.Noise{Mechanism: federation.MechanismAggregate, Rho: "0", Tables: 1},
		Budget:     federation.Budget{Year: e.Year, RhoSpent: "0", RhoCumulative: "0", RhoCap: "0"},
	}
	noise := map[string]envelopeNoise{}
	d := &out.Disclosure
	for _, env := range envs {
		if env.CatalogueVersion != out.CatalogueVersion {
			return nil, fmt.Errorf("region: compose %s: %s sent catalogue %s, %s sent %s: sums need one catalogue version; ask the territories on the older one to release a revision",
				epoch, envs[0].Territory, out.CatalogueVersion, env.Territory, env.CatalogueVersion)
		}
		out.Parts = append(out.Parts, federation.Part{Territory: env.Territory, Epoch: env.Epoch, Revision: env.Revision,
			SHA256: hex.EncodeToString(env.SHA256), Mechanism: env.Mechanism, Sigma2: env.Sigma2, HeadlineSigma2: env.HeadlineSigma2,
			RhoSpent: env.RhoSpent})
		if env.RatePartition {
			out.Parts[len(out.Parts)-1].Rates = federation.RatesPartition
		}
		if noise[env.Territory], err = noiseOfEnvelope(env); err != nil {
			return nil, fmt.Errorf("region: compose %s: %w", epoch, err)
		}
		// The strictest view settings of the parts apply to the sums.
		d.DisplayBelow = max(d.DisplayBelow, int64(env.DisplayBelow))
		d.MinRateDenominator = max(d.MinRateDenominator, int64(env.MinRateDenominator))
		d.RoundingBase = max(d.RoundingBase, int64(env.RoundingBase))
	}
	cells, err := st.RegionCells(ctx, epoch, "")
	if err != nil {
		return nil, fmt.Errorf("region: compose %s: %w", epoch, err)
	}
	type sum struct {
		cell   federation.Cell
		value  int64
		sigma2 *big.Rat
	}
	// A rate's denominator is a cell whose indicator has a numerator.
	numerators := map[string]bool{}
	for _, c := range cells {
		if c.Measure == "numerator" {
			numerators[c.Territory+"\x00"+c.Indicator+"\x00"+c.IndicatorVersion+"\x00"+c.Breakdown] = true
		}
	}
	var order []string
	sums := map[string]*sum{}
	for _, c := range cells {
		k := c.Indicator + "\x00" + c.IndicatorVersion + "\x00" + c.Breakdown + "\x00" + c.Measure
		s := sums[k]
		if s == nil {
			var b map[string]string
			if err := json.Unmarshal([]byte(c.Breakdown), &b); err != nil {
				return nil, fmt.Errorf("region: compose %s: a stored breakdown: %w", epoch, err)
			}
			s = &sum{cell: federation.Cell{Indicator: c.Indicator, Version: c.IndicatorVersion, Breakdown: b, Measure: c.Measure}, sigma2: new(big.Rat)}
			sums[k] = s
			order = append(order, k)
		}
		if c.Suppressed {
			continue
		}
		s.value += c.Value
		s.cell.Contributors++
		rateDen := c.Measure == "denominator" && numerators[c.Territory+"\x00"+c.Indicator+"\x00"+c.IndicatorVersion+"\x00"+c.Breakdown]
		if r := noise[c.Territory].cellSigma2(c.Breakdown == "{}", rateDen); r != nil {
			s.sigma2.Add(s.sigma2, r)
		}
	}
	for _, k := range order {
		s := sums[k]
		c := s.cell
		if c.Contributors == 0 {
			c.Suppressed = true
		} else {
			v := s.value
			c.Value = &v
			if s.sigma2.Sign() > 0 {
				c.Sigma2 = s.sigma2.RatString()
			}
		}
		out.Cells = append(out.Cells, c)
	}
	return out, nil
}

// Upward is what ReleaseUpward did.
type Upward struct {
	Envelope []byte // the signed envelope
	Parts    int    // territory envelopes it stands on
	Cells    int
	New      bool // made now; false: made before and returned unchanged
}

// ReleaseUpward makes, signs and queues in the region's outbox the
// envelope of an epoch at a revision for the level above, or returns the
// one made before: a revision, once made, is sent identically on every
// retry. Revision r > 0 needs r-1.
func ReleaseUpward(ctx context.Context, st *store.Store, epoch string, revision int, src federation.Source, key ed25519.PrivateKey, now time.Time) (*Upward, error) {
	name := fmt.Sprintf("region: release %s revision %d upward", epoch, revision)
	if revision < 0 {
		return nil, fmt.Errorf("%s: the revision cannot be negative", name)
	}
	env, err := Compose(ctx, st, epoch, revision, src, now)
	if err != nil {
		return nil, err
	}
	raw, err := federation.Sign(env, key) // checks the schema and the content first
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	dedup := federation.DedupKey(src.Territory, epoch, revision)
	var have []byte
	var found bool
	err = st.Write(ctx, func(tx *store.Tx) error {
		// Made before: keep and return those bytes, not the new ones.
		var err error
		if have, found, err = tx.OutboxPayload(ctx, dedup); err != nil || found {
			return err
		}
		if revision > 0 {
			_, prev, err := tx.OutboxPayload(ctx, federation.DedupKey(src.Territory, epoch, revision-1))
			if err != nil {
				return err
			}
			if !prev {
				return fmt.Errorf("revision %d was never made: the first release is revision 0", revision-1)
			}
		}
		_, _, err = tx.Enqueue(ctx, federation.EnvelopeTopic, dedup, raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if found {
		return describe(have, false)
	}
	return describe(raw, true)
}

func describe(raw []byte, made bool) (*Upward, error) {
	var e federation.Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("region: read the envelope queued: %w", err)
	}
	return &Upward{Envelope: raw, Parts: len(e.Parts), Cells: len(e.Cells), New: made}, nil
}
