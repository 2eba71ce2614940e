package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// feed is one list of the API and how its items become records.
type feed struct {
	name, path string
	query      url.Values
	convert    func(m *mapper, raw json.RawMessage) (any, skipped, error)
	// boundBy names the feed whose position bounds this one: an item
	// updated after that feed's position waits for the next read (a
	// status change is not sent before its referral).
	boundBy string
}

func convert[T any](f func(*mapper, T) (any, skipped)) func(*mapper, json.RawMessage) (any, skipped, error) {
	return func(m *mapper, raw json.RawMessage) (any, skipped, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, "", err
		}
		rec, why := f(m, v)
		return rec, why, nil
	}
}

// allFeeds are the feeds, in the order they are read: people and
// consents before the referrals that need them, referrals before their
// status changes.
var allFeeds = []*feed{
	{name: "persone", path: "/api/v1/persone", convert: convert((*mapper).person)},
	{name: "nuclei", path: "/api/v1/nuclei", convert: convert((*mapper).household)},
	{name: "consensi", path: "/api/v1/consensi", convert: convert((*mapper).consent)},
	{name: "segnalazioni", path: "/api/v1/segnalazioni", convert: convert((*mapper).referral)},
	{name: "stati-segnalazioni", path: "/api/v1/stati-segnalazioni", query: url.Values{"origine": {"interna"}},
		convert: convert((*mapper).statusEvent), boundBy: "segnalazioni"},
	{name: "progetti", path: "/api/v1/progetti", convert: convert((*mapper).pathway)},
	{name: "valutazioni", path: "/api/v1/valutazioni", convert: convert((*mapper).assessment)},
	{name: "inserimenti-abitativi", path: "/api/v1/inserimenti-abitativi", convert: convert((*mapper).placement)},
}

func selectFeeds(names []string) ([]*feed, error) {
	if len(names) == 0 {
		return allFeeds, nil
	}
	var out []*feed
	for _, f := range allFeeds {
		if slices.Contains(names, f.name) {
			out = append(out, f)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(allFeeds, func(f *feed) bool { return f.name == n }) {
			return nil, sdk.ConfigError("/feeds", "unknown feed %q", n)
		}
	}
	return out, nil
}

// position is where a feed was left: the last item read, by
// (aggiornato_il, id) — the order the API sorts lists in.
type position struct {
	T  time.Time `json:"t"`
	ID string    `json:"id"`
}

// after reports whether an item comes after p in the API's order.
func (p *position) after(t time.Time, id string) bool {
	if p == nil {
		return true
	}
	if c := t.Compare(p.T); c != 0 {
		return c > 0
	}
	return id > p.ID
}

// cursor is where every feed was left.
type cursor struct {
	V     int                  `json:"v"`
	Feeds map[string]*position `json:"feeds"`
}

const cursorVersion = 1

func decodeCursor(b []byte) (*cursor, error) {
	c := &cursor{V: cursorVersion, Feeds: map[string]*position{}}
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, c); err != nil || c.V != cursorVersion {
		return nil, sdk.Fatal(fmt.Errorf("the cursor is not one this connector wrote (version %d expected): reset the instance's cursor to read again from the start", cursorVersion))
	}
	if c.Feeds == nil {
		c.Feeds = map[string]*position{}
	}
	return c, nil
}

func (c *cursor) encode() []byte {
	b, _ := json.Marshal(c) // a struct of strings and times: cannot fail
	return b
}

// listPage is one page of a list.
type listPage struct {
	Totale     int               `json:"totale"`
	Pagina     int               `json:"pagina"`
	Pagine     int               `json:"pagine"`
	Successiva string            `json:"successiva"`
	Risultati  []json.RawMessage `json:"risultati"`
}

// itemHead is what every item has.
type itemHead struct {
	ID           string    `json:"id"`
	AggiornatoIl time.Time `json:"aggiornato_il"`
}

// Read sends the items updated after the cursor, feed by feed, one batch
// per page, each with the cursor after its last item.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	cfg, err := c.load(req.Settings)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return err
	}
	size := cfg.pageSize
	if req.MaxBatch > 0 && req.MaxBatch < size {
		size = req.MaxBatch
	}
	r := &reading{cfg: cfg, cur: cur, size: size, emit: emit, log: c.logger(),
		m: &mapper{source: cfg.s.Source, territory: cfg.s.Territory, org: cfg.org}}
	for _, f := range cfg.feeds {
		if err := r.feed(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

type reading struct {
	cfg  *config
	cur  *cursor
	size int
	emit func(sdk.Batch) error
	log  *slog.Logger
	m    *mapper
}

// feed reads one feed from its position to its end. It asks for the items
// updated since the position's instant (the API's filter is inclusive)
// and skips those at that instant it already has; after each page it asks
// again from the new position, so that items updated meanwhile, which move
// to the end of the list, shift no page under it.
func (r *reading) feed(ctx context.Context, f *feed) error {
	var bound *position
	if f.boundBy != "" && slices.ContainsFunc(r.cfg.feeds, func(g *feed) bool { return g.name == f.boundBy }) {
		if bound = r.cur.Feeds[f.boundBy]; bound == nil {
			return nil // nothing of the bounding feed read yet
		}
	}
	pageNum := 1
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pos := r.cur.Feeds[f.name]
		q := url.Values{}
		for k, v := range f.query {
			q[k] = v
		}
		q.Set("dimensione", strconv.Itoa(r.size))
		q.Set("pagina", strconv.Itoa(pageNum))
		if pos != nil {
			q.Set("aggiornato_dal", pos.T.UTC().Format(time.RFC3339Nano))
		}
		var p listPage
		if _, err := r.cfg.client.do(ctx, http.MethodGet, f.path, q, nil, &p); err != nil {
			return err
		}
		var recs [][]byte
		next, advanced, bounded := pos, false, false
		for _, raw := range p.Risultati {
			var h itemHead
			if err := json.Unmarshal(raw, &h); err != nil || h.ID == "" {
				return sdk.Fatal(fmt.Errorf("%s: an item without id or aggiornato_il", f.name))
			}
			if !pos.after(h.AggiornatoIl, h.ID) {
				continue
			}
			if bound != nil && h.AggiornatoIl.After(bound.T) {
				bounded = true
				break
			}
			rec, why, err := f.convert(r.m, raw)
			switch {
			case err != nil:
				return sdk.Fatal(fmt.Errorf("%s %s: the item is not as documented: %v", f.name, h.ID, redactErr(err)))
			case why != "":
				r.log.Debug("item not sent", "feed", f.name, "id", h.ID, "why", string(why))
			default:
				b, err := sdk.Record(rec)
				if err != nil {
					return sdk.Fatal(err)
				}
				recs = append(recs, b)
			}
			next, advanced = &position{T: h.AggiornatoIl, ID: h.ID}, true
		}
		if advanced {
			r.cur.Feeds[f.name] = next
			if err := r.emit(sdk.Batch{Records: recs, Cursor: r.cur.encode()}); err != nil {
				return err
			}
		}
		switch {
		case bounded || p.Successiva == "":
			return nil
		case advanced:
			pageNum = 1
		default:
			pageNum++ // the whole page was at the position's instant, already read
		}
	}
}
