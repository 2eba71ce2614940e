// Package host starts connector plugins and calls them: the hub's side of
// the connector protocol. A connector is an executable pinned by its
// SHA-256, started with hashicorp/go-plugin over gRPC with automatic mutual
// TLS, without the hub's environment, and spoken to through the SDK's types
// — protobuf stays inside this package.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/snodo-hub/snodo/plugins/internal/wire"
	connectorv1 "github.com/snodo-hub/snodo/plugins/proto/snodo/connector/v1"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// DefaultStartTimeout bounds how long a connector may take to start and
// complete the handshake.
const DefaultStartTimeout = 10 * time.Second

// Config says which connector to start and how.
type Config struct {
	// Name names the instance in logs and errors.
	Name string
	// Path is the executable: a binary, or a script with a shebang.
	Path string
	// SHA256 is the pinned checksum of Path, 64 hex digits. It is required.
	SHA256 string
	// StartTimeout bounds the start and handshake (DefaultStartTimeout if 0).
	StartTimeout time.Duration
	// Env is the whole environment of the process: the hub's own is never
	// passed on. Nil gives DefaultEnv.
	Env []string
	// Dir is the working directory ("" for the hub's).
	Dir string
	// Logger receives the connector's stderr and go-plugin's own messages.
	// Nil logs to stderr at info level.
	Logger hclog.Logger
	// MaxMessage caps the size of one message from the connector (a batch
	// of records, an answer): DefaultMaxMessage if 0. go-plugin's own
	// limit is 2 GiB, so a connector could otherwise make the hub hold a
	// batch that size in memory.
	MaxMessage int
}

// DefaultMaxMessage is the largest message a connector may send: far above
// any reasonable batch (500 records of a few KiB), far below the hub's
// memory.
const DefaultMaxMessage = 64 << 20

// messageTooLarge is in gRPC's refusal of a message over the limit. A
// restart would bring the same batch again, so Read reports it as fatal:
// the supervisor stops the instance and says why.
const messageTooLarge = "larger than max"

// DefaultEnv is the whole environment a connector gets unless told
// otherwise: PATH alone, so that a script's "#!/usr/bin/env node" finds its
// interpreter. Nothing else of the hub's environment — credentials, proxies,
// tokens — is passed on.
func DefaultEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

// Cleanup ends every connector process still running; call it when the
// program exits.
func Cleanup() { plugin.CleanupClients() }

// ChecksumError refuses a binary that does not match its pin.
type ChecksumError struct {
	Name, Path string
	Want, Got  string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("refusing to start connector %q: %s has SHA-256 %s, but the configuration pins %s; if the binary was replaced on purpose, put the new sum in snodo.yaml (sha256sum %s)", e.Name, e.Path, e.Got, e.Want, e.Path)
}

// Sum computes the SHA-256 of a file, as hex.
func Sum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Connector is a running connector process.
type Connector struct {
	name       string
	maxMessage int
	client     *plugin.Client
	rpc        connectorv1.ConnectorClient
	manifest   sdk.Manifest
}

// Launch checks the executable against its pin, starts it, completes the
// handshake and reads its manifest. The process runs until Close.
func Launch(ctx context.Context, cfg Config) (*Connector, error) {
	if cfg.Name == "" {
		cfg.Name = cfg.Path
	}
	want := strings.ToLower(strings.TrimSpace(cfg.SHA256))
	if len(want) != 64 {
		return nil, fmt.Errorf("connector %q: sha256 must be the 64 hex digits of the executable's SHA-256 (sha256sum %s)", cfg.Name, cfg.Path)
	}
	sumBytes, err := hex.DecodeString(want)
	if err != nil {
		return nil, fmt.Errorf("connector %q: sha256 %q is not hex", cfg.Name, cfg.SHA256)
	}
	got, err := Sum(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", cfg.Name, err)
	}
	if got != want {
		return nil, &ChecksumError{Name: cfg.Name, Path: cfg.Path, Want: want, Got: got}
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "connector." + cfg.Name, Output: os.Stderr, Level: hclog.Info})
	}
	cmd := exec.Command(cfg.Path)
	cmd.Env = append([]string{}, cfg.Env...)
	if cfg.Env == nil {
		cmd.Env = DefaultEnv()
	}
	cmd.Dir = cfg.Dir
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sumBytes, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     cfg.StartTimeout,
		Managed:          true,
		Logger:           logger,
		// After go-plugin's own (2 GiB) call options, so this one wins.
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxMessage))},
	})
	c := &Connector{name: cfg.Name, client: client, maxMessage: cfg.MaxMessage}
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, startError(cfg, err)
	}
	raw, err := rpcClient.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("connector %q: %w", cfg.Name, err)
	}
	var ok bool
	if c.rpc, ok = raw.(connectorv1.ConnectorClient); !ok {
		client.Kill()
		return nil, fmt.Errorf("connector %q: unexpected plugin type %T", cfg.Name, raw)
	}
	res, err := c.rpc.Describe(ctx, &connectorv1.DescribeRequest{})
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("connector %q: describe: %w", cfg.Name, fromStatus(err))
	}
	c.manifest = manifestFromWire(res.GetManifest())
	return c, nil
}

// ErrIncompatible marks a connector that speaks another version of the
// connector protocol: restarting it cannot help.
var ErrIncompatible = errors.New("incompatible connector protocol")

// startError explains why a connector did not start.
func startError(cfg Config, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(strings.ToLower(msg), "incompatible api version"): // go-plugin's wording
		return fmt.Errorf("connector %q speaks another version of the connector protocol (%s); this snodo speaks version %d: use a connector built for protocol %d: %w", cfg.Name, msg, wire.ProtocolVersion, wire.ProtocolVersion, ErrIncompatible)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("connector %q did not complete the handshake within %s: is %s a Snodo connector? (run it with SNODO_CONNECTOR_PLUGIN unset to see what it says)", cfg.Name, cfg.StartTimeout, cfg.Path)
	case strings.Contains(msg, "checksums did not match"):
		return fmt.Errorf("refusing to start connector %q: %s changed between the checksum and the start", cfg.Name, cfg.Path)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		// go-plugin quotes the line the connector printed, which could be
		// anything it read (a record): it must not reach the hub's log.
		return fmt.Errorf("connector %q wrote to its standard output before the handshake: a connector must write its logs to standard error (is %s a Snodo connector?)", cfg.Name, cfg.Path)
	}
	return fmt.Errorf("connector %q: start %s: %w", cfg.Name, cfg.Path, err)
}

// Manifest is the connector's manifest, read at launch.
func (c *Connector) Manifest() sdk.Manifest { return c.manifest }

// Exited reports whether the process has ended.
func (c *Connector) Exited() bool { return c.client.Exited() }

// Close stops the process: gracefully, then by force.
func (c *Connector) Close() { c.client.Kill() }

// Kill ends the process at once with SIGKILL, as a crash would (for
// supervisors that found it hung, and for tests).
func (c *Connector) Kill() error {
	pid := c.Pid()
	if pid <= 0 {
		return errors.New("connector process not running")
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return proc.Kill()
}

// Pid is the process id, or 0.
func (c *Connector) Pid() int {
	if p := c.client.ReattachConfig(); p != nil {
		return p.Pid
	}
	return 0
}

// Check asks whether the connector can reach its system. A nil error means
// yes; otherwise the error is an *sdk.Error with its class.
func (c *Connector) Check(ctx context.Context, settings []byte, dir string) error {
	res, err := c.rpc.Check(ctx, &connectorv1.CheckRequest{Settings: settings, SettingsDir: dir})
	if err != nil {
		return fromStatus(err)
	}
	p := res.GetProblem()
	if p == nil {
		return nil
	}
	e := &sdk.Error{Pointer: p.GetPointer(), Message: p.GetMessage()}
	switch p.GetClass() {
	case connectorv1.Problem_CLASS_CONFIG:
		e.Class = sdk.ClassConfig
	case connectorv1.Problem_CLASS_TRANSIENT:
		e.Class = sdk.ClassTransient
	default:
		e.Class = sdk.ClassFatal
	}
	return e
}

// ReadRequest asks a connector for the records after a cursor.
type ReadRequest struct {
	Settings    []byte
	SettingsDir string
	Cursor      []byte
	MaxBatch    int
}

// Read streams batches to fn until the connector has nothing more (nil),
// fn returns an error (that error), the context ends, or the connector
// fails (an *sdk.Error).
func (c *Connector) Read(ctx context.Context, req ReadRequest, fn func(sdk.Batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Read(ctx, &connectorv1.ReadRequest{
		Settings: req.Settings, SettingsDir: req.SettingsDir, Cursor: req.Cursor, MaxBatch: uint32(max(req.MaxBatch, 0)),
	})
	if err != nil {
		return fromStatus(err)
	}
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), messageTooLarge) {
				return &sdk.Error{Class: sdk.ClassFatal, Err: err, Message: fmt.Sprintf(
					"connector %q sent a batch over the hub's limit of %d MiB: lower its batch size (the hub asks for at most %d records)",
					c.name, c.maxMessage>>20, req.MaxBatch)}
			}
			return fromStatus(err)
		}
		if err := fn(sdk.Batch{Records: b.GetRecords(), Cursor: b.GetCursor()}); err != nil {
			return err
		}
	}
}

// WriteRequest delivers one record.
type WriteRequest struct {
	Settings    []byte
	SettingsDir string
	Schema      string
	RecordID    string
	Record      []byte
}

// Write delivers one record and returns the target system's id for it.
func (c *Connector) Write(ctx context.Context, req WriteRequest) (string, error) {
	res, err := c.rpc.Write(ctx, &connectorv1.WriteRequest{
		Settings: req.Settings, SettingsDir: req.SettingsDir, Schema: req.Schema, RecordId: req.RecordID, Record: req.Record,
	})
	if err != nil {
		return "", fromStatus(err)
	}
	return res.GetTargetId(), nil
}

// fromStatus turns a gRPC status into an *sdk.Error classed by its code.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return &sdk.Error{Class: sdk.ClassTransient, Message: err.Error(), Err: err}
	}
	e := &sdk.Error{Message: st.Message(), Err: err}
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition:
		e.Class = sdk.ClassConfig
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Canceled:
		e.Class = sdk.ClassTransient
	default:
		e.Class = sdk.ClassFatal
	}
	return e
}

func manifestFromWire(m *connectorv1.Manifest) sdk.Manifest {
	kinds := map[connectorv1.SystemKind]sdk.SystemKind{
		connectorv1.SystemKind_SYSTEM_KIND_MUNICIPAL:    sdk.KindMunicipal,
		connectorv1.SystemKind_SYSTEM_KIND_HEALTH:       sdk.KindHealth,
		connectorv1.SystemKind_SYSTEM_KIND_EMPLOYMENT:   sdk.KindEmployment,
		connectorv1.SystemKind_SYSTEM_KIND_THIRD_SECTOR: sdk.KindThirdSector,
		connectorv1.SystemKind_SYSTEM_KIND_OTHER:        sdk.KindOther,
	}
	return sdk.Manifest{
		Name: m.GetName(), Version: m.GetVersion(), Kind: kinds[m.GetKind()], Description: m.GetDescription(),
		Produces: m.GetProduces(), Accepts: m.GetAccepts(), SettingsSchema: m.GetSettingsSchema(),
	}
}

// DescribeProblem says what a connector's failed Check means for the
// admin: the problem's class, where in the settings, the message, and what
// to do.
func DescribeProblem(err error) string {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return "fatal problem: " + err.Error()
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	at := ""
	if e.Pointer != "" {
		at = " at " + e.Pointer
	}
	var what string
	switch e.Class {
	case sdk.ClassConfig:
		what = "fix the instance's settings"
	case sdk.ClassTransient:
		what = "the system is down or busy; the hub retries with backoff"
	default:
		what = "the connector cannot go on"
	}
	return fmt.Sprintf("%s problem%s: %s (%s)", e.Class, at, msg, what)
}
