package federation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs a JetStream-enabled nats-server (Debian's package, which
// .ci/run installs) on a free port and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	natsServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return startNATSOn(t, port)
}

// startNATSOn runs nats-server on port.
func startNATSOn(t *testing.T, port int) string {
	t.Helper()
	bin := natsServer(t)
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan struct{})
	var out strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Server is ready") {
				close(ready)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("nats-server did not start:\n%s", out.String())
	}
	return fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// natsServer is the nats-server binary; the test is skipped without one.
func natsServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's, when /usr/sbin is not on PATH
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip("nats-server is not installed (apt-get install nats-server)")
		}
	}
	return bin
}

// eventually waits for cond, with a guard against hanging forever.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// natsAdmin is a test's own view of the server.
func natsAdmin(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// drained says whether the region's consumer has nothing left to deliver
// and nothing waiting for an acknowledgement.
func drained(t *testing.T, js jetstream.JetStream) bool {
	c, err := js.Consumer(context.Background(), JetStreamStream, JetStreamDurable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

// consumed records what a test's handler saw.
type consumed struct {
	mu      sync.Mutex
	calls   map[string]int // by envelope bytes
	handled map[string]int // returned nil
}

func (c *consumed) get(m map[string]int, k []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[string(k)]
}

func startConsumer(t *testing.T, url string, handle func(ctx context.Context, env []byte, call int) error) *consumed {
	t.Helper()
	seen := &consumed{calls: map[string]int{}, handled: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c := &JetStreamConsumer{URL: url, NakDelay: func(int) time.Duration { return 50 * time.Millisecond },
		Handle: func(ctx context.Context, env []byte) error {
			seen.mu.Lock()
			seen.calls[string(env)]++
			call := seen.calls[string(env)]
			seen.mu.Unlock()
			err := handle(ctx, env, call)
			if err == nil {
				seen.mu.Lock()
				seen.handled[string(env)]++
				seen.mu.Unlock()
			}
			return err
		}}
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return seen
}

// TestJetStreamUplink: envelopes go from the outbox through watermill-nats
// to the stream and the region's durable consumer, which verifies them; a
// transient failure of the handler is redelivered; a copy published again
// with the same dedup key (a crash before the outbox's commit) is stored
// and handled once.
func TestJetStreamUplink(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	admin := natsAdmin(t, url)
	st, clk := openClockedStore(t)
	key := newKey(t)
	sent := enqueueReleases(t, st, key, "2025-Q1", "2025-Q2")

	pub, err := NewJetStreamPublisher(url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	u, err := NewUplink(st, UplinkConfig{Territory: territory, Publisher: pub, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if n := deliverDue(t, u); n != 2 {
		t.Fatalf("delivered %d, want 2", n)
	}
	// The crash: the same envelope published again under its dedup key.
	for k, raw := range sent {
		subject, _ := EnvelopeSubject(territory)
		if err := pub.Publish(subject, message.NewMessage(k, raw)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := admin.Stream(context.Background(), JetStreamStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 || info.Config.Duplicates != JetStreamDuplicateWindow {
		t.Errorf("stream holds %d messages (want 2), duplicate window %s", info.State.Msgs, info.Config.Duplicates)
	}

	trusted := trust(key)
	first := sent[DedupKey(territory, "2025-Q1", 0)]
	seen := startConsumer(t, url, func(_ context.Context, env []byte, call int) error {
		if _, err := Verify(env, trusted); err != nil {
			return Permanent(err)
		}
		if string(env) == string(first) && call == 1 {
			return errors.New("region store busy")
		}
		return nil
	})
	eventually(t, "both envelopes handled", func() bool {
		for _, raw := range sent {
			if seen.get(seen.handled, raw) == 0 {
				return false
			}
		}
		return true
	})
	eventually(t, "the consumer acknowledged everything", func() bool { return drained(t, admin) })
	for k, raw := range sent {
		wantCalls := 1
		if string(raw) == string(first) {
			wantCalls = 2
		}
		if h, c := seen.get(seen.handled, raw), seen.get(seen.calls, raw); h != 1 || c != wantCalls {
			t.Errorf("%s: handled %d times in %d calls; want once in %d", k, h, c, wantCalls)
		}
	}
}

// TestJetStreamPermanentTerminated: a message the handler refuses for good
// is terminated, not redelivered.
func TestJetStreamPermanentTerminated(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	admin := natsAdmin(t, url)
	pub, err := NewJetStreamPublisher(url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	subject, _ := EnvelopeSubject(territory)
	bad, good := []byte(`{"tampered":true}`), []byte(`{"fine":true}`)
	for i, b := range [][]byte{bad, good} {
		if err := pub.Publish(subject, message.NewMessage(fmt.Sprint("k", i), b)); err != nil {
			t.Fatal(err)
		}
	}
	seen := startConsumer(t, url, func(_ context.Context, env []byte, _ int) error {
		if string(env) == string(bad) {
			return Permanent(ErrTampered)
		}
		return nil
	})
	eventually(t, "the good message handled", func() bool { return seen.get(seen.handled, good) == 1 })
	eventually(t, "the consumer acknowledged everything", func() bool { return drained(t, admin) })
	if c := seen.get(seen.calls, bad); c != 1 {
		t.Errorf("the refused message was handed over %d times, want 1", c)
	}
}

func TestEnvelopeSubject(t *testing.T) {
	t.Parallel()
	if s, err := EnvelopeSubject(territory); err != nil || s != "snodo.envelopes."+territory {
		t.Errorf("%q %v", s, err)
	}
	for _, bad := range []string{"", "a.b", "X*", "X>", "lower"} {
		if _, err := EnvelopeSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestJetStreamServerDown: with the NATS server down, publishing fails at
// once and the envelope stays in the outbox; when the server comes up, it
// is delivered, once.
func TestJetStreamServerDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)

	st, clk := openClockedStore(t)
	key := newKey(t)
	enqueueReleases(t, st, key, "2025-Q2")
	pub, err := NewJetStreamPublisher(url) // the server is down: connects later
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	u, err := NewUplink(st, UplinkConfig{Territory: territory, Publisher: pub, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.Add(time.Hour)
		if n := deliverDue(t, u); n != 0 {
			t.Fatalf("delivered %d with the server down", n)
		}
	}
	if p := pendingAll(t, st, clk); len(p) != 1 || p[0].Attempts != 3 || FailureIsPermanent(p[0].LastError) {
		t.Fatalf("pending %+v, want the envelope with 3 transient failures", p)
	}

	startNATSOn(t, port)
	eventually(t, "delivery once the server is up", func() bool {
		clk.Add(time.Hour)
		return deliverDue(t, u) == 1
	})
	admin := natsAdmin(t, url)
	s, err := admin.Stream(context.Background(), JetStreamStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(context.Background()); err != nil || info.State.Msgs != 1 {
		t.Errorf("stream: %+v %v, want 1 message", info, err)
	}
}
