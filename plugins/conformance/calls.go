package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// maxListed bounds the problems a detail lists.
const maxListed = 3

// listed joins the first problems and says how many more there were.
func listed(problems []string, total int) string {
	s := strings.Join(problems, "; ")
	if total > len(problems) {
		s += fmt.Sprintf("; and %d more", total-len(problems))
	}
	return s
}

func checkCheck(ctx context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.conn.Check(ctx, s.opts.Settings, s.opts.SettingsDir); err != nil {
		hint := ""
		if sdk.ClassOf(err) == sdk.ClassConfig {
			hint = ": are the settings given to the suite right for this connector?"
		}
		return fail("Check with the given settings failed: %v%s", err, hint)
	}
	return pass()
}

// unknownSetting is a setting no connector has.
const unknownSetting = "__snodo_conformance_unknown__"

// invalidSettings finds settings the connector's settings schema rejects:
// nothing where something is required, an unknown setting where there may
// be none, or not an object at all.
func invalidSettings(schema interface{ Validate(any) error }, given []byte) ([]byte, bool) {
	candidates := []string{`{}`, `{"` + unknownSetting + `": true}`}
	var obj map[string]any
	if json.Unmarshal(given, &obj) == nil && obj != nil {
		obj[unknownSetting] = true
		if b, err := json.Marshal(obj); err == nil {
			candidates = append(candidates, string(b))
		}
	}
	candidates = append(candidates, `[]`, `"settings"`)
	for _, c := range candidates {
		var doc any
		dec := json.NewDecoder(strings.NewReader(c))
		dec.UseNumber()
		if dec.Decode(&doc) == nil && schema.Validate(doc) != nil {
			return []byte(c), true
		}
	}
	return nil, false
}

func checkInvalidSettings(ctx context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	if s.settingsSchema == nil {
		return skip("there is no valid settings schema to derive invalid settings from (see settings-schema)")
	}
	bad, ok := invalidSettings(s.settingsSchema, s.opts.Settings)
	if !ok {
		return skip("the settings schema accepts any settings, so there are none to refuse: declare the settings' properties, required ones and additionalProperties: false")
	}
	shown := quoteShort(string(bad))
	ctx, cancel := s.call(ctx)
	defer cancel()
	err := s.conn.Check(ctx, bad, s.opts.SettingsDir)
	if err == nil {
		return fail("Check accepted settings %s that the connector's own settings schema rejects: validate settings before using them (the Go SDK does)", shown)
	}
	var e *sdk.Error
	switch {
	case !errors.As(err, &e):
		return fail("Check with settings %s failed with an unclassed error: %v", shown, err)
	case e.Class != sdk.ClassConfig:
		return fail("Check with settings %s failed as a %s problem (%s), want a config problem: the admin must know the settings are wrong", shown, e.Class, e.Message)
	case strings.TrimSpace(e.Message) == "":
		return fail("Check with settings %s failed as a config problem without a message: say which setting is wrong and why", shown)
	}
	return pass()
}

// readResult is what a read from the start found.
type readResult struct {
	err      error
	ids      []string // each record's identity (its record_id), in order
	ends     []int    // the number of records up to the end of each batch
	cursors  [][]byte // each batch's cursor
	complete bool     // the source ended (false: the suite stopped at MaxRecords)

	problems      []string // the first record problems
	nProblems     int
	batchProblems []string
	nBatchProblem int

	// writable is the first valid record of an accepted schema.
	writable *candidate
}

type candidate struct {
	schema, id string
	raw        []byte
}

// errStop stops a read the suite has seen enough of.
var errStop = errors.New("conformance: enough read")

func (r *readResult) problem(format string, args ...any) {
	r.nProblems++
	if len(r.problems) < maxListed {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func (r *readResult) batchProblem(format string, args ...any) {
	r.nBatchProblem++
	if len(r.batchProblems) < maxListed {
		r.batchProblems = append(r.batchProblems, fmt.Sprintf(format, args...))
	}
}

// identity is what the suite compares records by: the record_id, or the
// whole record when it has none.
func identity(raw []byte) string {
	var head struct {
		RecordID string `json:"record_id"`
	}
	if json.Unmarshal(raw, &head) == nil && head.RecordID != "" {
		return head.RecordID
	}
	return "\x00" + string(raw)
}

// shown is how a record identity appears in a detail.
func shown(id string) string {
	if strings.HasPrefix(id, "\x00") {
		return "a record without record_id"
	}
	return id
}

func checkRead(ctx context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	if len(s.manifest.Produces) == 0 {
		return skip("the connector produces no records (its manifest's produces is empty)")
	}
	if s.regErr != nil {
		return fail("cannot compile the shared schemas to validate records against: %v", s.regErr)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	r := &readResult{}
	s.read = r
	max := s.opts.MaxBatch
	err := s.conn.Read(ctx, s.readRequest(nil, max), func(b sdk.Batch) error {
		n := len(r.ends) + 1
		if len(b.Cursor) == 0 {
			r.batchProblem("batch %d has an empty cursor: every batch must carry the cursor after its last record", n)
		}
		if len(b.Records) > max {
			r.batchProblem("batch %d has %d records, more than max_batch %d", n, len(b.Records), max)
		}
		for _, raw := range b.Records {
			r.ids = append(r.ids, identity(raw))
			s.checkRecord(r, len(r.ids), raw)
		}
		r.ends = append(r.ends, len(r.ids))
		r.cursors = append(r.cursors, bytes.Clone(b.Cursor))
		if len(r.ids) >= s.opts.MaxRecords {
			return errStop
		}
		return nil
	})
	switch {
	case err == nil:
		r.complete = true
	case !errors.Is(err, errStop):
		r.err = err
		if ctx.Err() != nil {
			return fail("Read did not finish within %s (%d records in %d batches so far): does it wait for more data instead of returning at the end of the source?", s.opts.Timeout, len(r.ids), len(r.ends))
		}
		return fail("Read failed after %d records in %d batches: %v", len(r.ids), len(r.ends), err)
	}
	if r.nProblems > 0 {
		return fail("%d of %d records are wrong: %s", r.nProblems, len(r.ids), listed(r.problems, r.nProblems))
	}
	if len(r.ids) == 0 {
		return skip("Read returned no records: give settings that point at sample data, so that records can be checked")
	}
	return pass()
}

func (s *suite) readRequest(cursor []byte, max int) host.ReadRequest {
	return host.ReadRequest{Settings: s.opts.Settings, SettingsDir: s.opts.SettingsDir, Cursor: cursor, MaxBatch: max}
}

// checkRecord validates the n-th record read.
func (s *suite) checkRecord(r *readResult, n int, raw []byte) {
	what := fmt.Sprintf("record %d", n)
	if id := identity(raw); !strings.HasPrefix(id, "\x00") {
		what += " (" + id + ")"
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		r.problem("%s is not JSON: %v", what, err)
		return
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		r.problem("%s is not a JSON object", what)
		return
	}
	id, _ := obj["schema"].(string)
	if !slices.Contains(s.manifest.Produces, id) {
		r.problem("%s declares schema %q, which the manifest's produces does not list", what, id)
		return
	}
	sch, violations := s.reg.ValidateDocument(doc)
	if len(violations) > 0 {
		msgs := make([]string, 0, maxListed)
		for i, v := range violations {
			if i == maxListed {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(violations)-maxListed))
				break
			}
			msgs = append(msgs, v.String())
		}
		r.problem("%s does not follow its schema: %s", what, strings.Join(msgs, ", "))
		return
	}
	if r.writable == nil && slices.Contains(s.manifest.Accepts, sch.ID) {
		if rid, _ := obj["record_id"].(string); rid != "" {
			r.writable = &candidate{schema: sch.ID, id: rid, raw: bytes.Clone(raw)}
		}
	}
}

// readDone says why a check of what was read cannot run.
func (s *suite) readDone() (outcome, bool) {
	if o, ok := s.started(); !ok {
		return o, false
	}
	switch r := s.read; {
	case r == nil:
		return skip("nothing was read (see read)"), false
	case r.err != nil:
		return skip("the read from the start failed (see read)"), false
	case len(r.ends) == 0:
		return skip("Read returned no batches"), false
	}
	return outcome{}, true
}

func checkBatches(_ context.Context, s *suite) outcome {
	if s.read != nil && s.read.nBatchProblem > 0 {
		return fail("%s", listed(s.read.batchProblems, s.read.nBatchProblem))
	}
	if o, ok := s.readDone(); !ok {
		return o
	}
	return pass()
}

// checkResume reads again from every cursor of the read from the start and
// compares what comes with what came then. The work is capped: when the
// remainders add up to more than MaxRecords, each cursor is followed for a
// window of records (two batches at least), and cursors are sampled evenly
// (the last always included) to stay within MaxRecords.
func checkResume(ctx context.Context, s *suite) outcome {
	if o, ok := s.readDone(); !ok {
		return o
	}
	r := s.read
	n, k := len(r.ids), len(r.ends)
	total := 0
	for _, end := range r.ends {
		total += n - end
	}
	window := n
	picked := make([]int, k)
	for i := range picked {
		picked[i] = i
	}
	if total > s.opts.MaxRecords {
		window = max(2*s.opts.MaxBatch, 1)
		if m := max(s.opts.MaxRecords/window, 2); k > m {
			picked = picked[:0]
			for j := range m {
				picked = append(picked, j*(k-1)/(m-1))
			}
		}
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	var problems []string
	failed := 0
	for _, i := range picked {
		if p := s.resumeFrom(ctx, i, window); p != "" {
			failed++
			if len(problems) < maxListed {
				problems = append(problems, p)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if failed > 0 {
		return fail("reading again from %d of %d cursors went wrong: %s", failed, len(picked), listed(problems, failed))
	}
	if ctx.Err() != nil {
		return fail("reading again from the cursors did not finish within %s", s.opts.Timeout)
	}
	return pass()
}

// resumeFrom reads from the cursor of batch i, for up to window records,
// and says what went wrong ("" if nothing).
func (s *suite) resumeFrom(ctx context.Context, i, window int) string {
	r := s.read
	n := len(r.ids)
	start := r.ends[i]
	limit := n
	if window < n-start {
		limit = start + window
	}
	where := fmt.Sprintf("from the cursor of batch %d (after record %d)", i+1, start)
	pos := start
	problem := ""
	err := s.conn.Read(ctx, s.readRequest(r.cursors[i], s.opts.MaxBatch), func(b sdk.Batch) error {
		for _, raw := range b.Records {
			got := identity(raw)
			if pos >= n {
				switch k := slices.Index(r.ids, got); {
				case !r.complete:
				case k >= 0:
					problem = fmt.Sprintf("%s: %s was read again (record %d) after the last record of the source: the cursor repeats records", where, shown(got), k+1)
				default:
					problem = fmt.Sprintf("%s: %s came after the last record of the source", where, shown(got))
				}
				return errStop
			}
			if got != r.ids[pos] {
				problem = where + ": " + s.mismatch(pos, got)
				return errStop
			}
			pos++
			if pos >= limit && limit < n {
				return errStop
			}
		}
		return nil
	})
	switch {
	case problem != "":
		return problem
	case errors.Is(err, errStop):
		return ""
	case err != nil:
		return fmt.Sprintf("%s: Read failed: %v", where, err)
	case pos < limit:
		return fmt.Sprintf("%s: the read ended after %d records, %d before the end of the source: the cursor skips records", where, pos-start, n-pos)
	}
	return ""
}

// mismatch explains a record found where another was expected.
func (s *suite) mismatch(pos int, got string) string {
	want := s.read.ids[pos]
	if k := slices.Index(s.read.ids, got); k >= 0 && k < pos {
		return fmt.Sprintf("%s was read again (record %d), where %s was expected: the cursor repeats records", shown(got), k+1, shown(want))
	} else if k > pos {
		return fmt.Sprintf("%s (record %d) came where %s (record %d) was expected: the cursor skips %d records", shown(got), k+1, shown(want), pos+1, k-pos)
	}
	return fmt.Sprintf("%s came where %s (record %d) was expected, and the read from the start had no such record", shown(got), shown(want), pos+1)
}

// checkCancel cancels a read after its first batch, then starts another:
// if the cancelled Read is still busy, the next one is held up.
func checkCancel(ctx context.Context, s *suite) outcome {
	if o, ok := s.readDone(); !ok {
		return o
	}
	if len(s.read.ids) < 2 {
		return skip("cancelling a read after its first batch needs at least 2 records")
	}
	if d := s.cancelAfterFirst(ctx); d != "" {
		return fail("%s", d)
	}
	if d := s.cancelAfterFirst(ctx); d != "" {
		return fail("after a read was cancelled following its first batch, %s: the cancelled Read is still busy; Read must return when its context ends (emit returns an error then: return it)", d)
	}
	return pass()
}

// cancelAfterFirst starts a read from the start with batches of one record,
// cancels it when the first comes, and says what went wrong ("" if
// nothing).
func (s *suite) cancelAfterFirst(ctx context.Context) string {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	first := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.conn.Read(ctx, s.readRequest(nil, 1), func(b sdk.Batch) error {
			if len(b.Records) == 0 {
				return nil
			}
			select {
			case first <- identity(b.Records[0]):
			default:
			}
			cancel()
			return nil
		})
	}()
	bound := time.NewTimer(CancelBound)
	defer bound.Stop()
	select {
	case id := <-first:
		if want := s.read.ids[0]; id != want {
			return fmt.Sprintf("a new read from the start began with %s instead of %s", shown(id), shown(want))
		}
	case err := <-done:
		return fmt.Sprintf("a new read from the start ended before its first record (%v)", err)
	case <-bound.C:
		cancel()
		<-done
		return fmt.Sprintf("a new read from the start delivered nothing within %s", CancelBound)
	}
	bound.Reset(CancelBound)
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Sprintf("the cancelled read failed: %v", err)
		}
	case <-bound.C:
		return fmt.Sprintf("the read did not end within %s of being cancelled", CancelBound)
	}
	return ""
}

func checkWrite(ctx context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	switch {
	case s.opts.SkipWrite:
		return skip("asked not to write")
	case len(s.manifest.Accepts) == 0:
		return skip("the connector accepts no records (its manifest's accepts is empty)")
	case s.read == nil || s.read.writable == nil:
		return skip("no valid record of a schema the connector accepts (%s) was read to write: give settings whose sample data has one", strings.Join(s.manifest.Accepts, ", "))
	}
	c := s.read.writable
	req := host.WriteRequest{Settings: s.opts.Settings, SettingsDir: s.opts.SettingsDir, Schema: c.schema, RecordID: c.id, Record: c.raw}
	ctx, cancel := s.call(ctx)
	defer cancel()
	first, err := s.conn.Write(ctx, req)
	if err != nil {
		return fail("writing record %s failed: %v", c.id, err)
	}
	if first == "" {
		return fail("writing record %s returned an empty target id: return the id the target system knows the record by", c.id)
	}
	second, err := s.conn.Write(ctx, req)
	if err != nil {
		return fail("writing record %s a second time failed (%v): a repeated delivery must succeed and change nothing", c.id, err)
	}
	if second != first {
		return fail("writing record %s a second time returned target id %q, the first time %q: Write must be idempotent by (schema, record_id)", c.id, second, first)
	}
	return pass()
}

func checkClose(_ context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	pid := s.conn.Pid()
	s.conn.Close()
	s.closed = true
	switch {
	case s.logs.wasKilled():
		return fail("the process did not exit within 2s of the host's shutdown request and had to be killed")
	case !s.conn.Exited():
		return fail("the process is still running after Close")
	case pid > 0 && alive(pid):
		return fail("process %d is still running after Close", pid)
	}
	return pass()
}

// alive reports whether a process exists.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

// checkGoroutines waits for the goroutines started under the suite's label
// to end. It runs last: every connector call is over, and the connector is
// closed.
func checkGoroutines(_ context.Context, s *suite) outcome {
	s.close()
	deadline := time.Now().Add(CancelBound)
	for {
		n, stacks := labelled(s.label)
		if n == 0 {
			return pass()
		}
		if time.Now().After(deadline) {
			return fail("%d goroutines started for the connector still run %s after it was closed: %s", n, CancelBound, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// labelled counts the goroutines carrying the suite's label and names the
// function each group is in.
func labelled(label string) (int, string) {
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		return 0, ""
	}
	want := fmt.Sprintf(`"%s":"%s"`, labelKey, label)
	total := 0
	var where []string
	// Records are separated by blank lines: "N @ addrs", then "# labels:
	// {...}", then one "#\taddr\tfunc+off\tfile:line" per frame.
	_, profile, _ := strings.Cut(b.String(), "\n") // "goroutine profile: total N"
	for _, rec := range strings.Split(profile, "\n\n") {
		lines := strings.Split(rec, "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[1], "# labels:") || !strings.Contains(lines[1], want) {
			continue
		}
		var count int
		if _, err := fmt.Sscanf(lines[0], "%d @", &count); err != nil {
			continue
		}
		total += count
		for _, l := range lines[2:] {
			f := strings.Fields(strings.TrimPrefix(l, "#"))
			if len(f) >= 2 && !strings.HasPrefix(f[1], "runtime.") {
				where = append(where, f[1])
				break
			}
		}
	}
	return total, strings.Join(where, ", ")
}
