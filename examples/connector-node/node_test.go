//go:build linux

package connectornode_test

// These tests run the Node.js connector for real: the script is started by
// hashicorp/go-plugin's client exactly as the hub starts a connector (no
// host environment, mutual TLS), and every record it reads is checked
// against the shared volunteer schema.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	connectorv1 "github.com/snodo-hub/snodo/plugins/proto/snodo/connector/v1"
	"github.com/snodo-hub/snodo/schemas"
)

// handshake must equal plugins/internal/wire.Handshake (which this package
// cannot import: it is internal to plugins/). TestHandshakeMatchesWire
// checks that the values are the ones in wire.go and in the script.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SNODO_CONNECTOR_PLUGIN",
	MagicCookieValue: "d1b6f6c2-8c8e-4f0f-9d2c-0b6e6c1f3a57",
}

const (
	volunteerSchema = "https://snodo-hub.github.io/schemas/volunteer/1.0.0"
	script          = "connector.js"
	exampleEntries  = 16
)

// requireNode skips the test when Node.js or the example's packages are
// missing, and fails it instead in CI, where .ci/run installs them.
func requireNode(t *testing.T) {
	t.Helper()
	problem := ""
	if _, err := os.Stat(filepath.Join("node_modules", "@grpc", "grpc-js", "package.json")); err != nil {
		problem = "examples/connector-node/node_modules is missing: run `npm ci --omit=dev` in examples/connector-node"
	}
	// The hub starts connectors without its environment, so the shebang's
	// `env node` must find node without PATH (in /bin or /usr/bin).
	probe := exec.Command("/usr/bin/env", "node", "--version")
	probe.Env = []string{}
	if err := probe.Run(); err != nil {
		problem = "node is not installed in /usr/bin or /bin, where `#!/usr/bin/env node` finds it without PATH: install Node.js (Debian's nodejs)"
	}
	if problem == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(problem)
	}
	t.Skip(problem)
}

func scriptPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// connectorPlugin is the host's side of the connector plugin, as in
// plugins/internal/wire.
type connectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (connectorPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve connectors")
}

func (connectorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return connectorv1.NewConnectorClient(c), nil
}

// syncBuffer collects the host's log, written from go-plugin's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the host's log as decoded JSON lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("host log line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// launch starts the connector as the hub does and returns its client, the
// go-plugin client (killed when the test ends) and the host's log.
func launch(t *testing.T) (connectorv1.ConnectorClient, *plugin.Client, *syncBuffer) {
	t.Helper()
	requireNode(t)
	logs := &syncBuffer{}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: map[int]plugin.PluginSet{1: {"connector": connectorPlugin{}}},
		Cmd:              exec.Command(scriptPath(t)),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     30 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Output: logs, Level: hclog.Debug, JSONFormat: true}),
	})
	t.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		t.Fatalf("start the connector: %v\nhost log:\n%s", err, logs)
	}
	raw, err := rpc.Dispense("connector")
	if err != nil {
		t.Fatal(err)
	}
	return raw.(connectorv1.ConnectorClient), pc, logs
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exampleDir(t *testing.T) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHandshakeMatchesWire(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"../../plugins/internal/wire/wire.go", "lib/serve.js"} {
		src := string(readFile(t, file))
		for _, want := range []string{handshake.MagicCookieKey, handshake.MagicCookieValue} {
			if !strings.Contains(src, want) {
				t.Errorf("%s does not contain %q: the handshake values must be the same everywhere", file, want)
			}
		}
	}
}

// TestRefusesToRunByHand runs the script without what the hub sets.
func TestRefusesToRunByHand(t *testing.T) {
	t.Parallel()
	requireNode(t)
	cookie := handshake.MagicCookieKey + "=" + handshake.MagicCookieValue
	tests := map[string]struct {
		env  []string
		want string
	}{
		"no cookie":         {env: nil, want: "snodo connectors test"},
		"wrong cookie":      {env: []string{handshake.MagicCookieKey + "=nope", "PLUGIN_PROTOCOL_VERSIONS=1"}, want: "not run by hand"},
		"another protocol":  {env: []string{cookie, "PLUGIN_PROTOCOL_VERSIONS=2,3"}, want: "version(s) 2, 3; this connector speaks version 1"},
		"no protocol":       {env: []string{cookie}, want: "PLUGIN_PROTOCOL_VERSIONS is not set"},
		"bad port range":    {env: []string{cookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_MIN_PORT=20000", "PLUGIN_MAX_PORT=10000"}, want: "greater than PLUGIN_MAX_PORT"},
		"not a port":        {env: []string{cookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_MIN_PORT=x", "PLUGIN_MAX_PORT=10000"}, want: "must be a port number"},
		"not a certificate": {env: []string{cookie, "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_CLIENT_CERT=hello"}, want: "PLUGIN_CLIENT_CERT is not a PEM certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(scriptPath(t))
			cmd.Env = append([]string{}, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want exit status 1; stderr: %s", err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	c, _, _ := launch(t)
	res, err := c.Describe(context.Background(), &connectorv1.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.GetManifest()
	got := map[string]any{
		"name": m.GetName(), "version": m.GetVersion(), "kind": m.GetKind().String(),
		"produces": m.GetProduces(), "accepts": len(m.GetAccepts()),
	}
	want := map[string]any{
		"name": "volunteer-registry", "version": "1.0.0", "kind": "SYSTEM_KIND_THIRD_SECTOR",
		"produces": []string{volunteerSchema}, "accepts": 0,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("manifest (-want +got):\n%s", d)
	}
	if m.GetDescription() == "" {
		t.Error("manifest has no description")
	}
	settings := compileSettingsSchema(t, m.GetSettingsSchema())
	var example any
	if err := json.Unmarshal(readFile(t, "settings.example.json"), &example); err != nil {
		t.Fatal(err)
	}
	if err := settings.Validate(example); err != nil {
		t.Errorf("settings.example.json does not follow the settings schema: %v", err)
	}
}

func compileSettingsSchema(t *testing.T, raw []byte) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource("settings.schema.json", bytes.NewReader(raw)); err != nil {
		t.Fatalf("settings schema: %v", err)
	}
	s, err := c.Compile("settings.schema.json")
	if err != nil {
		t.Fatalf("settings schema is not a valid 2020-12 JSON Schema: %v", err)
	}
	return s
}

// TestCheck checks good and bad settings; the connector's own check of its
// settings must agree with the settings schema it publishes.
func TestCheck(t *testing.T) {
	t.Parallel()
	c, _, _ := launch(t)
	res, err := c.Describe(context.Background(), &connectorv1.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	schema := compileSettingsSchema(t, res.GetManifest().GetSettingsSchema())
	dir := t.TempDir()
	writeTemp(t, dir, "not-json.json", "{\"volontari\": [}")
	writeTemp(t, dir, "not-export.json", `["V-0001"]`)
	writeTemp(t, dir, "bom.json", "\ufeff{\"volontari\": []}")

	tests := map[string]struct {
		settings    string
		dir         string
		schemaValid bool
		pointer     string // "" with message "" means no problem
		message     string
	}{
		"example": {
			settings: string(readFile(t, "settings.example.json")), dir: exampleDir(t), schemaValid: true,
		},
		"absolute registry path": {
			settings:    fmt.Sprintf(`{"source": "albo", "territory": "SDS-PISANA", "registry": %q}`, filepath.Join(exampleDir(t), "volunteers.json")),
			schemaValid: true,
		},
		"registry with a byte order mark": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "bom.json"}`, dir: dir, schemaValid: true,
		},
		"registry missing from settings": {
			settings: `{"source": "albo", "territory": "SDS-PISANA"}`, pointer: "/registry", message: "is missing",
		},
		"territory in lower case": {
			settings: `{"source": "albo", "territory": "sds-pisana", "registry": "volunteers.json"}`, dir: exampleDir(t),
			pointer: "/territory", message: "must match",
		},
		"source not a string": {
			settings: `{"source": 7, "territory": "SDS-PISANA", "registry": "volunteers.json"}`, dir: exampleDir(t),
			pointer: "/source", message: "must be a JSON string",
		},
		"unknown setting": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "volunteers.json", "url": "x"}`, dir: exampleDir(t),
			pointer: "/url", message: "is not a setting",
		},
		"settings not an object": {
			settings: `[]`, pointer: "", message: "must be a JSON object",
		},
		"settings not JSON": {
			settings: `{"source": `, pointer: "", message: "not valid JSON",
		},
		"registry file missing": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "nowhere.json"}`, dir: dir, schemaValid: true,
			pointer: "/registry", message: "does not exist",
		},
		"registry file not JSON": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "not-json.json"}`, dir: dir, schemaValid: true,
			pointer: "/registry", message: "not valid JSON (line 1, column",
		},
		"registry file not an export": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "not-export.json"}`, dir: dir, schemaValid: true,
			pointer: "/registry", message: `"volontari" list`,
		},
		"registry is a folder": {
			settings: `{"source": "albo", "territory": "SDS-PISANA", "registry": "."}`, dir: dir, schemaValid: true,
			pointer: "/registry", message: "is a folder",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var doc any
			if json.Unmarshal([]byte(tc.settings), &doc) == nil {
				if valid := schema.Validate(doc) == nil; valid != tc.schemaValid {
					t.Errorf("settings schema says valid = %v, want %v", valid, tc.schemaValid)
				}
			} else if tc.schemaValid {
				t.Fatal("the test's settings are not JSON")
			}
			res, err := c.Check(context.Background(), &connectorv1.CheckRequest{Settings: []byte(tc.settings), SettingsDir: tc.dir})
			if err != nil {
				t.Fatalf("Check failed as an RPC (a problem is an answer): %v", err)
			}
			p := res.GetProblem()
			if tc.message == "" {
				if p != nil {
					t.Fatalf("problem %v, want none", p)
				}
				return
			}
			if p.GetClass() != connectorv1.Problem_CLASS_CONFIG || p.GetPointer() != tc.pointer || !strings.Contains(p.GetMessage(), tc.message) {
				t.Errorf("problem = %v %q %q, want CLASS_CONFIG %q with a message containing %q", p.GetClass(), p.GetPointer(), p.GetMessage(), tc.pointer, tc.message)
			}
		})
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// read reads to the end of the stream from cursor.
func read(t *testing.T, c connectorv1.ConnectorClient, req *connectorv1.ReadRequest) []*connectorv1.Batch {
	t.Helper()
	stream, err := c.Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var out []*connectorv1.Batch
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read from cursor %q: %v", req.GetCursor(), err)
		}
		out = append(out, b)
	}
}

func recordsOf(batches []*connectorv1.Batch) []string {
	var out []string
	for _, b := range batches {
		for _, r := range b.GetRecords() {
			out = append(out, string(r))
		}
	}
	return out
}

func compileRegistry(t *testing.T) *schemas.Registry {
	t.Helper()
	stub := func(any) error { return nil }
	reg, err := schemas.Compile(schemas.WithFormat("codice-fiscale", stub), schemas.WithFormat("cf-provisional", stub))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// checkRecords validates every record against the real volunteer schema
// and returns the record ids.
func checkRecords(t *testing.T, reg *schemas.Registry, records []string) []string {
	t.Helper()
	ids := make([]string, 0, len(records))
	for _, r := range records {
		doc, err := schemas.Decode([]byte(r))
		if err != nil {
			t.Fatalf("record is not JSON: %v", err)
		}
		s, violations := reg.ValidateDocument(doc)
		if s == nil || s.ID != volunteerSchema {
			t.Fatalf("record does not name the volunteer schema: %v", violations)
		}
		for _, v := range violations {
			t.Errorf("record %s: %s", r, v)
		}
		ids = append(ids, doc.(map[string]any)["record_id"].(string))
	}
	return ids
}

// checkResume reads again from every cursor of batches and wants exactly
// the records after it: nothing repeated, nothing skipped.
func checkResume(t *testing.T, c connectorv1.ConnectorClient, req *connectorv1.ReadRequest, batches []*connectorv1.Batch) {
	t.Helper()
	all := recordsOf(batches)
	seen := 0
	for _, b := range batches {
		seen += len(b.GetRecords())
		from := &connectorv1.ReadRequest{Settings: req.GetSettings(), SettingsDir: req.GetSettingsDir(), MaxBatch: 3, Cursor: b.GetCursor()}
		if d := cmp.Diff(all[seen:], recordsOf(read(t, c, from)), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("reading from cursor %s (after %d records) (-want +got):\n%s", b.GetCursor(), seen, d)
		}
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	c, _, _ := launch(t)
	reg := compileRegistry(t)
	req := &connectorv1.ReadRequest{Settings: readFile(t, "settings.example.json"), SettingsDir: exampleDir(t), MaxBatch: 5}

	batches := read(t, c, req)
	var sizes []int
	for _, b := range batches {
		sizes = append(sizes, len(b.GetRecords()))
	}
	if d := cmp.Diff([]int{5, 5, 5, 1}, sizes); d != "" {
		t.Errorf("batch sizes with max_batch 5 (-want +got):\n%s", d)
	}
	records := recordsOf(batches)
	ids := checkRecords(t, reg, records)
	var want []string
	for i := 1; i <= exampleEntries; i++ {
		want = append(want, fmt.Sprintf("V-%04d", i))
	}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("record ids (-want +got):\n%s", d)
	}

	// The connector's own batch size, 100: one batch, the same records.
	whole := read(t, c, &connectorv1.ReadRequest{Settings: req.Settings, SettingsDir: req.SettingsDir})
	if len(whole) != 1 {
		t.Errorf("default batching gave %d batches, want 1", len(whole))
	}
	if d := cmp.Diff(records, recordsOf(whole)); d != "" {
		t.Errorf("records with the default batch size (-want +got):\n%s", d)
	}

	checkResume(t, c, req, batches)

	// The last cursor is the end: nothing more, until entries are appended.
	last := batches[len(batches)-1].GetCursor()
	if got := read(t, c, &connectorv1.ReadRequest{Settings: req.Settings, SettingsDir: req.SettingsDir, Cursor: last}); len(got) != 0 {
		t.Errorf("reading from the last cursor gave %d batches, want none", len(got))
	}

	// One record in full, as mapped from the registry's own fields.
	var first map[string]any
	if err := json.Unmarshal([]byte(records[0]), &first); err != nil {
		t.Fatal(err)
	}
	wantFirst := map[string]any{
		"schema": volunteerSchema, "record_id": "V-0001", "source": "albo-volontari-fno", "territory": "SDS-FI-NORDOVEST",
		"recorded_at": "2024-06-28T18:30:00+02:00", "pseudonym": "AUSER-SESTO-0042",
		"organisation": map[string]any{"record_id": "ORG-AUSER-SESTO"}, "active": true,
		"skills": []any{
			map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "italian-tutoring"},
			map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "mentoring"},
		},
		"languages":    []any{"it", "en", "ar"},
		"availability": map[string]any{"hours_per_week": 4.0, "days": []any{"tue", "thu"}},
		"assignments": []any{map[string]any{
			"pathway": map[string]any{"record_id": "PAIS-2024-0117", "source": "sds-fi-nordovest"}, "start": "2024-04-15", "hours": 38.5,
		}},
		"total_hours": 212.0,
	}
	if d := cmp.Diff(wantFirst, first); d != "" {
		t.Errorf("first record (-want +got):\n%s", d)
	}
}

// TestReadSkipsBadEntries: an entry that cannot make a valid record is
// skipped and logged by position, never by value, and the cursors still
// neither repeat nor skip a good one.
func TestReadSkipsBadEntries(t *testing.T) {
	t.Parallel()
	c, _, logs := launch(t)
	reg := compileRegistry(t)
	const cf = "RSSMRA85T10A562S"
	dir := t.TempDir()
	writeTemp(t, dir, "albo.json", `{
  "esportato_il": "2024-07-01T09:00:00+02:00",
  "volontari": [
    {"id": "A1", "tessera": "T-1", "associazione": "ORG-ARCI-PISA", "attivo": true},
    {"id": "A2", "tessera": "`+cf+`", "associazione": "ORG-ARCI-PISA"},
    {"id": "A3", "tessera": "T-3", "associazione": "ORG-ARCI-PISA", "incarichi": [{"percorso": "P-1", "dal": "2024-01-10", "al": "2024-03-01"}]},
    {"id": "A4", "tessera": "T-4", "associazione": "ORG-ARCI-PISA", "competenze": ["Sportello legale", "Guida turistica"], "disponibilita": {"giorni": ["Sabato", "dom"]}},
    {"id": "A1", "tessera": "T-5", "associazione": "ORG-ARCI-PISA"},
    "not an entry",
    {"id": "A7", "tessera": "T-7", "associazione": "ORG-ARCI-PISA", "lingue": ["IT", "italiano"]},
    {"id": "A8", "tessera": "T-8", "associazione": "ORG-ARCI-PISA", "aggiornato_il": "2024-02-30T10:00:00Z"},
    {"id": "A9", "tessera": "T-9", "associazione": "ORG-ARCI-PISA", "ore_totali": 12.5}
  ]
}`)
	req := &connectorv1.ReadRequest{
		Settings: []byte(`{"source": "arci-pisa-albo", "territory": "SDS-PISANA", "registry": "albo.json"}`), SettingsDir: dir, MaxBatch: 2,
	}
	batches := read(t, c, req)
	ids := checkRecords(t, reg, recordsOf(batches))
	if d := cmp.Diff([]string{"A1", "A4", "A9"}, ids); d != "" {
		t.Errorf("record ids (-want +got):\n%s", d)
	}
	checkResume(t, c, req, batches)

	var a4 map[string]any
	if err := json.Unmarshal([]byte(recordsOf(batches)[1]), &a4); err != nil {
		t.Fatal(err)
	}
	wantSkills := []any{
		map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "legal-guidance"},
		map[string]any{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "other", "display": "Guida turistica"},
	}
	if d := cmp.Diff(wantSkills, a4["skills"]); d != "" {
		t.Errorf("skills (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"days": []any{"sat", "sun"}}, a4["availability"]); d != "" {
		t.Errorf("availability (-want +got):\n%s", d)
	}

	// The skipped entries are in the log, by position and field.
	skipped := map[float64]string{}
	for _, l := range logs.lines(t) {
		if l["@message"] == "registry entry skipped: it cannot make a valid volunteer record" {
			skipped[l["entry"].(float64)] = l["problem"].(string)
		}
	}
	for entry, field := range map[float64]string{1: "tessera:", 2: "incarichi/0/ore:", 4: "id: repeats the id of entry 0", 5: "must be an object", 6: "lingue/1:", 7: "aggiornato_il:"} {
		if !strings.HasPrefix(skipped[entry], field) && !strings.Contains(skipped[entry], field) {
			t.Errorf("log for skipped entry %v = %q, want it to name %q", entry, skipped[entry], field)
		}
	}
	if strings.Contains(logs.String(), cf) {
		t.Error("the log repeats a value shaped like a codice fiscale")
	}
}

// TestClassedFailures: Read fails with the gRPC code of its class, and
// Write is not implemented.
func TestClassedFailures(t *testing.T) {
	t.Parallel()
	c, _, _ := launch(t)
	example := readFile(t, "settings.example.json")
	tests := map[string]struct {
		req     *connectorv1.ReadRequest
		code    codes.Code
		message string
	}{
		"bad settings": {
			req:  &connectorv1.ReadRequest{Settings: []byte(`{"source": "albo", "territory": "SDS-PISANA"}`)},
			code: codes.InvalidArgument, message: "/registry: the settings do not follow",
		},
		"registry missing": {
			req:  &connectorv1.ReadRequest{Settings: example, SettingsDir: t.TempDir()},
			code: codes.FailedPrecondition, message: "does not exist",
		},
		"cursor not JSON": {
			req:  &connectorv1.ReadRequest{Settings: example, SettingsDir: exampleDir(t), Cursor: []byte("7")},
			code: codes.InvalidArgument, message: "the cursor is not one this connector wrote",
		},
		"negative cursor": {
			req:  &connectorv1.ReadRequest{Settings: example, SettingsDir: exampleDir(t), Cursor: []byte(`{"next": -1}`)},
			code: codes.InvalidArgument, message: "clear the instance's cursor",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stream, err := c.Read(context.Background(), tc.req)
			if err == nil {
				_, err = stream.Recv()
			}
			st, _ := status.FromError(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.message) {
				t.Errorf("Read: %v, want %v with a message containing %q", err, tc.code, tc.message)
			}
		})
	}

	_, err := c.Write(context.Background(), &connectorv1.WriteRequest{Settings: example, Schema: volunteerSchema, RecordId: "V-0001", Record: []byte("{}")})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Write: %v, want Unimplemented", err)
	}
}

// TestReadCancel: the hub cancels a read in the middle; the connector stops
// and goes on serving.
func TestReadCancel(t *testing.T) {
	t.Parallel()
	c, _, _ := launch(t)
	dir := t.TempDir()
	var entries []string
	for i := range 5000 {
		entries = append(entries, fmt.Sprintf(`{"id": "R%d", "tessera": "T-%d", "associazione": "ORG-CSV-TOSCANA", "attivo": true}`, i, i))
	}
	writeTemp(t, dir, "big.json", `{"esportato_il": "2024-07-01T09:00:00Z", "volontari": [`+strings.Join(entries, ",")+`]}`)
	settings := []byte(`{"source": "csv-toscana", "territory": "SDS-PISANA", "registry": "big.json"}`)

	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Read(ctx, &connectorv1.ReadRequest{Settings: settings, SettingsDir: dir, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		_, err := stream.Recv()
		if err == nil {
			continue // batches already in flight
		}
		if status.Code(err) != codes.Canceled {
			t.Fatalf("after cancel: %v, want Canceled", err)
		}
		break
	}
	if _, err := c.Describe(context.Background(), &connectorv1.DescribeRequest{}); err != nil {
		t.Fatalf("the connector stopped serving after a cancelled read: %v", err)
	}
	all := read(t, c, &connectorv1.ReadRequest{Settings: settings, SettingsDir: dir, MaxBatch: 1000})
	if n := len(recordsOf(all)); n != 5000 {
		t.Errorf("a full read after the cancelled one gave %d records, want 5000", n)
	}
}

// TestShutdown: go-plugin's Kill asks the connector to stop (Shutdown) and
// it exits cleanly; its JSON log lines reach the host's log with their
// levels.
func TestShutdown(t *testing.T) {
	t.Parallel()
	c, pc, logs := launch(t)
	if _, err := c.Describe(context.Background(), &connectorv1.DescribeRequest{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pc.Kill()
	if !pc.Exited() {
		t.Fatal("the connector is still running after Kill")
	}
	t.Logf("Kill took %v", time.Since(start))
	var exited, address bool
	for _, l := range logs.lines(t) {
		msg, _ := l["@message"].(string)
		switch {
		case msg == "plugin failed to exit gracefully":
			t.Errorf("the connector did not stop on Shutdown: go-plugin killed it after %v", time.Since(start))
		case msg == "plugin process exited":
			exited = true
			if l["@level"] != "info" || l["error"] != nil {
				t.Errorf("the connector exited with an error: %v", l)
			}
		case msg == "plugin address" && l["@level"] == "debug":
			address = true // the connector's own line, parsed by go-plugin
		}
	}
	if !exited {
		t.Errorf("no \"plugin process exited\" in the host log:\n%s", logs)
	}
	if !address {
		t.Errorf("the connector's JSON log lines were not parsed by the host:\n%s", logs)
	}
}

// newClientCert makes a certificate as go-plugin's host does for AutoMTLS.
func newClientCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM
}

// TestHandshakeAndMutualTLS starts the script by hand with a port range
// and a client certificate, reads the handshake line, and checks that only
// a client holding that certificate gets an answer.
func TestHandshakeAndMutualTLS(t *testing.T) {
	t.Parallel()
	requireNode(t)
	hostCert, hostPEM := newClientCert(t)
	otherCert, _ := newClientCert(t)
	minPort, maxPort := freePortRange(t)

	cmd := exec.Command(scriptPath(t))
	cmd.Env = []string{
		handshake.MagicCookieKey + "=" + handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1",
		fmt.Sprintf("PLUGIN_MIN_PORT=%d", minPort),
		fmt.Sprintf("PLUGIN_MAX_PORT=%d", maxPort),
		"PLUGIN_CLIENT_CERT=" + string(hostPEM),
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("no handshake line: %v; stderr:\n%s", err, stderr.String())
	}
	fields := strings.Split(strings.TrimSuffix(line, "\n"), "|")
	if len(fields) != 6 {
		t.Fatalf("handshake %q has %d fields, want 6", line, len(fields))
	}
	if d := cmp.Diff([]string{"1", "1", "tcp", "grpc"}, []string{fields[0], fields[1], fields[2], fields[4]}); d != "" {
		t.Errorf("handshake fields (-want +got):\n%s", d)
	}
	host, portText, err := net.SplitHostPort(fields[3])
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	if host != "127.0.0.1" || port < minPort || port > maxPort {
		t.Errorf("address %s, want 127.0.0.1 with a port in %d..%d", fields[3], minPort, maxPort)
	}
	der, err := base64.RawStdEncoding.DecodeString(fields[5])
	if err != nil {
		t.Fatalf("server certificate is not unpadded base64: %v", err)
	}
	serverCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	if _, err := serverCert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the server certificate does not verify as go-plugin's host verifies it: %v", err)
	}
	if left := time.Until(serverCert.NotAfter); left < 365*24*time.Hour {
		t.Errorf("the server certificate expires in %v: a connector may run for months", left)
	}

	check := func(cert tls.Certificate) error {
		conn, err := grpc.NewClient(fields[3], grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		})))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "plugin"})
		if err != nil {
			return err
		}
		if res.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			return fmt.Errorf("health %v, want SERVING", res.GetStatus())
		}
		return nil
	}
	if err := check(hostCert); err != nil {
		t.Errorf("the host's certificate was refused: %v", err)
	}
	if err := check(otherCert); err == nil {
		t.Error("a client with another certificate got an answer")
	}

	// SIGTERM stops it cleanly, and nothing followed the handshake on stdout.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Errorf("stdout after the handshake: %q, want nothing", rest)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0; stderr:\n%s", err, stderr.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("stderr line is not JSON: %q", l)
			continue
		}
		for _, k := range []string{"@level", "@message", "@timestamp"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line %q has no %s", l, k)
			}
		}
		if ts, _ := m["@timestamp"].(string); ts != "" {
			if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
				t.Errorf("timestamp %q is not in hclog's layout: %v", ts, err)
			}
		}
	}
}

// freePortRange finds a range of 10 ports the connector may use, with its
// first port taken, so that the connector has to look further.
func freePortRange(t *testing.T) (int, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	first := l.Addr().(*net.TCPAddr).Port
	if first > 65525 {
		t.Skip("no room for a port range above the port the system gave")
	}
	return first, first + 9
}

// TestStopsWhenTheHubIsGone: a connector whose parent died without
// stopping it exits instead of lingering on its port.
func TestStopsWhenTheHubIsGone(t *testing.T) {
	t.Parallel()
	requireNode(t)
	// The shell plays a hub that crashes: it starts the connector, waits for
	// the handshake and exits without stopping it.
	handshakeFile := filepath.Join(t.TempDir(), "stdout")
	cmd := exec.Command("/bin/sh", "-c", `"$0" >"$1" & echo $!; while [ ! -s "$1" ]; do sleep 0.05; done`, scriptPath(t), handshakeFile)
	cmd.Env = []string{
		handshake.MagicCookieKey + "=" + handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1",
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("shell printed %q, want the connector's pid", out)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(20 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the connector still runs 20 s after the hub that started it died")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// running tells whether a process runs (an exited one nobody reaped is a
// zombie, state Z).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
