package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/snodo-hub/snodo/plugins/internal/wire"
	connectorv1 "github.com/snodo-hub/snodo/plugins/proto/snodo/connector/v1"
)

// Serve runs the connector as a Snodo plugin. It returns only if the
// connector is misdescribed (then it prints why on stderr and exits 1) or
// when the hub is done with it.
func Serve(c Connector) {
	srv, err := newServer(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "snodo connector: %v\n", err)
		os.Exit(1)
	}
	go exitWithParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(srv),
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

// exitWithParent ends the connector once the process that started it is
// gone. A hub stopped gracefully stops its connectors, but one killed
// (SIGKILL, a crash, the OOM killer) cannot, and an orphaned connector would
// go on holding its files and its source system's connections. (On Unix an
// orphan gets a new parent; on Windows this never fires.)
func exitWithParent(parent int, every time.Duration) {
	if parent <= 1 {
		return // started by init, or the parent is unknown
	}
	for range time.Tick(every) {
		if os.Getppid() != parent {
			fmt.Fprintln(os.Stderr, "snodo connector: the hub that started this connector is gone: exiting")
			os.Exit(0)
		}
	}
}

// server adapts a Connector to the wire protocol: the one seam between the
// SDK's types and the generated protobuf types, which stay out of the SDK's
// public API.
type server struct {
	connectorv1.UnimplementedConnectorServer
	c        Connector
	manifest Manifest
	settings *jsonschema.Schema
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// CheckManifest checks a connector's manifest and its settings schema, as
// Serve does before the handshake.
func CheckManifest(c Connector) error {
	_, err := newServer(c)
	return err
}

// newServer checks the connector's manifest and compiles its settings
// schema.
func newServer(c Connector) (*server, error) {
	m := c.Manifest()
	var problems []string
	if !namePattern.MatchString(m.Name) {
		problems = append(problems, fmt.Sprintf("name %q: use 2-63 lower-case letters, digits and hyphens, starting with a letter", m.Name))
	}
	if m.Version == "" {
		problems = append(problems, "version is empty: give the connector's semantic version")
	}
	switch m.Kind {
	case KindMunicipal, KindHealth, KindEmployment, KindThirdSector, KindOther:
	default:
		problems = append(problems, fmt.Sprintf("kind %q: use one of municipal, health, employment, third-sector, other", m.Kind))
	}
	if len(m.Produces) == 0 && len(m.Accepts) == 0 {
		problems = append(problems, "produces and accepts are both empty: name the $ids of the schemas the connector reads or writes")
	}
	schema, err := compileSettingsSchema(m.SettingsSchema)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("manifest of connector %q: %s", m.Name, strings.Join(problems, "; "))
	}
	return &server{c: c, manifest: m, settings: schema}, nil
}

const settingsSchemaURL = "snodo:connector-settings.schema.json"

func compileSettingsSchema(raw []byte) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("settings schema is empty: give a JSON Schema of the settings (at least {\"type\": \"object\"})")
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("settings schema refers to %s: it must be self-contained", s)
	}
	if err := c.AddResource(settingsSchemaURL, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	s, err := c.Compile(settingsSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	return s, nil
}

// checkSettings validates settings against the connector's settings schema
// and returns a ClassConfig *Error naming every problem.
func (s *server) checkSettings(raw []byte, dir string) (Settings, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Settings{}, ConfigError("", "settings are not valid JSON: %v", err)
	}
	err := s.settings.Validate(doc)
	if err == nil {
		return Settings{raw: raw, dir: dir}, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Settings{}, ConfigError("", "settings: %v", err)
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(leaves, func(i, j int) bool { return leaves[i].InstanceLocation < leaves[j].InstanceLocation })
	msgs := make([]string, len(leaves))
	for i, l := range leaves {
		p := l.InstanceLocation
		if p == "" {
			p = "/"
		}
		msgs[i] = p + ": " + l.Message
	}
	return Settings{}, &Error{Class: ClassConfig, Pointer: leaves[0].InstanceLocation, Message: "settings do not follow the connector's settings schema: " + strings.Join(msgs, "; ")}
}

// Describe implements the wire protocol.
func (s *server) Describe(context.Context, *connectorv1.DescribeRequest) (*connectorv1.DescribeResponse, error) {
	m := s.manifest
	return &connectorv1.DescribeResponse{Manifest: &connectorv1.Manifest{
		Name: m.Name, Version: m.Version, Kind: kindToWire(m.Kind), Description: m.Description,
		Produces: m.Produces, Accepts: m.Accepts, SettingsSchema: m.SettingsSchema,
	}}, nil
}

// Check implements the wire protocol.
func (s *server) Check(ctx context.Context, req *connectorv1.CheckRequest) (*connectorv1.CheckResponse, error) {
	set, err := s.checkSettings(req.GetSettings(), req.GetSettingsDir())
	if err == nil {
		err = s.c.Check(ctx, set)
	}
	if err == nil {
		return &connectorv1.CheckResponse{}, nil
	}
	return &connectorv1.CheckResponse{Problem: problemToWire(err)}, nil
}

// Read implements the wire protocol.
func (s *server) Read(req *connectorv1.ReadRequest, stream connectorv1.Connector_ReadServer) error {
	set, err := s.checkSettings(req.GetSettings(), req.GetSettingsDir())
	if err != nil {
		return statusOf(err)
	}
	ctx := stream.Context()
	emit := func(b Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return stream.Send(&connectorv1.Batch{Records: b.Records, Cursor: b.Cursor})
	}
	err = s.c.Read(ctx, ReadRequest{Settings: set, Cursor: req.GetCursor(), MaxBatch: int(req.GetMaxBatch())}, emit)
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return statusOf(err)
	}
	return nil
}

// Write implements the wire protocol.
func (s *server) Write(ctx context.Context, req *connectorv1.WriteRequest) (*connectorv1.WriteResponse, error) {
	w, ok := s.c.(Writer)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "connector %s does not write records (it accepts none)", s.manifest.Name)
	}
	set, err := s.checkSettings(req.GetSettings(), req.GetSettingsDir())
	if err != nil {
		return nil, statusOf(err)
	}
	if req.GetRecordId() == "" || req.GetSchema() == "" {
		return nil, status.Error(codes.InvalidArgument, "write: schema and record_id are required")
	}
	res, err := w.Write(ctx, WriteRequest{Settings: set, Schema: req.GetSchema(), RecordID: req.GetRecordId(), Record: req.GetRecord()})
	if err != nil {
		return nil, statusOf(err)
	}
	return &connectorv1.WriteResponse{TargetId: res.TargetID}, nil
}

// statusOf turns an error into a gRPC status whose code carries its class.
func statusOf(err error) error {
	var e *Error
	msg := err.Error()
	if errors.As(err, &e) && e.Message != "" {
		msg = e.Message
		if e.Pointer != "" {
			msg = e.Pointer + ": " + msg
		}
	}
	switch ClassOf(err) {
	case ClassConfig:
		return status.Error(codes.InvalidArgument, msg)
	case ClassTransient:
		return status.Error(codes.Unavailable, msg)
	}
	return status.Error(codes.Internal, msg)
}

func problemToWire(err error) *connectorv1.Problem {
	p := &connectorv1.Problem{Message: err.Error()}
	var e *Error
	if errors.As(err, &e) {
		p.Message, p.Pointer = e.Message, e.Pointer
		if p.Message == "" && e.Err != nil {
			p.Message = e.Err.Error()
		}
	}
	switch ClassOf(err) {
	case ClassConfig:
		p.Class = connectorv1.Problem_CLASS_CONFIG
	case ClassTransient:
		p.Class = connectorv1.Problem_CLASS_TRANSIENT
	default:
		p.Class = connectorv1.Problem_CLASS_FATAL
	}
	return p
}

func kindToWire(k SystemKind) connectorv1.SystemKind {
	switch k {
	case KindMunicipal:
		return connectorv1.SystemKind_SYSTEM_KIND_MUNICIPAL
	case KindHealth:
		return connectorv1.SystemKind_SYSTEM_KIND_HEALTH
	case KindEmployment:
		return connectorv1.SystemKind_SYSTEM_KIND_EMPLOYMENT
	case KindThirdSector:
		return connectorv1.SystemKind_SYSTEM_KIND_THIRD_SECTOR
	case KindOther:
		return connectorv1.SystemKind_SYSTEM_KIND_OTHER
	}
	return connectorv1.SystemKind_SYSTEM_KIND_UNSPECIFIED
}

// Logger returns a logger for connector code. It writes JSON lines to
// stderr in the form the hub reads (hclog's), so they appear in the hub's
// log with the connector's name. Never log personal data.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a.Key, a.Value = "@level", slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		},
	}))
}
