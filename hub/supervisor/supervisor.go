package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// The defaults of Config's durations.
const (
	DefaultIdlePause     = time.Second
	DefaultStallTimeout  = 2 * time.Minute
	DefaultCheckInterval = time.Minute
)

const (
	// maxMessage bounds the error messages kept in Status: they come from
	// connectors and are shown as given, but not at any length.
	maxMessage = 500
	// exitPoll is how often an idle supervisor looks whether the process
	// is still there (go-plugin can only be asked).
	exitPoll = 500 * time.Millisecond
	// exitGrace is how long the supervisor waits, after a call failed, for
	// go-plugin to notice that the process has gone: a crash breaks the
	// connection and ends the process at about the same moment.
	exitGrace = 250 * time.Millisecond
)

// Cursors reads committed cursors; *store.Store implements it.
type Cursors interface {
	// Cursor returns the last committed cursor of source; ok is false when
	// there is none yet.
	Cursor(ctx context.Context, source string) (cursor []byte, ok bool, err error)
}

// Sink stores one batch read from source and commits its cursor, in one
// transaction: both are stored or neither is. The supervisor calls it with
// a context that does not end when Run's does, so that a batch being
// stored when the hub shuts down is finished.
type Sink func(ctx context.Context, source string, b sdk.Batch) error

// DegradedError is what a Sink returns when it stored its batch — records
// and cursor committed — but the instance needs the admin's attention: too
// many of its records went to quarantine, say. The supervisor counts the
// batch as stored, shows the instance as Degraded with Reason and keeps
// reading; the next batch the Sink stores without one puts it back to
// Running.
type DegradedError struct {
	// Reason says what is wrong and what to do, for the admin.
	Reason string
}

func (e *DegradedError) Error() string { return e.Reason }

// Clock tells the time and waits. Tests may give their own; nil is the
// real clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config is one connector instance.
type Config struct {
	// Name is the instance's name: the source of its records and the key
	// of its cursor.
	Name string
	// Host says which executable to start and how (its Name defaults to
	// Name).
	Host host.Config
	// Settings are the instance's settings as JSON; SettingsDir is the
	// folder relative paths in them are relative to.
	Settings    []byte
	SettingsDir string
	// ReadInterval is the wait between two reads. 0 reads continuously:
	// again at once after a read that returned records, after IdlePause
	// after one that returned none.
	ReadInterval time.Duration
	// IdlePause is the pause after an empty read when ReadInterval is 0
	// (DefaultIdlePause if 0).
	IdlePause time.Duration
	// MaxBatch is the largest batch asked for (0: the connector chooses).
	MaxBatch int
	// ReadAhead lets the connector send its next batch while the Sink
	// stores the current one, so that the connector and the hub work at
	// the same time (one batch ahead). Delivery is the same: a batch read
	// ahead but not stored when the read stops is read again from the
	// committed cursor.
	ReadAhead bool
	// StallTimeout is how long a read may go without a batch, or a Check
	// without an answer, before the connector counts as hung: its process
	// is killed and restarted (DefaultStallTimeout if 0). The time the
	// Sink takes does not count.
	StallTimeout time.Duration
	// CheckInterval is how often Check is called while the instance waits
	// between reads (DefaultCheckInterval if 0).
	CheckInterval time.Duration
	// Backoff is the wait after failures.
	Backoff Backoff
	// Clock drives the supervisor's waits (nil: the real clock).
	Clock Clock
	// OnChange, if set, is called with a snapshot at every change of state
	// or reason, from the goroutine running Run or ReadOnce: it must not
	// block for long.
	OnChange func(Status)
}

// State is where a connector instance is in its life.
type State int

// The states; see the package documentation for the transitions.
const (
	// Stopped: not running — not started yet, shut down, or stopped by a
	// problem the admin must fix (Status.Reason says which).
	Stopped State = iota
	// Starting: the process is being started and checked.
	Starting
	// Running: the process is up and its calls succeed.
	Running
	// Degraded: the process is up but a call failed with a transient
	// error, and the supervisor retries after the backoff; or the Sink
	// stores its batches but returned a *DegradedError (too many records
	// going to quarantine), and reading goes on.
	Degraded
	// Recovering: the process crashed, hung or did not start; the
	// supervisor waits for the backoff before starting it again.
	Recovering
)

func (s State) String() string {
	switch s {
	case Stopped:
		return "stopped"
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Degraded:
		return "degraded"
	case Recovering:
		return "recovering"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a snapshot of a connector instance.
type Status struct {
	Name  string
	State State
	// Reason says why the instance is in State, for the admin.
	Reason string
	// Since is when the instance entered State.
	Since time.Time
	// Pid is the connector's process id, 0 when there is no process.
	Pid int
	// Wait is the backoff being waited (Degraded, Recovering).
	Wait time.Duration
	// Records and Batches count what was stored; Errors counts failures of
	// every kind; Restarts counts the starts after the first.
	Records, Batches, Errors, Restarts int64
	// LastSuccess is when a batch was last stored or a read last ended
	// well.
	LastSuccess time.Time
	// LastError is the message of the last failure, as the connector or
	// the host gave it, cut to 500 bytes.
	LastError string
}

// Supervisor runs one connector instance. Its methods are safe for
// concurrent use, except that Run and ReadOnce must not run at the same
// time (the second returns an error).
type Supervisor struct {
	cfg     Config
	cursors Cursors
	sink    Sink
	clock   Clock
	busy    atomic.Bool

	mu     sync.Mutex
	status Status
	// live is the process once checked, for Write from other goroutines;
	// nil while none is up.
	live *host.Connector

	// Owned by the goroutine in Run or ReadOnce.
	conn         *host.Connector
	launches     int
	failures     int
	healthySince time.Time
	lastCheck    time.Time
	// flood is the reason of the Sink's last *DegradedError, until a batch
	// is stored without one.
	flood string
}

// New makes the supervisor of one connector instance; it starts nothing.
func New(cfg Config, cursors Cursors, sink Sink) (*Supervisor, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("supervisor: the connector instance has no name")
	case cfg.Host.Path == "":
		return nil, fmt.Errorf("supervisor %q: the connector's executable (Host.Path) is not set", cfg.Name)
	case cursors == nil || sink == nil:
		return nil, fmt.Errorf("supervisor %q: give both the cursors and the sink", cfg.Name)
	case cfg.ReadInterval < 0 || cfg.IdlePause < 0 || cfg.StallTimeout < 0 || cfg.CheckInterval < 0 || cfg.MaxBatch < 0:
		return nil, fmt.Errorf("supervisor %q: intervals, timeouts and the batch size cannot be negative", cfg.Name)
	}
	if cfg.Host.Name == "" {
		cfg.Host.Name = cfg.Name
	}
	if cfg.IdlePause == 0 {
		cfg.IdlePause = DefaultIdlePause
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	s := &Supervisor{cfg: cfg, cursors: cursors, sink: sink, clock: cfg.Clock}
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.status = Status{Name: cfg.Name, State: Stopped, Reason: "not started", Since: s.clock.Now()}
	return s, nil
}

// Status returns a snapshot of the instance.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// State returns the instance's state.
func (s *Supervisor) State() State { return s.Status().State }

// Run keeps the instance running until ctx ends, then stops it gracefully
// and returns nil. It returns an error when the instance stops for a reason
// a restart cannot fix: a binary that does not match its pin or is missing,
// settings the connector rejects, a fatal error from the connector.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.busy.CompareAndSwap(false, true) {
		return fmt.Errorf("supervisor %q is already running", s.cfg.Name)
	}
	defer s.busy.Store(false)
	defer s.closeConn()
	s.launches, s.failures, s.flood = 0, 0, ""
	for ctx.Err() == nil {
		err := s.cycle(ctx)
		if err == nil || ctx.Err() != nil {
			continue
		}
		if err := s.recover(ctx, err); err != nil {
			return err
		}
	}
	s.closeConn()
	s.set(Stopped, "stopped: asked to stop", 0)
	return nil
}

// ReadOnce starts the connector, reads everything after the committed
// cursor into the sink, and stops it. It does not restart or retry: it
// returns the first failure.
func (s *Supervisor) ReadOnce(ctx context.Context) error {
	if !s.busy.CompareAndSwap(false, true) {
		return fmt.Errorf("supervisor %q is already running", s.cfg.Name)
	}
	defer s.busy.Store(false)
	defer s.closeConn()
	s.launches, s.flood = 0, ""
	err := s.start(ctx)
	if err == nil {
		_, err = s.read(ctx)
	}
	s.closeConn()
	switch {
	case err == nil && s.flood != "":
		s.set(Stopped, "read once: done, but "+s.flood, 0)
		return nil
	case err == nil:
		s.set(Stopped, "read once: done", 0)
		return nil
	case ctx.Err() != nil:
		s.set(Stopped, "read once: interrupted", 0)
		return ctx.Err()
	}
	s.countError(err)
	_, reason := classify(err, s.cfg)
	s.set(Stopped, reason, 0)
	return &stopError{name: s.cfg.Name, reason: reason, err: err}
}

// cycle makes sure a process runs, reads from it and waits for the next
// read.
func (s *Supervisor) cycle(ctx context.Context) error {
	if s.conn == nil {
		if err := s.start(ctx); err != nil {
			return err
		}
	}
	n, err := s.read(ctx)
	if err != nil {
		return err
	}
	wait := s.cfg.ReadInterval
	if wait == 0 {
		if n > 0 {
			return nil
		}
		wait = s.cfg.IdlePause
	}
	return s.idle(ctx, wait)
}

// start launches the process and checks it.
func (s *Supervisor) start(ctx context.Context) error {
	reason := "starting the connector process"
	if s.launches > 0 {
		s.mu.Lock()
		s.status.Restarts++
		n := s.status.Restarts
		s.mu.Unlock()
		reason = fmt.Sprintf("restarting the connector process (restart %d)", n)
	}
	s.launches++
	s.set(Starting, reason, 0)
	conn, err := host.Launch(ctx, s.cfg.Host)
	if err != nil {
		return &startError{err}
	}
	s.conn = conn
	s.mu.Lock()
	s.status.Pid = conn.Pid()
	s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.live = conn
	s.mu.Unlock()
	s.running(fmt.Sprintf("running, pid %d", conn.Pid()))
	return nil
}

// ErrNotRunning is Write's error while no connector process is up
// (starting, recovering, stopped): try again later.
var ErrNotRunning = errors.New("the connector is not running")

// Write delivers one record through the instance's running process (see
// sdk.Writer); it may be called from any goroutine while Run runs. A
// process restarted meanwhile fails the call: deliveries are retried.
func (s *Supervisor) Write(ctx context.Context, schema, recordID string, record []byte) (string, error) {
	s.mu.Lock()
	conn := s.live
	s.mu.Unlock()
	if conn == nil {
		return "", fmt.Errorf("connector %q: %w", s.cfg.Name, ErrNotRunning)
	}
	return conn.Write(ctx, host.WriteRequest{Settings: s.cfg.Settings, SettingsDir: s.cfg.SettingsDir,
		Schema: schema, RecordID: recordID, Record: record})
}

// check calls Check, bounded by the stall timeout.
func (s *Supervisor) check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.StallTimeout)
	defer cancel()
	err := s.conn.Check(cctx, s.cfg.Settings, s.cfg.SettingsDir)
	s.lastCheck = s.clock.Now()
	var answer *sdk.Error
	switch {
	case err == nil || ctx.Err() != nil:
		return err
	case errors.As(err, &answer) && answer.Err == nil:
		return err // the connector answered with a problem: it is there
	case s.exited():
		return errExited
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return &hangError{what: "Check did not answer", after: s.cfg.StallTimeout}
	}
	return err
}

// read reads from the committed cursor to the end, storing every batch,
// and says how many batches it stored.
func (s *Supervisor) read(ctx context.Context) (int, error) {
	cursor, _, err := s.cursors.Cursor(ctx, s.cfg.Name)
	if err != nil {
		return 0, &sinkError{fmt.Errorf("read the committed cursor: %w", err)}
	}
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan sdk.Batch)
	acks := make(chan error, 1)
	done := make(chan error, 1)
	conn := s.conn
	go func() {
		req := host.ReadRequest{Settings: s.cfg.Settings, SettingsDir: s.cfg.SettingsDir, Cursor: cursor, MaxBatch: s.cfg.MaxBatch}
		done <- conn.Read(readCtx, req, func(b sdk.Batch) error {
			select {
			case batches <- b:
			case <-readCtx.Done():
				return readCtx.Err()
			}
			if s.cfg.ReadAhead {
				// The loop has the batch: receive the next one meanwhile.
				// A failure of the Sink cancels readCtx.
				return nil
			}
			return <-acks
		})
	}()
	// finish cancels the read and waits for its goroutine.
	finish := func(err error) error {
		cancel()
		<-done
		return err
	}
	n := 0
	for {
		select {
		case b := <-batches:
			err := s.sink(context.WithoutCancel(ctx), s.cfg.Name, b)
			var degraded *DegradedError
			if errors.As(err, &degraded) {
				err = nil // stored: keep reading
			}
			if !s.cfg.ReadAhead {
				acks <- err
			}
			if err != nil {
				return n, finish(&sinkError{err})
			}
			n++
			s.stored(len(b.Records))
			s.sinkSays(degraded)
			if ctx.Err() != nil {
				return n, finish(ctx.Err())
			}
		case err := <-done:
			switch {
			case err == nil:
				s.succeeded()
			case ctx.Err() != nil:
				err = ctx.Err()
			case sdk.ClassOf(err) == sdk.ClassConfig:
				// The connector answered: it is there.
			case s.exited():
				err = errExited
			}
			return n, err
		case <-s.clock.After(s.cfg.StallTimeout):
			_ = conn.Kill()
			return n, finish(&hangError{what: "no batch came", after: s.cfg.StallTimeout})
		case <-ctx.Done():
			return n, finish(ctx.Err())
		}
	}
}

// idle waits d between reads, noticing the process' exit and calling Check
// every CheckInterval.
func (s *Supervisor) idle(ctx context.Context, d time.Duration) error {
	end := s.clock.After(d)
	for {
		if s.conn.Exited() {
			return errExited
		}
		if s.clock.Now().Sub(s.lastCheck) >= s.cfg.CheckInterval {
			if err := s.check(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			return nil
		case <-s.clock.After(min(s.cfg.CheckInterval, exitPoll)):
		}
	}
}

// recover deals with a failure: it stops the instance (and returns why) or
// waits for the backoff, after which the next cycle retries or restarts.
func (s *Supervisor) recover(ctx context.Context, err error) error {
	s.countError(err)
	act, reason := classify(err, s.cfg)
	if act == stop {
		s.closeConn()
		s.set(Stopped, reason, 0)
		return &stopError{name: s.cfg.Name, reason: reason, err: err}
	}
	var healthy time.Duration
	if s.State() == Running {
		healthy = s.clock.Now().Sub(s.healthySince)
	}
	var wait time.Duration
	wait, s.failures = s.cfg.Backoff.Next(s.failures, healthy)
	if act == restart {
		if s.conn != nil {
			_ = s.conn.Kill()
		}
		s.closeConn()
		s.set(Recovering, fmt.Sprintf("%s; restarting in %s", reason, wait), wait)
	} else {
		s.set(Degraded, fmt.Sprintf("%s; retrying in %s", reason, wait), wait)
	}
	select {
	case <-ctx.Done():
	case <-s.clock.After(wait):
	}
	return nil
}

// exited says whether the process has gone, giving go-plugin a moment to
// notice.
func (s *Supervisor) exited() bool {
	deadline := time.Now().Add(exitGrace)
	for !s.conn.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func (s *Supervisor) closeConn() {
	if s.conn == nil {
		return
	}
	s.mu.Lock()
	s.live = nil
	s.mu.Unlock()
	s.conn.Close()
	s.conn = nil
	s.mu.Lock()
	s.status.Pid = 0
	s.mu.Unlock()
}

// set moves to state with a reason and tells OnChange.
func (s *Supervisor) set(state State, reason string, wait time.Duration) {
	s.mu.Lock()
	if s.status.State != state {
		s.status.Since = s.clock.Now()
	}
	s.status.State, s.status.Reason, s.status.Wait = state, reason, wait
	snap := s.status
	s.mu.Unlock()
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(snap)
	}
}

// running moves to Running unless already there; a healthy period starts.
// While the Sink reports the instance degraded, it stays Degraded.
func (s *Supervisor) running(reason string) {
	if s.flood != "" {
		if st := s.Status(); st.State != Degraded || st.Reason != s.flood {
			s.set(Degraded, s.flood, 0)
		}
		return
	}
	if s.State() == Running {
		return
	}
	s.healthySince = s.clock.Now()
	s.set(Running, reason, 0)
}

func (s *Supervisor) stored(records int) {
	s.mu.Lock()
	s.status.Records += int64(records)
	s.status.Batches++
	s.status.LastSuccess = s.clock.Now()
	s.mu.Unlock()
}

// sinkSays follows what the Sink said of a stored batch: degraded (with
// why), or not, which ends an earlier degradation.
func (s *Supervisor) sinkSays(degraded *DegradedError) {
	switch {
	case degraded != nil:
		s.flood = truncate(degraded.Reason)
		s.running("")
	case s.flood != "":
		s.flood = ""
		s.running("running: the sink stores this connector's batches normally again")
	}
}

// succeeded records a read that ended well.
func (s *Supervisor) succeeded() {
	s.mu.Lock()
	s.status.LastSuccess = s.clock.Now()
	s.mu.Unlock()
	s.running("running: a read succeeded")
}

func (s *Supervisor) countError(err error) {
	s.mu.Lock()
	s.status.Errors++
	s.status.LastError = truncate(err.Error())
	s.mu.Unlock()
}

// What the supervisor does about a failure.
type action int

const (
	retry   action = iota // Degraded: call the same process again after the backoff
	restart               // Recovering: start a new process after the backoff
	stop                  // Stopped: only the admin can fix it
)

// classify decides what to do about err and says why, for the admin.
func classify(err error, cfg Config) (action, string) {
	var (
		hang *hangError
		se   *startError
		sink *sinkError
		ce   *host.ChecksumError
		e    *sdk.Error
	)
	switch {
	case errors.Is(err, errExited):
		return restart, "the connector process exited"
	case errors.As(err, &hang):
		return restart, truncate(hang.Error()) + ": killed the hung connector process"
	case errors.As(err, &ce):
		return stop, truncate(ce.Error())
	case errors.Is(err, host.ErrIncompatible):
		return stop, truncate(err.Error())
	case errors.As(err, &se) && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)):
		return stop, fmt.Sprintf("cannot start %s: %s; check the plugin path in snodo.yaml and that the file is executable", cfg.Host.Path, truncate(se.err.Error()))
	case errors.As(err, &se):
		return restart, "the connector did not start: " + truncate(se.err.Error())
	case errors.As(err, &sink):
		return retry, "storing what the connector read failed: " + truncate(sink.err.Error())
	case errors.As(err, &e) && e.Class == sdk.ClassTransient:
		return retry, "the connector reports a transient problem: " + problem(e)
	case errors.As(err, &e) && e.Class == sdk.ClassConfig:
		return stop, "the connector rejects its settings: " + problem(e) + "; fix the settings and start the instance again"
	case errors.As(err, &e):
		return stop, "the connector reports a fatal problem: " + problem(e) + "; see the connector's log, then start the instance again"
	}
	return stop, "the connector reports a fatal problem: " + truncate(err.Error()) + "; see the connector's log, then start the instance again"
}

// problem is a connector's message for the admin, without its class.
func problem(e *sdk.Error) string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Pointer != "" {
		msg = e.Pointer + ": " + msg
	}
	return truncate(msg)
}

// errExited is a process that went away during a call or while idle.
var errExited = errors.New("the connector process exited")

// hangError is a connector that stopped answering.
type hangError struct {
	what  string
	after time.Duration
}

func (e *hangError) Error() string { return fmt.Sprintf("%s within %s", e.what, e.after) }

// startError is a process that did not start.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// sinkError is a batch the hub could not store (or a cursor it could not
// read): the connector is not at fault, and reading is retried.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// stopError is what Run and ReadOnce return when the instance stops.
type stopError struct {
	name, reason string
	err          error
}

func (e *stopError) Error() string {
	return fmt.Sprintf("connector instance %q stopped: %s", e.name, e.reason)
}
func (e *stopError) Unwrap() error { return e.err }

// truncate cuts msg to maxMessage bytes, on a character boundary.
func truncate(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
