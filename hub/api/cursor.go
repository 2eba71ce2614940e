package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

// Paging: a list answers at most limit items and, when there may be more,
// "next": an opaque cursor to pass as ?after= for the next page. A cursor is
// base64url JSON naming the list it belongs to and the last item's
// position; clients must not build or change one.

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// cursor is the decoded form of an opaque cursor.
type cursor struct {
	List    string `json:"l"`           // records, timeline, quarantine
	ID      int64  `json:"i"`           // the last item's id
	At      string `json:"t,omitempty"` // timeline: the last record's recorded_at (RFC 3339)
	Undated bool   `json:"u,omitempty"` // timeline: the last record had no recorded_at
	Source  string `json:"s,omitempty"` // referrals: the last referral's source
	Record  string `json:"r,omitempty"` // referrals: the last referral's record id
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // plain fields: always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads ?after= for list. An empty value is the start.
func decodeCursor(v, list string) (cursor, *Problem) {
	if v == "" {
		return cursor{List: list}, nil
	}
	bad := func() (cursor, *Problem) {
		return cursor{}, badParam("after", "not a cursor of this list: pass the \"next\" value of the previous page unchanged")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return bad()
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil || c.List != list {
		return bad()
	}
	// Referrals are positioned by (source, record id), the others by id.
	if list == "referrals" && (c.Source == "" || c.Record == "" || c.ID != 0) || list != "referrals" && (c.ID < 1 || c.Source != "" || c.Record != "") {
		return bad()
	}
	if c.At != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.At); err != nil || c.Undated {
			return bad()
		}
	}
	return c, nil
}

func (c cursor) timelinePos() store.TimelinePos {
	p := store.TimelinePos{Undated: c.Undated, ID: c.ID}
	if c.At != "" {
		p.RecordedAt, _ = time.Parse(time.RFC3339Nano, c.At) // checked by decodeCursor
	}
	return p
}

func timelineCursor(rec store.StoredRecord) cursor {
	c := cursor{List: "timeline", ID: rec.ID, Undated: rec.RecordedAt.IsZero()}
	if !c.Undated {
		c.At = rec.RecordedAt.UTC().Format(time.RFC3339Nano)
	}
	return c
}

// query holds a request's query parameters and checks them: each may be
// given once, and only those the endpoint knows.
type query struct{ v url.Values }

// plainName is a parameter name that may be echoed in a problem: no
// digits and no capitals, so no personal code.
var plainName = regexp.MustCompile(`^[a-z_-]{1,32}$`)

// checkQuery refuses parameters not in known and parameters given twice.
func checkQuery(v url.Values, known ...string) (query, *Problem) {
	for name, vals := range v {
		ok := false
		for _, k := range known {
			ok = ok || k == name
		}
		if !ok {
			if !plainName.MatchString(name) {
				// Not echoed: it could be a personal code sent by mistake.
				return query{}, badParam("", "an unknown parameter: this endpoint takes %s", list(known))
			}
			return query{}, badParam(name, "unknown parameter %q: this endpoint takes %s", name, list(known))
		}
		if len(vals) > 1 {
			return query{}, badParam(name, "parameter %q is given %d times: give it once", name, len(vals))
		}
	}
	return query{v}, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "no parameters"
	}
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " and "
		default:
			s += ", "
		}
		s += n
	}
	return s
}

func (q query) get(name string) string { return q.v.Get(name) }

// limit reads ?limit=: 1 to 1000, 100 when absent.
func (q query) limit() (int, *Problem) {
	v, ok := q.v["limit"]
	if !ok {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 1 || n > maxLimit {
		return 0, badParam("limit", "limit must be a whole number from 1 to %d", maxLimit)
	}
	return n, nil
}

// boolean reads a true/false parameter, false when absent.
func (q query) boolean(name string) (bool, *Problem) {
	v, ok := q.v[name]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		return false, badParam(name, "%s must be true or false", name)
	}
	return b, nil
}
