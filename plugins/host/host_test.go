package host_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

var testConnector string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "host-test")
	if err != nil {
		panic(err)
	}
	testConnector = filepath.Join(dir, "testconnector")
	if out, err := exec.Command("go", "build", "-o", testConnector, "../internal/testconnector").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func launch(t testing.TB, path string) *host.Connector {
	t.Helper()
	sum, err := host.Sum(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := host.Launch(context.Background(), host.Config{Name: "test", Path: path, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestLaunchDescribeReadWrite(t *testing.T) {
	t.Parallel()
	c := launch(t, testConnector)
	if m := c.Manifest(); m.Name != "testconnector" || m.Kind != sdk.KindThirdSector || len(m.Produces) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	ctx := context.Background()
	settings := []byte(`{"source": "odv", "territory": "AB", "records": 250}`)
	if err := c.Check(ctx, settings, ""); err != nil {
		t.Fatal(err)
	}
	var n, batches int
	var last []byte
	err := c.Read(ctx, host.ReadRequest{Settings: settings, MaxBatch: 100}, func(b sdk.Batch) error {
		n += len(b.Records)
		batches++
		last = b.Cursor
		return nil
	})
	if err != nil || n != 250 || batches != 3 || string(last) != "250" {
		t.Fatalf("read %d records in %d batches, cursor %q: %v", n, batches, last, err)
	}
	id, err := c.Write(ctx, host.WriteRequest{Settings: settings, Schema: "s", RecordID: "R1", Record: []byte(`{}`)})
	if err != nil || id != "T-R1" {
		t.Fatalf("write: %q %v", id, err)
	}
}

func TestBadSettingsAreAConfigProblem(t *testing.T) {
	t.Parallel()
	c := launch(t, testConnector)
	err := c.Check(context.Background(), []byte(`{"source": "odv", "records": "many"}`), "")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Class != sdk.ClassConfig || !strings.Contains(e.Message, "/records") {
		t.Fatalf("got %v", err)
	}
	err = c.Read(context.Background(), host.ReadRequest{Settings: []byte(`{}`)}, func(sdk.Batch) error { return nil })
	if sdk.ClassOf(err) != sdk.ClassConfig {
		t.Fatalf("read with bad settings: %v", err)
	}
	err = c.Check(context.Background(), []byte(`{"source": "odv", "territory": "AB", "records": 1, "unreachable": true}`), "")
	if sdk.ClassOf(err) != sdk.ClassTransient {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestTamperedBinaryIsRefused(t *testing.T) {
	t.Parallel()
	sum, err := host.Sum(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "testconnector")
	data, err := os.ReadFile(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = host.Launch(context.Background(), host.Config{Name: "odv", Path: tampered, SHA256: sum})
	var ce *host.ChecksumError
	if !errors.As(err, &ce) || ce.Want != sum || ce.Got == sum || !strings.Contains(err.Error(), tampered) {
		t.Fatalf("got %v", err)
	}
}

// script writes an executable shell script into a temporary folder and
// returns its path and SHA-256.
func script(t *testing.T, body string) (path, sum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "connector.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := host.Sum(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}

func TestStartFailuresAreExplained(t *testing.T) {
	t.Parallel()
	notExecutable := filepath.Join(t.TempDir(), "connector")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notExecutableSum, err := host.Sum(notExecutable)
	if err != nil {
		t.Fatal(err)
	}
	// go-plugin's handshake line: core protocol | app protocol | network |
	// address | protocol.
	protocol2, protocol2Sum := script(t, `echo "1|2|tcp|127.0.0.1:1|grpc"; exec sleep 5`)
	silent, silentSum := script(t, `exec sleep 5`)
	quits, quitsSum := script(t, `echo "this is not a connector" >&2; exit 2`)
	missing := filepath.Join(t.TempDir(), "nothing")
	tests := map[string]struct {
		path, sum string
		is        error
		says      []string
	}{
		"another protocol version": {
			path: protocol2, sum: protocol2Sum, is: host.ErrIncompatible,
			says: []string{`connector "test" speaks another version of the connector protocol`, "Plugin version: 2", "this snodo speaks version 1"},
		},
		"no handshake": {
			path: silent, sum: silentSum,
			says: []string{`connector "test" did not complete the handshake within 500ms`, "is " + silent + " a Snodo connector?"},
		},
		"exits at once": {
			path: quits, sum: quitsSum,
			says: []string{`connector "test"`, quits},
		},
		"missing": {
			path: missing, sum: strings.Repeat("0", 64), is: fs.ErrNotExist,
			says: []string{`connector "test"`, missing, "no such file"},
		},
		"not executable": {
			path: notExecutable, sum: notExecutableSum, is: fs.ErrPermission,
			says: []string{`connector "test"`, notExecutable, "permission denied"},
		},
		"no pin": {
			path: testConnector, sum: "",
			says: []string{`connector "test": sha256 must be the 64 hex digits`, "sha256sum " + testConnector},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := host.Launch(context.Background(), host.Config{
				Name: "test", Path: tc.path, SHA256: tc.sum, StartTimeout: 500 * time.Millisecond, Logger: hclog.NewNullLogger(),
			})
			if err == nil {
				c.Close()
				t.Fatal("Launch succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestConnectorDoesNotSeeTheHostEnvironment: the process gets Config.Env
// (only PATH when it is nil) and go-plugin's own variables, nothing else of
// the hub's environment. The test connector's Check says whether a variable
// is set, never its value. Not parallel: it sets a variable of its own
// process.
func TestConnectorDoesNotSeeTheHostEnvironment(t *testing.T) {
	t.Setenv("SNODO_TEST_HUB_SECRET", "not for connectors")
	sum, err := host.Sum(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		env     []string
		visible map[string]bool
	}{
		"Env given": {
			env:     []string{"SNODO_TEST_GIVEN=1"},
			visible: map[string]bool{"SNODO_TEST_GIVEN": true, "SNODO_TEST_HUB_SECRET": false, "HOME": false, "PATH": false},
		},
		"Env nil: PATH only": {
			visible: map[string]bool{"PATH": true, "SNODO_TEST_HUB_SECRET": false, "HOME": false},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := host.Launch(context.Background(), host.Config{
				Name: "test", Path: testConnector, SHA256: sum, Env: tc.env, Logger: hclog.NewNullLogger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for variable, visible := range tc.visible {
				settings := fmt.Appendf(nil, `{"source": "odv", "territory": "AB", "records": 1, "require_env": %q}`, variable)
				err := c.Check(context.Background(), settings, "")
				if visible && err != nil {
					t.Errorf("%s: %v; want it visible", variable, err)
				}
				if !visible && (sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), variable+" is not set")) {
					t.Errorf("%s: %v; want it not set in the connector's process", variable, err)
				}
			}
		})
	}
}

// TestOversizedBatchIsRefused: a batch over the host's message limit is
// not taken into memory; Read fails as fatal (a restart would bring the
// same batch), naming the connector and saying what to change, and the
// batches under the limit before it were delivered.
func TestOversizedBatchIsRefused(t *testing.T) {
	t.Parallel()
	sum, err := host.Sum(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 256 << 10
	c, err := host.Launch(context.Background(), host.Config{Name: "flood", Path: testConnector, SHA256: sum, MaxMessage: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// 4 KiB records: a batch of 10 is 40 KiB, one of 100 is 400 KiB.
	settings := []byte(`{"source": "odv", "territory": "AB", "records": 20, "size": 4096}`)
	var n int
	err = c.Read(context.Background(), host.ReadRequest{Settings: settings, MaxBatch: 10}, func(b sdk.Batch) error {
		n += len(b.Records)
		return nil
	})
	if err != nil || n != 20 {
		t.Fatalf("batches under the limit: read %d records: %v", n, err)
	}
	err = c.Read(context.Background(), host.ReadRequest{Settings: []byte(`{"source": "odv", "territory": "AB", "records": 100, "size": 4096}`), MaxBatch: 100}, func(sdk.Batch) error {
		t.Error("a batch over the limit reached the hub")
		return nil
	})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Class != sdk.ClassFatal || !strings.Contains(se.Message, `"flood"`) || !strings.Contains(se.Message, "lower its batch size") {
		t.Fatalf("an oversized batch: %v, want a fatal error naming the connector and what to do", err)
	}
}
