package host_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

func launch(t *testing.T, path string) *host.Connector {
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
