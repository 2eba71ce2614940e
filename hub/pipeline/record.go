package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// kinds is the order in which a personRef's identifiers are taken: when
// none of them is known yet, the first present makes the new person and the
// others are linked to it.
var kinds = []identity.Kind{identity.KindCF, identity.KindProvisional, identity.KindSTP, identity.KindENI}

// record is one record on its way through the pipeline.
type record struct {
	raw []byte
	// recordID is the envelope's record_id, or "" when the record has none
	// or it looks like a personal identifier (it is then kept only inside
	// the sealed raw record).
	recordID string
	schema   *schemas.Schema // nil until a schema is known
	doc      map[string]any
	refs     []personRef
	// recordedAt is the envelope's recorded_at.
	recordedAt time.Time
	// problems are why the record goes to quarantine; none: it may be
	// stored.
	problems []store.QuarantineError
	// body is the canonical JSON to store, written while the record is
	// prepared, with a placeholder where each person id will be.
	body []byte
}

// personRef is one {"identifiers": …} or {"person_id": …} object of a
// record.
type personRef struct {
	obj     map[string]any
	pointer string
	// personID is the person id the record gives, if any.
	personID string
	codes    []identity.Code // valid identifiers, in kinds order
	digests  [][]byte        // their keyed digests
	// at is where the person id goes in the record's body: the offset of
	// its placeholder (refs with identifiers only).
	at int
}

func (r *record) fail(pointer, format string, args ...any) {
	r.problems = append(r.problems, store.QuarantineError{Pointer: maskPointer(pointer), Message: fmt.Sprintf(format, args...)})
}

// schemaName is the record's schema short name, "" when unknown.
func (r *record) schemaName() string {
	if r.schema == nil {
		return ""
	}
	return r.schema.Name
}

// prepare runs every check that needs no transaction — decoding, the
// envelope, the schema, the identifiers' syntax and their keyed digests —
// and writes the body to store. Messages never quote a value of the
// record, which may be personal.
func (p *Pipeline) prepare(source string, raw []byte) (r record) {
	r.raw = raw
	defer func() {
		if v := recover(); v != nil {
			// A bug in snodo or a library: this record goes to quarantine,
			// the batch goes on. The panic value is not logged: it may
			// quote the record.
			p.log.Error("the pipeline failed on a record (a bug in snodo: report it with this stack)",
				"source", source, "panic_type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
			r.doc, r.refs = nil, nil
			r.problems = []store.QuarantineError{{Message: "the pipeline failed on this record (a bug in snodo: report it with the hub's log); replay it once snodo is fixed"}}
		}
	}()

	v, err := schemas.Decode(raw)
	if err != nil {
		r.fail("", "not a JSON document: %s", jsonProblem(err))
		return r
	}
	doc, ok := v.(map[string]any)
	if !ok {
		r.fail("", "a record must be a JSON object")
		return r
	}
	if id, ok := doc["record_id"].(string); ok {
		r.recordID = id
		if looksLikeIdentifier(id) {
			r.recordID = ""
			r.fail("/record_id", "looks like a personal identifier (a codice fiscale, STP or ENI code): a record id must be the source system's own record number; fix the connector's mapping")
		}
	}
	if s, ok := doc["source"].(string); ok && s != source {
		r.fail("/source", "is not the name of the connector instance that sent the record (%q): set source in the instance's settings to its name in snodo.yaml", source)
	}
	if t, ok := doc["territory"].(string); ok && t != p.territory {
		r.fail("/territory", "is not this hub's territory (%q): fix territory in the connector instance's settings", p.territory)
	}
	r.refs = findRefs(doc, &r)
	checkExtensions(doc["extensions"], "/extensions", &r)
	s, violations := p.reg.ValidateDocument(doc)
	r.schema = s
	for _, v := range violations {
		r.problems = append(r.problems, store.QuarantineError{Pointer: maskPointer(v.Pointer), Message: v.Message})
	}
	if len(r.problems) > 0 {
		sortProblems(r.problems)
		return r
	}
	r.doc = doc
	if at, ok := doc["recorded_at"].(string); ok {
		if r.recordedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			r.fail("/recorded_at", "is not an RFC 3339 date-time")
		}
	}
	for i := range r.refs {
		ref := &r.refs[i]
		ids, _ := ref.obj["identifiers"].(map[string]any)
		for _, k := range kinds {
			v, ok := ids[string(k)].(string)
			if !ok {
				continue
			}
			c, err := identity.ParseKind(k, v)
			if err != nil {
				// *identity.InvalidError names a position, never the code.
				r.fail(ref.pointer+"/identifiers/"+string(k), "%s", err)
				continue
			}
			ref.codes = append(ref.codes, c)
			ref.digests = append(ref.digests, p.key.Digest(c))
		}
	}
	sortProblems(r.problems)
	if len(r.problems) == 0 {
		p.writeBody(&r)
	}
	return r
}

// placeholderDigits is the length of the number (the personRef's index)
// that ends a placeholder; the rest is the pipeline's random prefix.
const placeholderDigits = 6

// writeBody writes the record's canonical body now, on the parallel
// workers, with a placeholder as long as a person id (a ULID, 26
// characters) in place of each {"identifiers": …}; pseudonymise later
// writes each person id over its placeholder. The placeholders start with
// 20 random characters drawn when the pipeline started, which no record
// can guess.
func (p *Pipeline) writeBody(r *record) {
	var phs []string // the placeholder of each personRef with identifiers
	for i := range r.refs {
		ref := &r.refs[i]
		if len(ref.codes) == 0 {
			continue
		}
		if phs == nil {
			phs = make([]string, len(r.refs))
		}
		phs[i] = p.placeholder(i)
		delete(ref.obj, "identifiers")
		ref.obj["person_id"] = phs[i]
	}
	body, err := schemas.AppendCanonical(make([]byte, 0, len(r.raw)+len(r.raw)/8), r.doc)
	if err != nil {
		r.fail("", "cannot be written as JSON again: %s", err)
		return
	}
	for i := range r.refs {
		ref := &r.refs[i]
		if len(ref.codes) == 0 {
			continue
		}
		ph := []byte(`"person_id":"` + phs[i] + `"`)
		at := bytes.Index(body, ph)
		// Exactly once: not found again after the first.
		if at < 0 || bytes.Index(body[at+len(ph):], ph) >= 0 {
			r.fail(ref.pointer, "the pipeline cannot place the person id here (the record holds the pipeline's placeholder); report this")
			return
		}
		ref.at = at + len(`"person_id":"`)
	}
	r.body = body
}

// placeholder is the stand-in of the i-th personRef's person id.
func (p *Pipeline) placeholder(i int) string {
	n := strconv.Itoa(i)
	if len(n) < placeholderDigits {
		n = "000000"[:placeholderDigits-len(n)] + n
	}
	return p.placeholderPrefix + n
}

// findRefs collects the personRefs of doc in document order and
// normalises their identifiers in place. Every object holding
// "identifiers" counts, wherever it is — under extensions too: no
// identifier is ever stored as it came.
func findRefs(doc any, r *record) []personRef {
	var refs []personRef
	var path []string // the tokens down to the value being visited
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			ids, hasIDs := n["identifiers"]
			pid, hasPID := n["person_id"].(string)
			if hasIDs || hasPID {
				ref := personRef{obj: n, pointer: pointerOf(path), personID: pid}
				if hasIDs {
					normaliseIdentifiers(ids, ref.pointer+"/identifiers", r)
				}
				refs = append(refs, ref)
			}
			for k, item := range n {
				switch item.(type) {
				case map[string]any, []any:
					if k != "identifiers" {
						path = append(path, k)
						walk(item)
						path = path[:len(path)-1]
					}
				}
			}
		case []any:
			for i, item := range n {
				switch item.(type) {
				case map[string]any, []any:
					path = append(path, strconv.Itoa(i))
					walk(item)
					path = path[:len(path)-1]
				}
			}
		}
	}
	walk(doc)
	if len(refs) > 1 {
		sort.Slice(refs, func(i, j int) bool { return pointerLess(refs[i].pointer, refs[j].pointer) })
	}
	return refs
}

// pointerOf is the JSON pointer of a path of tokens.
func pointerOf(path []string) string {
	var b strings.Builder
	for _, t := range path {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// pointerLess orders JSON pointers as the document is read: token by
// token, array indexes as numbers, object keys as text.
func pointerLess(a, b string) bool {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		na, ea := strconv.Atoi(ta[i])
		nb, eb := strconv.Atoi(tb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return ta[i] < tb[i]
	}
	return len(ta) < len(tb)
}

// normaliseIdentifiers normalises the values of an identifiers object (the
// connector may send them as typed: lower case, spaces, hyphens) and refuses
// anything that cannot be pseudonymised.
func normaliseIdentifiers(v any, pointer string, r *record) {
	ids, ok := v.(map[string]any)
	if !ok {
		r.fail(pointer, "must be an object of identifiers by kind (cf, cf-provisional, stp, eni)")
		return
	}
	for k, val := range ids {
		if !identity.Kind(k).Valid() {
			r.fail(pointer+"/"+escapeToken(maskToken(k)), "is not an identifier kind: use cf, cf-provisional, stp or eni")
			continue
		}
		s, ok := val.(string)
		if !ok {
			r.fail(pointer+"/"+k, "must be a string")
			continue
		}
		ids[k] = identity.Normalise(s)
	}
}

// errConflict marks identifiers that belong to two different people.
var errConflict = errors.New("identifiers of two different people in one record")

const twoPeople = "identifiers of two different people in one record: the index already holds them as two people; check the source's record"

// pseudonymise gives every personRef with identifiers its person id from
// the keyed index, inside the batch's transaction, and writes it into the
// record's body: identifiers seen before decide the person, new ones are
// linked to it, and a record whose identifiers are known as two different
// people goes to quarantine. It returns the record's main person: the one
// at /person, else the first.
func (p *Pipeline) pseudonymise(ctx context.Context, tx *store.Tx, ix *identity.Index, r *record) (main string, err error) {
	for i := range r.refs {
		ref := &r.refs[i]
		if len(ref.codes) == 0 {
			continue
		}
		id, err := p.resolve(ctx, tx, ix, ref)
		if errors.Is(err, errConflict) {
			what := twoPeople
			if ref.personID != "" {
				what = "person_id is not the person these identifiers belong to; check the source's record"
			}
			r.fail(ref.pointer+"/identifiers", "%s", what)
			return "", err
		}
		if err != nil {
			return "", err
		}
		if !identity.ValidPersonID(id) {
			return "", fmt.Errorf("the keyed index gave a person id of %d characters that is not a ULID; check the identity tables of the store", len(id))
		}
		copy(r.body[ref.at:], id)
		ref.personID = id
	}
	for _, ref := range r.refs {
		if ref.pointer == "/person" && ref.personID != "" {
			return ref.personID, nil
		}
	}
	for _, ref := range r.refs {
		if ref.personID != "" {
			return ref.personID, nil
		}
	}
	return "", nil
}

// resolve finds (or makes) the person of one personRef.
func (p *Pipeline) resolve(ctx context.Context, tx *store.Tx, ix *identity.Index, ref *personRef) (string, error) {
	if len(ref.codes) == 1 && ref.personID == "" {
		// One identifier: its person, or a new one. This is what
		// Index.PersonID does, with the digest computed already (on the
		// parallel workers) instead of again in the transaction.
		id, _, err := tx.ResolvePerson(ctx, ref.digests[0], ref.codes[0].Kind, identity.NewPersonID())
		if err != nil {
			return "", fmt.Errorf("person id of a %s: %w", ref.codes[0].Kind, err)
		}
		return id, nil
	}
	known := ref.personID
	found := make([]bool, len(ref.codes))
	for j, d := range ref.digests {
		id, ok, err := tx.LookupPerson(ctx, d)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		found[j] = true
		if known != "" && id != known {
			return "", errConflict
		}
		known = id
	}
	for j, c := range ref.codes {
		switch {
		case found[j]:
		case known == "":
			id, _, err := ix.PersonID(ctx, c)
			if err != nil {
				return "", err
			}
			known = id
		default:
			err := ix.Link(ctx, known, c)
			if errors.Is(err, identity.ErrLinkedElsewhere) {
				return "", errConflict
			}
			if err != nil {
				return "", err
			}
		}
	}
	return known, nil
}

// finish pseudonymises a prepared record and stores it. A record that
// cannot be stored comes back with its problems and outcome 0; err is a
// failure of the store, which fails the whole batch.
func (p *Pipeline) finish(ctx context.Context, tx *store.Tx, ix *identity.Index, source string, r *record) (store.Outcome, error) {
	if len(r.problems) > 0 {
		return 0, nil
	}
	person, err := p.pseudonymise(ctx, tx, ix, r)
	if errors.Is(err, errConflict) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	out, err := tx.UpsertRecord(ctx, store.Record{
		Schema:     r.schema.Name,
		SchemaID:   r.schema.ID,
		Source:     source,
		RecordID:   r.recordID,
		Territory:  p.territory,
		RecordedAt: r.recordedAt,
		Body:       r.body,
		PersonID:   person,
	})
	if err != nil || out == store.Unchanged || p.observer == nil || !p.observer.Observes(r.schema.Name) {
		return out, err
	}
	s := Stored{Schema: r.schema.Name, Source: source, RecordID: r.recordID, Body: r.body, PersonID: person}
	for _, ref := range r.refs {
		if ref.personID != person || len(ref.codes) == 0 {
			continue
		}
		s.Identifiers = make(map[string]string, len(ref.codes))
		for _, c := range ref.codes {
			s.Identifiers[string(c.Kind)] = c.Value
		}
		break
	}
	if err := p.observer.Stored(ctx, tx, s); err != nil {
		return 0, fmt.Errorf("follow record %s of %q: %w", r.recordID, source, err)
	}
	return out, nil
}

// prepareAsync prepares records on up to p.workers goroutines, in chunks
// taken in order, and returns a function that waits until record i is
// prepared, and one that waits for every worker. The store goroutine so
// stores the first chunks while the workers check the next ones.
func (p *Pipeline) prepareAsync(source string, raws [][]byte, out []record) (wait func(i int), finish func()) {
	n := len(raws)
	chunks := (n + chunkSize - 1) / chunkSize
	done := make([]chan struct{}, chunks)
	for k := range done {
		done[k] = make(chan struct{})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(p.workers, chunks) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				for i := k * chunkSize; i < min(n, (k+1)*chunkSize); i++ {
					out[i] = p.prepare(source, raws[i])
				}
				close(done[k])
			}
		})
	}
	return func(i int) { <-done[i/chunkSize] }, wg.Wait
}

// chunkSize is how many records a worker prepares at a time.
const chunkSize = 32

// checkExtensions refuses identifiers written in clear under extensions,
// as a key or inside a string: the contract keeps that object free of them
// (DOMAIN.md), and the hub pseudonymises only what sits under an
// "identifiers" object. Those objects are not looked into here: findRefs
// has normalised them and they are replaced by a person id.
func checkExtensions(v any, pointer string, r *record) {
	switch n := v.(type) {
	case map[string]any:
		for k, item := range n {
			if k == "identifiers" {
				continue
			}
			child := pointer + "/" + escapeToken(maskToken(k))
			if containsIdentifier(k) {
				r.fail(child, "%s", clearIdentifier)
			}
			checkExtensions(item, child, r)
		}
	case []any:
		for i, item := range n {
			checkExtensions(item, pointer+"/"+strconv.Itoa(i), r)
		}
	case string:
		if containsIdentifier(n) {
			r.fail(pointer, "%s", clearIdentifier)
		}
	}
}

const clearIdentifier = "holds a personal identifier in clear (a codice fiscale, STP or ENI code): extensions must not carry identifiers; map it under an identifiers object, where the hub pseudonymises it, or leave it out of the connector's mapping"

// containsIdentifier reports whether s is, or holds as a word, something
// shaped like a codice fiscale or an STP/ENI code, in either case. The
// shape is enough, the check character is not asked for: a mistyped code
// still names a person. It runs on every string under extensions, so it
// looks only at words of exactly 16 letters and digits before matching.
func containsIdentifier(s string) bool {
	if len(s) < 16 {
		return false
	}
	// A code typed with spaces or hyphens, on its own.
	if len(s) <= 40 && looksLikeIdentifier(s) {
		return true
	}
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isWordByte(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start == 16 {
			w := strings.ToUpper(s[start:i])
			if cfShape.MatchString(w) || healthShape.MatchString(w) {
				return true
			}
		}
		start = -1
	}
	return false
}

// isWordByte is a byte of a word as regular expressions' \w has it.
func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// looksLikeIdentifier reports whether a record id is shaped like a codice
// fiscale or an STP/ENI code (check character or not). Eleven digits are
// not refused: numeric record ids of that length are common.
func looksLikeIdentifier(s string) bool {
	n := identity.Normalise(s)
	return cfShape.MatchString(n) || healthShape.MatchString(n)
}

var (
	cfShape     = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)
	healthShape = regexp.MustCompile(`^(STP|ENI)[0-9]{13}$`)
)

// maskPointer hides any token of a JSON pointer that could be a personal
// identifier: an object key under extensions could be one.
func maskPointer(ptr string) string {
	if ptr == "" {
		return ptr
	}
	toks := strings.Split(ptr[1:], "/")
	changed := false
	for i, t := range toks {
		if m := maskToken(t); m != t {
			toks[i], changed = m, true
		}
	}
	if !changed {
		return ptr
	}
	return "/" + strings.Join(toks, "/")
}

// maskToken replaces by asterisks a key of 11 digits, or of 16 letters and
// digits with at least one digit: the shapes of the identifiers; and a key
// that holds a code in any way containsIdentifier finds (typed with
// spaces, inside longer text).
func maskToken(t string) string {
	if containsIdentifier(t) {
		return strings.Repeat("*", len(t))
	}
	digits, letters := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			letters++
		default:
			return t
		}
	}
	if (len(t) == 11 && digits == 11) || (len(t) == 16 && digits > 0) {
		return strings.Repeat("*", len(t))
	}
	return t
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// jsonProblem describes a decoding error without quoting the input: the
// errors of encoding/json name at most one character and an offset.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

func sortProblems(p []store.QuarantineError) {
	sort.SliceStable(p, func(i, j int) bool { return p[i].Pointer < p[j].Pointer })
}

// logQuarantined writes one line per quarantined record: where it came from
// and where its first problem is, never its content.
func (p *Pipeline) logQuarantined(ctx context.Context, correlation, source string, r *record) {
	if !p.log.Enabled(ctx, slog.LevelDebug) || len(r.problems) == 0 {
		return
	}
	p.log.DebugContext(ctx, "record quarantined", "correlation_id", correlation, "source", source,
		"record_id", r.recordID, "schema", r.schemaName(), "problems", len(r.problems),
		"pointer", r.problems[0].Pointer, "problem", r.problems[0].Message)
}
