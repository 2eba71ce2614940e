package stats

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/snodo-hub/snodo/hub/store"
)

// The schemas whose records the indicators read.
var loadedSchemas = []string{"person", "household", "pathway", "housing-placement", "assessment", "employment-activity", "volunteer"}

// code is a coded field: the bare code of a closed list, or the code of a
// coding {system, code, display} of an open one.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	if s, ok := plainString(b); ok {
		*c = code(s)
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		var v struct {
			Code string `json:"code"`
		}
		if err := decodeBody(b, &v); err != nil {
			return err
		}
		*c = code(v.Code)
		return nil
	}
	var s string
	if err := decodeBody(b, &s); err != nil {
		return err
	}
	*c = code(s)
	return nil
}

// plainString returns the text of a JSON string without escapes.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || bytes.IndexByte(b, '\\') >= 0 {
		return "", false
	}
	return string(b[1 : len(b)-1]), true
}

// date is a JSON Schema "date" (YYYY-MM-DD), as midnight UTC; zero when
// absent.
type date struct{ time.Time }

func (d *date) UnmarshalJSON(b []byte) error {
	s, ok := plainString(b)
	if !ok {
		if err := decodeBody(b, &s); err != nil {
			return err
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("a date must be YYYY-MM-DD")
	}
	d.Time = t
	return nil
}

type personRef struct {
	PersonID string `json:"person_id"`
}

type reference struct {
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
}

// key is the node key of the referenced record, its source defaulting to
// the linking record's; "" when there is no reference.
func (r *reference) key(kind, source string) string {
	if r == nil || r.RecordID == "" {
		return ""
	}
	if r.Source != "" {
		source = r.Source
	}
	return kind + source + "\x00" + r.RecordID
}

// bodyDecoder decodes record bodies: sonic, as schemas.Decode uses, with
// encoding/json's behaviour (custom unmarshalers included).
var bodyDecoder = sonic.ConfigStd

func decodeBody(body []byte, v any) error { return bodyDecoder.Unmarshal(body, v) }

// meta is what every loaded record carries besides its body.
type meta struct {
	source, recordID string
	recordedAt       string // as stored: RFC 3339 UTC with fixed digits, sorts as text
	personID         string // the records.person_id column
}

// before orders records for "the first" choices: by date, then by source
// and record id, so that every choice is deterministic.
func before(d1 time.Time, m1 *meta, d2 time.Time, m2 *meta) bool {
	if !d1.Equal(d2) {
		return d1.Before(d2)
	}
	if m1.source != m2.source {
		return m1.source < m2.source
	}
	return m1.recordID < m2.recordID
}

type personRec struct {
	meta
	Person           personRef  `json:"person"`
	BirthYear        int        `json:"birth_year"`
	Sex              code       `json:"sex"`
	Citizenship      string     `json:"citizenship"`
	CitizenshipGroup code       `json:"citizenship_group"`
	Household        *reference `json:"household"`
}

type householdRec struct {
	meta
	HouseholdType code `json:"household_type"`
	Members       []struct {
		Person personRef `json:"person"`
		Role   code      `json:"role"`
	} `json:"members"`
}

type pathwayRec struct {
	meta
	Person                  personRef   `json:"person"`
	Household               *reference  `json:"household"`
	AccessedOn              date        `json:"accessed_on"`
	PreliminaryAssessmentOn date        `json:"preliminary_assessment_on"`
	SignedOn                date        `json:"signed_on"`
	StartedOn               date        `json:"started_on"`
	EndedOn                 date        `json:"ended_on"`
	Status                  code        `json:"status"`
	Volunteers              []reference `json:"volunteers"`
	Cost                    *struct {
		Amount struct {
			Value float64 `json:"value"`
		} `json:"amount"`
		Period *struct {
			Start date `json:"start"`
			End   date `json:"end"`
		} `json:"period"`
	} `json:"cost"`
}

type placementRec struct {
	meta
	Person           personRef  `json:"person"`
	Household        *reference `json:"household"`
	Start            date       `json:"start"`
	End              date       `json:"end"`
	Permanent        bool       `json:"permanent"`
	EthosBefore      code       `json:"ethos_before"`
	Destination      code       `json:"destination"`
	DestinationGroup code       `json:"destination_group"`
}

type assessmentRec struct {
	meta
	Person        personRef  `json:"person"`
	Household     *reference `json:"household"`
	Timepoint     code       `json:"timepoint"`
	AssessedOn    date       `json:"assessed_on"`
	Ethos         code       `json:"ethos"`
	ILOStatus     code       `json:"ilo_status"`
	SocialNetwork code       `json:"social_network"`
}

type activityRec struct {
	meta
	Person personRef `json:"person"`
	Type   code      `json:"type"`
	Start  date      `json:"start"`
	End    date      `json:"end"`
}

type volunteerRec struct {
	meta
	Assignments []struct {
		Pathway reference `json:"pathway"`
		Start   date      `json:"start"`
		End     date      `json:"end"`
	} `json:"assignments"`
}

type referralRow struct {
	meta
	status                            string
	authoredOn, respondedAt, closedAt time.Time
	wasRequested                      bool // an applied status event to requested exists
}

// dataset is one consistent state of the store, as the indicators need it.
type dataset struct {
	persons     map[string]*personRec // by person id: the fields of all its person records merged
	households  []*householdRec
	pathways    []*pathwayRec
	placements  []*placementRec
	assessments []*assessmentRec
	activities  []*activityRec
	volunteers  []*volunteerRec
	referrals   []*referralRow
	links       [][2]string // person → household links from person records
	personRecs  []*personRec
}

// load reads everything the indicators need in one snapshot.
func load(ctx context.Context, q store.Querier) (*dataset, error) {
	d := &dataset{persons: map[string]*personRec{}}
	for _, schema := range loadedSchemas {
		if err := d.loadSchema(ctx, q, schema); err != nil {
			return nil, err
		}
	}
	if err := d.loadReferrals(ctx, q); err != nil {
		return nil, err
	}
	d.finish()
	return d, nil
}

// byRecorded orders records by recorded_at, then source and record id.
func byRecorded(a, b *meta) int {
	if c := strings.Compare(a.recordedAt, b.recordedAt); c != 0 {
		return c
	}
	if c := strings.Compare(a.source, b.source); c != 0 {
		return c
	}
	return strings.Compare(a.recordID, b.recordID)
}

// finish orders the records deterministically (as recorded, then by source
// and record id) and merges each person's person records, the most
// recently recorded value of each field winning.
func (d *dataset) finish() {
	slices.SortFunc(d.personRecs, func(a, b *personRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.households, func(a, b *householdRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.pathways, func(a, b *pathwayRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.placements, func(a, b *placementRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.assessments, func(a, b *assessmentRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.activities, func(a, b *activityRec) int { return byRecorded(&a.meta, &b.meta) })
	slices.SortFunc(d.volunteers, func(a, b *volunteerRec) int { return byRecorded(&a.meta, &b.meta) })
	for _, r := range d.personRecs {
		id := r.Person.PersonID
		if hh := r.Household.key(householdNode, r.source); hh != "" {
			// Every link is kept: they all join the person's household.
			d.links = append(d.links, [2]string{personNode + id, hh})
		}
		prev := d.persons[id]
		if prev == nil {
			c := *r
			d.persons[id] = &c
			continue
		}
		if r.BirthYear != 0 {
			prev.BirthYear = r.BirthYear
		}
		if r.Sex != "" {
			prev.Sex = r.Sex
		}
		if r.Citizenship != "" {
			prev.Citizenship = r.Citizenship
		}
		if r.CitizenshipGroup != "" {
			prev.CitizenshipGroup = r.CitizenshipGroup
		}
	}
	d.personRecs = nil
}

func (d *dataset) loadSchema(ctx context.Context, q store.Querier, schema string) error {
	// In storage order, which needs no sort of the bodies; finish puts
	// the records in a deterministic order.
	rows, err := q.QueryContext(ctx, `SELECT source, record_id, coalesce(recorded_at, ''), coalesce(person_id, ''), body
FROM records WHERE schema = ?`, schema)
	if err != nil {
		return fmt.Errorf("read %s records: %w", schema, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m meta
		var body []byte
		if err := rows.Scan(&m.source, &m.recordID, &m.recordedAt, &m.personID, &body); err != nil {
			return fmt.Errorf("read %s records: %w", schema, err)
		}
		if err := d.add(schema, m, body); err != nil {
			// Neither the record id (a source might use a personal code as
			// its key) nor the decoder's message (it may quote the body).
			return fmt.Errorf("decode a %s record from source %q: its stored body does not have the shape of the %s schema", schema, m.source, schema)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s records: %w", schema, err)
	}
	return nil
}

func (d *dataset) add(schema string, m meta, body []byte) error {
	switch schema {
	case "person":
		var r personRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		if r.Person.PersonID == "" {
			r.Person.PersonID = m.personID
		}
		if r.Person.PersonID != "" {
			d.personRecs = append(d.personRecs, &r)
		}
	case "household":
		var r householdRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.households = append(d.households, &r)
	case "pathway":
		var r pathwayRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.pathways = append(d.pathways, &r)
	case "housing-placement":
		var r placementRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.placements = append(d.placements, &r)
	case "assessment":
		var r assessmentRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.assessments = append(d.assessments, &r)
	case "employment-activity":
		var r activityRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.activities = append(d.activities, &r)
	case "volunteer":
		var r volunteerRec
		if err := decodeBody(body, &r); err != nil {
			return err
		}
		r.meta = m
		d.volunteers = append(d.volunteers, &r)
	}
	return nil
}

func (d *dataset) loadReferrals(ctx context.Context, q store.Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT r.source, r.record_id, coalesce(r.person_id, ''), r.status, r.authored_on,
coalesce(r.responded_at, ''), coalesce(r.closed_at, ''),
EXISTS (SELECT 1 FROM referral_events e WHERE e.ref_source = r.source AND e.ref_record_id = r.record_id
        AND e.to_status = 'requested' AND e.outcome = 'applied')
FROM referrals r ORDER BY r.source, r.record_id`)
	if err != nil {
		return fmt.Errorf("read referrals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r referralRow
		var authored, responded, closed string
		if err := rows.Scan(&r.source, &r.recordID, &r.personID, &r.status, &authored, &responded, &closed, &r.wasRequested); err != nil {
			return fmt.Errorf("read referrals: %w", err)
		}
		for _, f := range []struct {
			dst *time.Time
			src string
		}{{&r.authoredOn, authored}, {&r.respondedAt, responded}, {&r.closedAt, closed}} {
			if f.src == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, f.src)
			if err != nil {
				return fmt.Errorf("read a referral from source %q: bad time: %w", r.source, err)
			}
			*f.dst = t.UTC()
		}
		d.referrals = append(d.referrals, &r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read referrals: %w", err)
	}
	return nil
}
