package pipeline

import (
	"context"
	"fmt"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
)

// ReplayOutcome says what Replay did with one quarantined record.
type ReplayOutcome string

// The outcomes of Replay.
const (
	// ReplayStored: the record passes now and was stored; its quarantine
	// item is marked replayed.
	ReplayStored ReplayOutcome = "stored"
	// ReplaySuperseded: the source has since delivered the record again
	// and that newer delivery is stored; the quarantined copy is older, so
	// it is not stored, and its item is marked replayed. This is how
	// records come out of quarantine after a connector's mapping is fixed:
	// the connector reads them again (its cursor reset), then replay.
	ReplaySuperseded ReplayOutcome = "superseded"
	// ReplayFailed: the record still fails; its item stays in quarantine
	// with the errors it fails with now.
	ReplayFailed ReplayOutcome = "failed"
	// ReplaySkipped: nothing was done (no such item, dropped, already
	// replayed, or its sealed record does not open); Reason says why.
	ReplaySkipped ReplayOutcome = "skipped"
)

// ReplayResult is what Replay did with one quarantine item.
type ReplayResult struct {
	ID       int64
	Source   string
	RecordID string
	Schema   string
	Outcome  ReplayOutcome
	// Stored is what the store did with a record stored now.
	Stored store.Outcome
	// Errors are why a record still fails.
	Errors []store.QuarantineError
	// Reason says why an item was skipped.
	Reason string
}

// replayChunk is how many items one replay transaction holds.
const replayChunk = 200

// Replay runs quarantined records through the pipeline's checks again —
// after a fix of the schemas, the hub's configuration or the keyed index —
// and stores those that pass now. There is no cursor to commit. A record
// that still fails stays in quarantine with its new errors. The results
// are in the order of ids.
func (p *Pipeline) Replay(ctx context.Context, ids ...int64) ([]ReplayResult, error) {
	out := make([]ReplayResult, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), replayChunk)
		res, err := p.replayChunk(ctx, ids[:n])
		out = append(out, res...)
		if err != nil {
			return out, err
		}
		ids = ids[n:]
	}
	return out, nil
}

type replayItem struct {
	entry store.QuarantineEntry
	rec   record
	// newer is a delivery of the same record stored after the item was
	// quarantined.
	newer bool
}

func (p *Pipeline) replayChunk(ctx context.Context, ids []int64) ([]ReplayResult, error) {
	results := make([]ReplayResult, len(ids))
	items := make([]*replayItem, len(ids))
	for i, id := range ids {
		res := &results[i]
		res.ID = id
		e, ok, err := p.st.Quarantine(ctx, id)
		if err != nil {
			return results[:i], fmt.Errorf("replay: %w", err)
		}
		res.Source, res.RecordID, res.Schema, res.Outcome = e.Source, e.RecordID, e.Schema, ReplaySkipped
		switch {
		case !ok:
			res.Reason = "no such quarantine item"
			continue
		case !e.DroppedAt.IsZero():
			res.Reason = "it was dropped"
			continue
		case !e.ReplayedAt.IsZero():
			res.Reason = "it was replayed already"
			continue
		}
		raw, err := p.seal.Open(e.Raw, e.Source, e.RecordID)
		if err != nil {
			res.Reason = err.Error()
			continue
		}
		it := &replayItem{entry: e, rec: p.prepare(e.Source, raw)}
		if id := it.rec.recordID; id != "" {
			stored, ok, err := p.st.GetRecord(ctx, e.Source, id)
			if err != nil {
				return results[:i], fmt.Errorf("replay: %w", err)
			}
			it.newer = ok && (stored.UpdatedAt.After(e.CreatedAt) ||
				(!it.rec.recordedAt.IsZero() && stored.RecordedAt.After(it.rec.recordedAt)))
		}
		items[i] = it
	}

	stored := 0
	err := p.st.Write(ctx, func(tx *store.Tx) error {
		stored = 0
		ix := identity.NewIndex(p.key, tx)
		for i, it := range items {
			if it == nil {
				continue
			}
			res := &results[i]
			res.Stored, res.Errors = 0, nil
			if it.newer {
				res.Outcome = ReplaySuperseded
				if err := tx.MarkReplayed(ctx, res.ID); err != nil {
					return err
				}
				continue
			}
			out, err := p.finish(ctx, tx, ix, it.entry.Source, &it.rec)
			if err != nil {
				return fmt.Errorf("replay quarantine item %d: %w", res.ID, err)
			}
			if out != 0 {
				res.Outcome, res.Stored = ReplayStored, out
				res.Schema = it.rec.schemaName()
				stored++
				if err := tx.MarkReplayed(ctx, res.ID); err != nil {
					return err
				}
				continue
			}
			res.Outcome, res.Errors = ReplayFailed, it.rec.problems
			if s := it.rec.schemaName(); s != "" {
				res.Schema = s
			}
			if err := tx.SetQuarantineErrors(ctx, res.ID, it.rec.schemaName(), it.rec.problems); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := range results {
			if items[i] != nil {
				results[i].Outcome, results[i].Stored, results[i].Errors = ReplaySkipped, 0, nil
				results[i].Reason = "the replay transaction failed"
			}
		}
		return results, fmt.Errorf("replay: %w", err)
	}
	p.mu.Lock()
	p.stats.Replayed += int64(stored)
	p.mu.Unlock()
	for _, r := range results {
		p.log.Info("quarantine item replayed", "id", r.ID, "source", r.Source, "record_id", r.RecordID,
			"outcome", string(r.Outcome), "problems", len(r.Errors), "reason", r.Reason)
	}
	return results, nil
}
