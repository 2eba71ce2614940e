package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/internal/wire"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// maxHandshakeLine bounds what the suite reads from stdout looking for the
// handshake line.
const maxHandshakeLine = 64 << 10

// checkQuietStdout starts the executable as go-plugin's client would —
// magic cookie, protocol versions, port range, no client certificate — and
// reads its stdout: the first line must be the handshake line. go-plugin
// v1.8.0 (server.go) prints CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT,
// where CORE is go-plugin's core protocol (1), APP the Snodo protocol (1),
// NETWORK tcp or unix, and PROTOCOL grpc; the certificate is empty without a
// client certificate. Anything printed before it breaks every start.
func checkQuietStdout(ctx context.Context, s *suite) outcome {
	sockets, err := os.MkdirTemp("", "snodo-conformance-")
	if err != nil {
		return fail("cannot make a folder for the connector's socket: %v", err)
	}
	defer os.RemoveAll(sockets)
	cmd := exec.Command(s.opts.Path)
	cmd.Env = append(append([]string{}, s.opts.Env...),
		wire.Handshake.MagicCookieKey+"="+wire.Handshake.MagicCookieValue,
		fmt.Sprintf("PLUGIN_PROTOCOL_VERSIONS=%d", wire.ProtocolVersion),
		"PLUGIN_MIN_PORT=10000", "PLUGIN_MAX_PORT=25000",
		"PLUGIN_UNIX_SOCKET_DIR="+sockets,
	)
	stderr := &tailBuffer{max: 2048}
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail("cannot start %s: %v", s.opts.Path, err)
	}
	if err := cmd.Start(); err != nil {
		return fail("cannot start %s: %v", s.opts.Path, err)
	}
	type first struct {
		line []byte
		err  error
	}
	lines := make(chan first, 1)
	go func() {
		line, err := bufio.NewReaderSize(stdout, maxHandshakeLine).ReadSlice('\n')
		lines <- first{bytes.Clone(line), err}
	}()
	var got first
	timer := time.NewTimer(s.opts.StartTimeout)
	defer timer.Stop()
	select {
	case got = <-lines:
	case <-timer.C:
		got.err = fmt.Errorf("nothing within %s", s.opts.StartTimeout)
	case <-ctx.Done():
		got.err = ctx.Err()
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	switch {
	case errors.Is(got.err, bufio.ErrBufferFull):
		return fail("the executable printed more than %d KiB on stdout without a newline before the handshake line: write logs to stderr", maxHandshakeLine>>10)
	case got.err != nil && len(got.line) == 0:
		return fail("no handshake line on stdout (%v)%s", got.err, stderr.words())
	}
	line := strings.TrimSpace(string(got.line))
	if problem := handshakeProblem(line); problem != "" {
		return fail("the first line on stdout must be the go-plugin handshake line (1|%d|tcp or unix|ADDRESS|grpc), got %s: %s; write logs to stderr, never to stdout", wire.ProtocolVersion, quoteShort(line), problem)
	}
	return pass()
}

// handshakeProblem says what is wrong with a handshake line, or "".
func handshakeProblem(line string) string {
	parts := strings.Split(line, "|")
	switch {
	case len(parts) < 5:
		return fmt.Sprintf("%d fields separated by |, want at least 5", len(parts))
	case parts[0] != "1":
		return fmt.Sprintf("core protocol %q, want 1 (go-plugin's)", parts[0])
	case parts[1] != fmt.Sprint(wire.ProtocolVersion):
		return fmt.Sprintf("protocol version %q, want %d (Snodo's connector protocol)", parts[1], wire.ProtocolVersion)
	case parts[2] != "tcp" && parts[2] != "unix":
		return fmt.Sprintf("network %q, want tcp or unix", parts[2])
	case parts[3] == "":
		return "empty address"
	case parts[4] != "grpc":
		return fmt.Sprintf("protocol %q, want grpc", parts[4])
	}
	if parts[2] == "tcp" {
		if _, _, err := net.SplitHostPort(parts[3]); err != nil {
			return fmt.Sprintf("address %q is not host:port", parts[3])
		}
	}
	return ""
}

func quoteShort(s string) string {
	const max = 120
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) words() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return "; its stderr: " + s
}

// checkHandshake starts the connector through the host, as the hub does.
func checkHandshake(ctx context.Context, s *suite) outcome {
	sum, err := host.Sum(s.opts.Path)
	if err != nil {
		return fail("cannot read the executable: %v", err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	conn, err := host.Launch(ctx, host.Config{
		Name: filepath.Base(s.opts.Path), Path: s.opts.Path, SHA256: sum,
		StartTimeout: s.opts.StartTimeout, Env: s.opts.Env, Logger: s.logger,
	})
	if err != nil {
		// go-plugin adds a page of generic advice after the first line.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return fail("%s%s", msg, s.logs.stderrTail())
	}
	s.conn, s.manifest = conn, conn.Manifest()
	return pass()
}

var (
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	semverPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

func checkManifest(_ context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	if s.regErr != nil {
		return fail("cannot compile the shared schemas to check the manifest against: %v", s.regErr)
	}
	m := s.manifest
	var problems []string
	if !namePattern.MatchString(m.Name) {
		problems = append(problems, fmt.Sprintf("name %q: use 2-63 lower-case letters, digits and hyphens, starting with a letter", m.Name))
	}
	if !semverPattern.MatchString(m.Version) {
		problems = append(problems, fmt.Sprintf("version %q is not a semantic version (e.g. 1.0.0)", m.Version))
	}
	switch m.Kind {
	case sdk.KindMunicipal, sdk.KindHealth, sdk.KindEmployment, sdk.KindThirdSector, sdk.KindOther:
	default:
		problems = append(problems, "kind is unspecified: use municipal, health, employment, third-sector or other")
	}
	if len(m.Produces) == 0 && len(m.Accepts) == 0 {
		problems = append(problems, "produces and accepts are both empty: list the $ids of the schemas the connector reads or writes")
	}
	for _, list := range []struct {
		name string
		ids  []string
	}{{"produces", m.Produces}, {"accepts", m.Accepts}} {
		seen := map[string]bool{}
		for _, id := range list.ids {
			if seen[id] {
				problems = append(problems, fmt.Sprintf("%s lists %q twice", list.name, id))
			}
			seen[id] = true
			sch, ok := s.reg.Lookup(id)
			switch {
			case ok && sch.ID != id:
				problems = append(problems, fmt.Sprintf("%s: %q is a schema name, not its $id: use %q", list.name, id, sch.ID))
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: %q is not the $id of a known schema (see \"snodo schemas list\")", list.name, id))
			}
		}
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass()
}

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

func checkSettingsSchema(_ context.Context, s *suite) outcome {
	if o, ok := s.started(); !ok {
		return o
	}
	raw := s.manifest.SettingsSchema
	if len(bytes.TrimSpace(raw)) == 0 {
		return fail("the settings schema is empty: give a JSON Schema of the settings (at least {\"type\": \"object\"})")
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fail("the settings schema is not JSON: %v", err)
	}
	if obj, ok := doc.(map[string]any); ok {
		if d, ok := obj["$schema"]; ok && strings.TrimSuffix(fmt.Sprint(d), "#") != draft2020 {
			return fail("the settings schema declares $schema %v: use %s, or leave $schema out", d, draft2020)
		}
	} else if _, ok := doc.(bool); !ok {
		return fail("the settings schema must be a JSON object (or a boolean)")
	}
	const url = "snodo:connector-settings.schema.json"
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = func(ref string) (_ io.ReadCloser, err error) {
		return nil, fmt.Errorf("%s: the settings schema must be self-contained", ref)
	}
	if err := c.AddResource(url, bytes.NewReader(raw)); err != nil {
		return fail("the settings schema does not compile as draft 2020-12: %v", err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return fail("the settings schema does not compile as draft 2020-12: %v", err)
	}
	s.settingsSchema = compiled
	return pass()
}
