package host_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// syncBuffer is a log sink safe for go-plugin's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestConnectorWritingToStdout: standard output is the plugin protocol's
// channel, so a connector that writes to it must not be able to corrupt
// the exchange or put its output in the hub's log. Written during a read
// (through os.Stdout, or straight to file descriptor 1) it is drained and
// dropped: the records still arrive, the connector goes on answering, and
// none of it reaches the log, even at trace level. Written before the
// handshake it fails the start at once with an error naming the connector
// (the supervisor then restarts it with backoff), never a hang.
func TestConnectorWritingToStdout(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "chatty")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/chatty").CombinedOutput(); err != nil {
		t.Fatalf("build chatty: %v\n%s", err, out)
	}
	sum, err := host.Sum(bin)
	if err != nil {
		t.Fatal(err)
	}
	const sentinel = "CHATTY-STRAY-OUTPUT" // chatty's Sentinel
	ctx := context.Background()

	logs := &syncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})
	c, err := host.Launch(ctx, host.Config{Name: "chatty", Path: bin, SHA256: sum, Env: []string{"CHATTY=during"}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		var n int
		var cursor []byte
		err := c.Read(ctx, host.ReadRequest{Settings: []byte(`{}`)}, func(b sdk.Batch) error {
			n += len(b.Records)
			cursor = b.Cursor
			return nil
		})
		if err != nil || n != 3 || string(cursor) != "3" {
			t.Fatalf("read %d: %d records, cursor %q, %v; want 3 records and cursor 3", round+1, n, cursor, err)
		}
	}
	c.Close()
	if strings.Contains(logs.String(), sentinel) {
		t.Errorf("the connector's stdout reached the log:\n%s", logs.String())
	}

	_, err = host.Launch(ctx, host.Config{Name: "chatty", Path: bin, SHA256: sum, Env: []string{"CHATTY=before"}, Logger: hclog.NewNullLogger()})
	if err == nil || !strings.Contains(err.Error(), `connector "chatty"`) || !strings.Contains(err.Error(), "standard output") {
		t.Fatalf("a connector printing before the handshake: %v, want a start error naming it and saying why", err)
	}
	if strings.Contains(err.Error(), sentinel) {
		t.Errorf("the start error quotes what the connector printed: %v", err)
	}
	t.Logf("start error: %v", err)
}
