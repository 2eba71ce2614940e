package federation

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/snodo-hub/snodo/hub/store"
	territorytls "github.com/snodo-hub/snodo/hub/territory"
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
	runNATS(t, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", t.TempDir())
	return fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// runNATS runs nats-server with args and waits until it is ready; it is
// killed at the test's end.
func runNATS(t *testing.T, args ...string) {
	t.Helper()
	bin := natsServer(t)
	cmd := exec.Command(bin, args...)
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

	pub, u := uplinkOver(t, st, clk.Now, url, NATSAccess{})
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
	pub, err := NewJetStreamPublisher(url, NATSAccess{})
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

// TestFaultJetStreamServerDown: with the NATS server down, publishing fails at
// once and the envelope stays in the outbox; when the server comes up, it
// is delivered, once.
func TestFaultJetStreamServerDown(t *testing.T) {
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
	_, u := uplinkOver(t, st, clk.Now, url, NATSAccess{}) // the server is down: connects later
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

// natsJWT makes a NATS JWT (as nats-io/jwt v2 encodes one) for subject,
// signed by issuer: what "nsc" would write, without the nsc tool.
func natsJWT(t *testing.T, issuer nkeys.KeyPair, subject, name string, claims map[string]any) string {
	t.Helper()
	iss, err := issuer.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"jti": strings.ToUpper(name) + "JTI", "iat": time.Now().Unix(),
		"iss": iss, "sub": subject, "name": name, "nats": claims})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"ed25519-nkey"}`)) + "." + enc.EncodeToString(body)
	sig, err := issuer.Sign([]byte(signed))
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc.EncodeToString(sig)
}

// natsWithAccounts runs a JetStream nats-server in operator mode (JWT
// accounts, the way NATS deployments hand out .creds files): anonymous
// clients are refused. It returns the server's URL and a user's
// credentials file (mode 0600).
func natsWithAccounts(t *testing.T) (url, creds string) {
	t.Helper()
	natsServer(t)
	dir := t.TempDir()
	operator, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	account, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	// JetStream needs the operator's system account, even an empty one.
	system, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := operator.PublicKey()
	accPub, _ := account.PublicKey()
	sysPub, _ := system.PublicKey()
	userPub, _ := user.PublicKey()
	opJWT := natsJWT(t, operator, opPub, "op", map[string]any{"type": "operator", "version": 2, "system_account": sysPub})
	sysJWT := natsJWT(t, operator, sysPub, "SYS", map[string]any{"type": "account", "version": 2,
		"limits": map[string]any{"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true, "conn": -1, "leaf": -1}})
	accJWT := natsJWT(t, operator, accPub, "snodo", map[string]any{"type": "account", "version": 2,
		"limits": map[string]any{"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
			"conn": -1, "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1},
		"default_permissions": map[string]any{"pub": map[string]any{}, "sub": map[string]any{}}})
	userJWT := natsJWT(t, account, userPub, "uplink", map[string]any{"type": "user", "version": 2,
		"pub": map[string]any{}, "sub": map[string]any{}, "subs": -1, "data": -1, "payload": -1})
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds = filepath.Join(dir, "uplink.creds")
	content := fmt.Sprintf("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"+
		"-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", userJWT, seed)
	if err := os.WriteFile(creds, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	opFile := filepath.Join(dir, "operator.jwt")
	if err := os.WriteFile(opFile, []byte(opJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`listen: "127.0.0.1:%d"
jetstream { store_dir: %q }
operator: %q
resolver: MEMORY
system_account: %s
resolver_preload: { %s: %q, %s: %q }
`, port, filepath.Join(dir, "js"), opFile, sysPub, accPub, accJWT, sysPub, sysJWT)), 0o600); err != nil {
		t.Fatal(err)
	}
	runNATS(t, "-c", conf)
	return fmt.Sprintf("nats://127.0.0.1:%d", port), creds
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// uplinkOver is an uplink of st publishing to the NATS server at url with
// access, closed at the end of the test.
func uplinkOver(t *testing.T, st *store.Store, now func() time.Time, url string, access NATSAccess) (*JetStreamPublisher, *Uplink) {
	t.Helper()
	pub, err := NewJetStreamPublisher(url, access)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	u, err := NewUplink(st, UplinkConfig{Territory: territory, Publisher: pub, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return pub, u
}

// publishRefused publishes until the error says why (the first attempts
// may fail before nats.go has heard the server's answer) and returns it.
//
// want is matched regardless of case: nats.go words the same refusal
// "authorization violation" after its first connection attempt and
// "Authorization Violation" (the server's own text) after a reconnection
// attempt, and which one a publish meets depends on the scheduling.
func publishRefused(t *testing.T, pub *JetStreamPublisher, want string) error {
	t.Helper()
	subject, _ := EnvelopeSubject(territory)
	var last error
	deadline := time.Now().Add(60 * time.Second)
	for {
		last = pub.Publish(subject, message.NewMessage("refused", []byte(`{}`)))
		if last == nil {
			t.Fatalf("published without %s", want)
		}
		if strings.Contains(strings.ToLower(last.Error()), strings.ToLower(want)) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for a publish refused with %s; the last one said: %v", want, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJetStreamCredentials: against a NATS server that requires accounts,
// an uplink without credentials is refused and its error says the server
// refused the credentials; with the .creds file the envelope reaches the
// stream and a consumer holding the same file takes it. A credentials file
// others may read, a missing one and one that is not a .creds file are
// refused before connecting.
func TestJetStreamCredentials(t *testing.T) {
	t.Parallel()
	url, creds := natsWithAccounts(t)

	anonymous, err := NewJetStreamPublisher(url, NATSAccess{})
	if err != nil {
		t.Fatal(err)
	}
	defer anonymous.Close()
	err = publishRefused(t, anonymous, "authorization violation")
	if !strings.Contains(err.Error(), "refused this hub's credentials") {
		t.Errorf("anonymous publish: %v, want it to say the credentials were refused", err)
	}

	st, clk := openClockedStore(t)
	key := newKey(t)
	sent := enqueueReleases(t, st, key, "2025-Q1")
	_, u := uplinkOver(t, st, clk.Now, url, NATSAccess{CredentialsFile: creds})
	eventually(t, "the envelope delivered with credentials", func() bool {
		clk.Add(time.Hour)
		return deliverDue(t, u) == 1
	})

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []byte, 1)
	done := make(chan error, 1)
	c := &JetStreamConsumer{URL: url, Access: NATSAccess{CredentialsFile: creds}, Handle: func(_ context.Context, env []byte) error {
		select {
		case got <- env:
		default:
		}
		return nil
	}}
	go func() { done <- c.Run(ctx) }()
	var env []byte
	select {
	case env = <-got:
	case <-time.After(60 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the consumer with credentials received nothing")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("consumer: %v", err)
	}
	if want := sent[DedupKey(territory, "2025-Q1", 0)]; string(env) != string(want) {
		t.Errorf("consumed %q, want the envelope sent", env)
	}

	dir := t.TempDir()
	open := filepath.Join(dir, "open.creds")
	data, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	notCreds := filepath.Join(dir, "seed-only.creds")
	if err := os.WriteFile(notCreds, []byte("SUAM…\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		open:                             "readable by others (mode 0644)",
		notCreds:                         "not a NATS credentials file",
		filepath.Join(dir, "none.creds"): "no such file",
	} {
		if p, err := NewJetStreamPublisher(url, NATSAccess{CredentialsFile: file}); err == nil || !strings.Contains(err.Error(), want) {
			if p != nil {
				p.Close()
			}
			t.Errorf("%s: %v, want an error containing %q", filepath.Base(file), err, want)
		}
		c := &JetStreamConsumer{URL: url, Access: NATSAccess{CredentialsFile: file}, Handle: func(context.Context, []byte) error { return nil }}
		if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("consumer with %s: %v, want an error containing %q", filepath.Base(file), err, want)
		}
	}
}

// TestJetStreamCAFile: a NATS server with a self-signed certificate is
// reached over tls:// when its certificate is the CA file, and refused
// (unknown authority, said in the publish error) with the system's roots.
func TestJetStreamCAFile(t *testing.T) {
	t.Parallel()
	natsServer(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, _, err := territorytls.WriteSelfSignedTLS(cert, key); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`listen: "127.0.0.1:%d"
jetstream { store_dir: %q }
tls { cert_file: %q, key_file: %q }
`, port, filepath.Join(dir, "js"), cert, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	runNATS(t, "-c", conf)
	url := fmt.Sprintf("tls://127.0.0.1:%d", port)

	untrusting, err := NewJetStreamPublisher(url, NATSAccess{})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	publishRefused(t, untrusting, "certificate signed by unknown authority")

	st, clk := openClockedStore(t)
	enqueueReleases(t, st, newKey(t), "2025-Q1")
	_, u := uplinkOver(t, st, clk.Now, url, NATSAccess{CAFile: cert})
	eventually(t, "the envelope delivered over TLS with the CA file", func() bool {
		clk.Add(time.Hour)
		return deliverDue(t, u) == 1
	})

	if _, err := NewJetStreamPublisher(url, NATSAccess{CAFile: conf}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}
