package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime/pprof"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// labelKey labels, with pprof, every goroutine the suite starts for one
// connector — and, by inheritance, every goroutine those start — so that
// the goroutine check counts only this run's, even while other tests of the
// same process run in parallel.
const labelKey = "snodo-conformance"

// check is one named behaviour.
type check struct {
	name        string
	description string
	// unlabelled checks run outside the suite's goroutine label (the
	// goroutine check itself).
	unlabelled bool
	fn         func(ctx context.Context, s *suite) outcome
}

// checks lists the checks in the order they run; later ones use what
// earlier ones found.
func checks() []check {
	return []check{
		{name: "quiet-stdout", description: "nothing on stdout before the go-plugin handshake line, which is well-formed", fn: checkQuietStdout},
		{name: "handshake", description: "starts, completes the handshake (protocol 1, mutual TLS), describes itself", fn: checkHandshake},
		{name: "manifest", description: "valid name, version, kind; produces, accepts are $ids of known schemas", fn: checkManifest},
		{name: "settings-schema", description: "the settings schema is a self-contained JSON Schema 2020-12", fn: checkSettingsSchema},
		{name: "check", description: "Check with the given settings succeeds", fn: checkCheck},
		{name: "check-invalid-settings", description: "Check with settings its schema rejects fails as a config problem", fn: checkInvalidSettings},
		{name: "read", description: "a full read ends; every record is valid JSON of a schema it produces", fn: checkRead},
		{name: "batches", description: "every batch has a cursor and at most max_batch records", fn: checkBatches},
		{name: "resume", description: "reading again from every cursor neither repeats nor skips a record", fn: checkResume},
		{name: "cancel", description: "a read cancelled after one batch stops; the next starts promptly", fn: checkCancel},
		{name: "write-idempotent", description: "writing a record twice returns the same target id", fn: checkWrite},
		{name: "close", description: "the process exits on its own when the host closes it", fn: checkClose},
		{name: "goroutines", description: "the host's goroutines for the connector end once it is closed", unlabelled: true, fn: checkGoroutines},
	}
}

// outcome is a check's verdict, before it is named.
type outcome struct {
	passed, skipped bool
	detail          string
}

func pass() outcome { return outcome{passed: true} }

func fail(format string, args ...any) outcome {
	return outcome{detail: fmt.Sprintf(format, args...)}
}

func skip(format string, args ...any) outcome {
	return outcome{skipped: true, detail: fmt.Sprintf(format, args...)}
}

// suite is one run of the checks against one connector.
type suite struct {
	opts   Options
	label  string
	logs   *logSink
	logger hclog.Logger

	reg    *schemas.Registry
	regErr error

	conn     *host.Connector
	closed   bool
	manifest sdk.Manifest
	// settingsSchema is the compiled settings schema (nil if it did not
	// compile).
	settingsSchema *jsonschema.Schema
	read           *readResult
}

func newSuite(opts Options) *suite {
	opts = opts.withDefaults()
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &suite{opts: opts, label: hex.EncodeToString(id[:]), logs: newLogSink(opts.Log)}
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "conformance", Output: s.logs, Level: hclog.Debug, JSONFormat: true})
	s.reg = opts.Registry
	if s.reg == nil {
		s.reg, s.regErr = schemas.Compile(ShapeFormats()...)
	}
	return s
}

// ShapeFormats checks identifier formats by shape only — 16 letters and
// digits for a codice fiscale, 11 digits for a provisional one — as the
// suite does by default: check digits and dates are the hub's business.
func ShapeFormats() []schemas.Option {
	return []schemas.Option{
		schemas.WithFormat("codice-fiscale", shapeCheck(16, isAlnumUpper, "16 upper-case letters and digits")),
		schemas.WithFormat("cf-provisional", shapeCheck(11, isDigit, "11 digits")),
	}
}

func shapeCheck(n int, ok func(rune) bool, want string) func(any) error {
	return func(v any) error {
		s, isString := v.(string)
		if !isString {
			return nil
		}
		if len(s) != n || strings.IndexFunc(s, func(r rune) bool { return !ok(r) }) >= 0 {
			return fmt.Errorf("must be %s, normalised (upper case, no spaces)", want)
		}
		return nil
	}
}

func isDigit(r rune) bool      { return r >= '0' && r <= '9' }
func isAlnumUpper(r rune) bool { return isDigit(r) || (r >= 'A' && r <= 'Z') }

// run runs one check under the suite's goroutine label.
func (s *suite) run(ctx context.Context, c check) Result {
	var o outcome
	if c.unlabelled {
		o = c.fn(ctx, s)
	} else {
		pprof.Do(ctx, pprof.Labels(labelKey, s.label), func(ctx context.Context) { o = c.fn(ctx, s) })
	}
	return Result{Name: c.name, Passed: o.passed, Skipped: o.skipped, Detail: o.detail}
}

// started says why a check cannot run when the connector is not running.
func (s *suite) started() (outcome, bool) {
	switch {
	case s.conn == nil:
		return skip("the connector did not start (see handshake)"), false
	case s.closed:
		return skip("the connector was already closed"), false
	}
	return outcome{}, true
}

func (s *suite) close() {
	if s.conn != nil && !s.closed {
		s.conn.Close()
		s.closed = true
	}
}

// call bounds one check's calls with Options.Timeout.
func (s *suite) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}
