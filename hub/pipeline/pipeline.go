package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/seal"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// The topics of the pipeline's in-process pub/sub.
const (
	topicBatches  = "snodo.pipeline.batches"
	topicPoisoned = "snodo.pipeline.poisoned"
)

// Config is what a pipeline needs.
type Config struct {
	// Store is where records, cursors and the quarantine go.
	Store *store.Store
	// Registry is the compiled data contract, with the identifier formats
	// (schemas.Compile(identity.SchemaFormats()...)).
	Registry *schemas.Registry
	// Key is the territory's pseudonymisation key. The quarantine's key is
	// derived from it.
	Key identity.Key
	// Territory is the hub's territory code: every record must carry it.
	Territory string
	// Logger receives the pipeline's log lines (nil: none). They never
	// hold a record's content.
	Logger *slog.Logger
	// Flood is when a connector counts as flooding the quarantine.
	Flood Flood
	// Retry is how a batch that fails to store is tried again.
	Retry Retry
	// Workers is how many goroutines check a batch's records in parallel
	// (0: GOMAXPROCS). Storing is one transaction on one goroutine.
	Workers int
	// Clock is the time of the flood window (nil: time.Now).
	Clock func() time.Time
	// Observer, if set, follows the records of the schemas it observes as
	// they are stored (inserted or changed), inside the transaction that
	// stores them: what it writes commits with the record, or not at all.
	Observer Observer
}

// Observer follows stored records (the referral engine).
type Observer interface {
	// Observes reports whether the observer follows records of schema
	// (short name).
	Observes(schema string) bool
	// Stored is called inside the storing transaction. An error fails the
	// batch's transaction (it is retried): return one only when the
	// store fails.
	Stored(ctx context.Context, tx *store.Tx, r Stored) error
}

// Stored is a record just stored.
type Stored struct {
	Schema, Source, RecordID string
	// Body is the record as stored: person ids in place of identifiers.
	Body []byte
	// PersonID is the person the record is about, "" if none.
	PersonID string
	// Identifiers are that person's identifiers as the record gave them
	// (kind → normalised code). They are never stored in the clear: an
	// observer that must keep one seals it.
	Identifiers map[string]string
}

// Retry says how often, and after what waits, a batch whose transaction
// failed (SQLITE_BUSY from another process, a full disk) is tried again
// before it goes to quarantine whole. Zero fields take the defaults.
type Retry struct {
	MaxRetries int           // 5
	Initial    time.Duration // 100 ms, doubling
	Max        time.Duration // 5 s
	MaxElapsed time.Duration // 1 min for all the retries of one batch
}

// Defaults of Retry.
const (
	DefaultMaxRetries   = 5
	DefaultRetryInitial = 100 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	DefaultRetryElapsed = time.Minute
)

func (r Retry) withDefaults() Retry {
	if r.MaxRetries <= 0 {
		r.MaxRetries = DefaultMaxRetries
	}
	if r.Initial <= 0 {
		r.Initial = DefaultRetryInitial
	}
	if r.Max <= 0 {
		r.Max = DefaultRetryMax
	}
	if r.MaxElapsed <= 0 {
		r.MaxElapsed = DefaultRetryElapsed
	}
	return r
}

// Pipeline takes the batches connectors read and stores them: see the
// package documentation. It is safe for concurrent use.
type Pipeline struct {
	st        *store.Store
	reg       *schemas.Registry
	key       identity.Key
	territory string
	log       *slog.Logger
	flood     Flood
	retry     Retry
	workers   int
	now       func() time.Time
	seal      *seal.Sealer
	observer  Observer
	// placeholderPrefix starts the placeholders of person ids in bodies
	// being written (see writeBody).
	placeholderPrefix string

	pubsub     *gochannel.GoChannel
	router     *message.Router
	routerDone chan struct{}

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	stats    Stats
	windows  map[string]*window
}

// New makes a pipeline and starts its router; Close stops it.
func New(ctx context.Context, cfg Config) (*Pipeline, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("pipeline: no store")
	case cfg.Registry == nil:
		return nil, errors.New("pipeline: no schema registry")
	case cfg.Territory == "":
		return nil, errors.New("pipeline: the hub's territory code is empty; set territory.code in snodo.yaml")
	}
	sealer, err := seal.New(cfg.Key, seal.Quarantine)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{
		st: cfg.Store, reg: cfg.Registry, key: cfg.Key, territory: cfg.Territory,
		log:      cfg.Logger,
		flood:    cfg.Flood.withDefaults(),
		retry:    cfg.Retry.withDefaults(),
		workers:  cfg.Workers,
		now:      cfg.Clock,
		seal:     sealer,
		observer: cfg.Observer,
		stats:    Stats{Sources: map[string]SourceStats{}, Latency: newHistogram()},
		windows:  map[string]*window{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.workers <= 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.placeholderPrefix = randomPrefix()
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// start builds the watermill router: batches are published on an
// in-process GoChannel whose Publish returns once the handler has acked, so
// Sink returns after the batch is committed. The handler's middleware, from
// the outside in: correlation ids, the poison queue (a batch that still
// fails goes to quarantine whole), retries with backoff, and recovery from
// panics.
func (p *Pipeline) start(ctx context.Context) error {
	// watermill's own info lines (handlers starting and stopping) are
	// debug lines here. It never logs a payload: handlers produce no
	// messages.
	wlog := watermill.NewSlogLoggerWithLevelMapping(p.log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	p.pubsub = gochannel.NewGoChannel(gochannel.Config{
		BlockPublishUntilSubscriberAck: true,
		// The message keeps Sink's context: it carries the reply, and its
		// cancellation is Sink's caller's.
		PreserveContext: true,
	}, wlog)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: time.Minute}, wlog)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	p.router = router
	router.AddMiddleware(middleware.CorrelationID)

	poison, err := middleware.PoisonQueue(p.pubsub, topicPoisoned)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	retry := middleware.Retry{
		MaxRetries:          p.retry.MaxRetries,
		InitialInterval:     p.retry.Initial,
		MaxInterval:         p.retry.Max,
		MaxElapsedTime:      p.retry.MaxElapsed,
		Multiplier:          2,
		RandomizationFactor: 0.25,
		ShouldRetry:         p.shouldRetry,
	}
	router.AddNoPublisherHandler("store-batch", topicBatches, p.pubsub, p.handleBatch).
		AddMiddleware(poison, p.failOnDiskFull, retry.Middleware, p.safePanics, middleware.Recoverer)
	router.AddNoPublisherHandler("quarantine-batch", topicPoisoned, p.pubsub, p.handlePoisoned).
		AddMiddleware(p.neverNack, p.safePanics, middleware.Recoverer)

	p.routerDone = make(chan struct{})
	go func() {
		defer close(p.routerDone)
		if err := router.Run(context.Background()); err != nil {
			p.log.Error("the pipeline's router stopped", "error", err)
		}
	}()
	select {
	case <-router.Running():
		return nil
	case <-p.routerDone:
		return errors.New("pipeline: the router did not start")
	case <-ctx.Done():
		_ = router.Close()
		return fmt.Errorf("pipeline: start: %w", ctx.Err())
	}
}

// Close stops taking batches, waits for those being stored and stops the
// router.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.inflight.Wait()
	err := p.router.Close()
	<-p.routerDone
	return errors.Join(err, p.pubsub.Close())
}

// randomPrefix is 20 random characters of the ULID alphabet: with the
// placeholder's 6 digits, as long as a person id.
func randomPrefix() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 26-placeholderDigits)
	_, _ = rand.Read(b) // crypto/rand does not fail
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b)
}

// resultKey is the context key of a batch's reply.
type resultKey struct{}

// result is the reply to Sink: the handler or the poison handler fills it
// before acking the message.
type result struct {
	mu   sync.Mutex
	done bool
	rep  report
	err  error
}

func (r *result) complete(rep report, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.done, r.rep, r.err = true, rep, err
	r.mu.Unlock()
}

func resultOf(ctx context.Context) *result {
	r, _ := ctx.Value(resultKey{}).(*result)
	return r
}

// report is what became of a batch's records.
type report struct {
	Inserted, Updated, Unchanged, Quarantined int
	// Degraded says why the source floods the quarantine, "" if it does not.
	Degraded string
}

func (r *report) count(o store.Outcome) {
	switch o {
	case store.Inserted:
		r.Inserted++
	case store.Updated:
		r.Updated++
	case store.Unchanged:
		r.Unchanged++
	}
}

// Sink stores a batch read from source and commits its cursor in one
// transaction; it returns once both are committed (or it failed). It is a
// supervisor.Sink. A batch stored while the source floods the quarantine
// returns a *supervisor.DegradedError saying so.
//
// A batch handed over is finished even when ctx ends meanwhile: shutting
// down stops the reading, not the batch being stored (its transaction is
// bounded by the store's busy timeout and the retry limit).
func (p *Pipeline) Sink(ctx context.Context, source string, b sdk.Batch) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("the pipeline is closed: the hub is shutting down")
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	defer p.inflight.Done()

	start := time.Now()
	res := &result{}
	id := watermill.NewULID()
	msg := message.NewMessage(id, encodeBatch(source, b))
	middleware.SetCorrelationID(id, msg)
	msg.Metadata.Set("source", source)
	msg.SetContext(context.WithValue(context.WithoutCancel(ctx), resultKey{}, res))
	if err := p.pubsub.Publish(topicBatches, msg); err != nil {
		return fmt.Errorf("hand the batch of %q to the pipeline: %w", source, err)
	}
	res.mu.Lock()
	done, rep, err := res.done, res.rep, res.err
	res.mu.Unlock()
	switch {
	case !done:
		return fmt.Errorf("the batch of %q was not stored: the pipeline stopped first; it is read again from the committed cursor", source)
	case err != nil:
		return err
	}
	p.mu.Lock()
	p.stats.Latency.observe(time.Since(start))
	p.mu.Unlock()
	if rep.Degraded != "" {
		return &supervisor.DegradedError{Reason: rep.Degraded}
	}
	return nil
}

// handleBatch stores one batch message: the pipeline's work.
func (p *Pipeline) handleBatch(msg *message.Message) error {
	ctx := msg.Context()
	source, b, err := decodeBatch(msg.Payload)
	if err != nil {
		return &permanentError{err}
	}
	rep, err := p.storeBatch(ctx, middleware.MessageCorrelationID(msg), source, b)
	if err != nil {
		return err
	}
	resultOf(ctx).complete(rep, nil)
	return nil
}

// storeBatch checks every record of a batch, then in one transaction
// pseudonymises and upserts the good ones, quarantines the others and
// commits the cursor.
func (p *Pipeline) storeBatch(ctx context.Context, correlation, source string, b sdk.Batch) (report, error) {
	recs := make([]record, len(b.Records))
	wait, finish := p.prepareAsync(source, b.Records, recs)
	defer finish()
	var rep report
	err := p.st.Write(ctx, func(tx *store.Tx) error {
		rep = report{}
		ix := identity.NewIndex(p.key, tx)
		for i := range recs {
			wait(i)
			r := &recs[i]
			out, err := p.finish(ctx, tx, ix, source, r)
			if err != nil {
				return fmt.Errorf("store a batch of %q: %w", source, err)
			}
			if out != 0 {
				rep.count(out)
				continue
			}
			if err := p.addQuarantine(ctx, tx, source, r.recordID, r.schemaName(), r.problems, r.raw); err != nil {
				return err
			}
			rep.Quarantined++
		}
		return tx.SetCursor(ctx, source, b.Cursor)
	})
	if err != nil {
		return report{}, err
	}
	rep.Degraded = p.account(source, rep, len(recs))
	for i := range recs {
		p.logQuarantined(ctx, correlation, source, &recs[i])
	}
	level := slog.LevelDebug
	if rep.Quarantined > 0 {
		level = slog.LevelInfo
	}
	p.log.Log(ctx, level, "batch stored", "correlation_id", correlation, "source", source, "records", len(recs),
		"inserted", rep.Inserted, "updated", rep.Updated, "unchanged", rep.Unchanged, "quarantined", rep.Quarantined)
	if rep.Degraded != "" {
		p.log.Warn("connector degraded", "source", source, "reason", rep.Degraded)
	}
	return rep, nil
}

// addQuarantine stores a record that cannot be accepted, sealed.
func (p *Pipeline) addQuarantine(ctx context.Context, tx *store.Tx, source, recordID, schema string, problems []store.QuarantineError, raw []byte) error {
	_, err := tx.AddQuarantine(ctx, store.QuarantineItem{
		Source: source, RecordID: recordID, Schema: schema, Errors: problems,
		Raw: p.seal.Seal(raw, source, recordID),
	})
	return err
}

// account adds a committed batch to the counters and the source's flood
// window, and says whether the source is flooding.
func (p *Pipeline) account(source string, rep report, records int) string {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.windows[source]
	if w == nil {
		w = newWindow(p.flood.Window)
		p.windows[source] = w
	}
	good := records - rep.Quarantined
	// The order inside a batch does not matter: it is judged as a whole.
	for range min(good, p.flood.Window) {
		w.add(now, false)
	}
	for range min(rep.Quarantined, p.flood.Window) {
		w.add(now, true)
	}
	s := p.stats.Sources[source]
	s.Batches++
	s.Records += int64(records)
	s.Inserted += int64(rep.Inserted)
	s.Updated += int64(rep.Updated)
	s.Unchanged += int64(rep.Unchanged)
	s.Quarantined += int64(rep.Quarantined)
	s.Degraded = p.flood.verdict(w, now)
	p.stats.Sources[source] = s
	return s.Degraded
}

// handlePoisoned puts every record of a batch that kept failing in
// quarantine, with the reason, and commits its cursor: nothing is lost and
// the connector goes on. Should even that fail, the batch is not committed
// and Sink says why.
func (p *Pipeline) handlePoisoned(msg *message.Message) error {
	ctx := msg.Context()
	res := resultOf(ctx)
	if err := ctx.Err(); err != nil {
		res.complete(report{}, err)
		return nil
	}
	source, b, err := decodeBatch(msg.Payload)
	if err != nil {
		res.complete(report{}, err)
		return nil
	}
	reason := msg.Metadata.Get(middleware.ReasonForPoisonedKey)
	if len(reason) > 300 {
		reason = reason[:300] + "…"
	}
	correlation := middleware.MessageCorrelationID(msg)
	problem := []store.QuarantineError{{Message: fmt.Sprintf(
		"the whole batch failed to store %d times and was put in quarantine so that the connector could go on (%s): replay it once the cause is fixed",
		p.retry.MaxRetries+1, reason)}}
	var rep report
	err = p.st.Write(ctx, func(tx *store.Tx) error {
		for _, raw := range b.Records {
			var env struct {
				RecordID string `json:"record_id"`
				Schema   string `json:"schema"`
			}
			_ = json.Unmarshal(raw, &env)
			if looksLikeIdentifier(env.RecordID) {
				env.RecordID = ""
			}
			schema := ""
			if s, ok := p.reg.Lookup(env.Schema); ok {
				schema = s.Name
			}
			if err := p.addQuarantine(ctx, tx, source, env.RecordID, schema, problem, raw); err != nil {
				return err
			}
		}
		return tx.SetCursor(ctx, source, b.Cursor)
	})
	if err != nil {
		p.log.Error("a failed batch could not be put in quarantine either: it is not committed and will be read again",
			"correlation_id", correlation, "source", source, "records", len(b.Records), "reason", reason, "error", err)
		res.complete(report{}, fmt.Errorf("storing a batch of %q failed (%s), and so did putting it in quarantine: %w", source, reason, err))
		return nil
	}
	rep.Quarantined = len(b.Records)
	p.mu.Lock()
	p.stats.PoisonedBatches++
	p.mu.Unlock()
	rep.Degraded = p.account(source, rep, len(b.Records))
	p.log.Error("a batch kept failing and was put in quarantine whole", "correlation_id", correlation,
		"source", source, "records", len(b.Records), "reason", reason)
	res.complete(rep, nil)
	return nil
}

// failOnDiskFull keeps a batch that still fails for a full disk, once
// retried, out of the poison queue: the fault is the disk's, not the
// records', and quarantining them would need the disk too. Sink fails
// instead, nothing of the batch is committed, and the connector is read
// again from the committed cursor once space returns.
func (p *Pipeline) failOnDiskFull(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && store.IsDiskFull(err) {
			resultOf(msg.Context()).complete(report{}, fmt.Errorf("the batch is not stored; it is read again from the committed cursor once there is space: %w", err))
			return nil, nil
		}
		return out, err
	}
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// errPanicked replaces a recovered panic, whose message may quote data.
var errPanicked = errors.New("the pipeline panicked on this batch (a bug in snodo: report it with the hub's log)")

// shouldRetry retries a failed batch unless retrying cannot help.
func (p *Pipeline) shouldRetry(params middleware.RetryParams) bool {
	var perm *permanentError
	if errors.As(params.Err, &perm) || errors.Is(params.Err, errPanicked) ||
		errors.Is(params.Err, context.Canceled) || errors.Is(params.Err, context.DeadlineExceeded) {
		return false
	}
	p.log.Warn("storing a batch failed; retrying", "attempt", params.RetryNum+1, "wait", params.Delay, "error", params.Err)
	return true
}

// safePanics turns a recovered panic into errPanicked, logging the stack
// but not the panic's value.
func (p *Pipeline) safePanics(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		var rp middleware.RecoveredPanicError
		if errors.As(err, &rp) {
			p.log.Error("the pipeline panicked (a bug in snodo: report it with this stack)",
				"correlation_id", middleware.MessageCorrelationID(msg), "panic_type", fmt.Sprintf("%T", rp.V), "stack", rp.Stacktrace)
			return out, errPanicked
		}
		return out, err
	}
}

// neverNack makes the poison handler ack whatever happens: GoChannel would
// deliver a nacked message again forever. A failure goes back to Sink.
func (p *Pipeline) neverNack(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil {
			resultOf(msg.Context()).complete(report{}, err)
		}
		return out, nil
	}
}
