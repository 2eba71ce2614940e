package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// e2eEpochs are released by every territory of TestFederationEndToEnd:
// three quarters (1/16 of ρ each) and the year (3/4), 15/16 of the cap.
var e2eEpochs = []string{"2025-Q1", "2025-Q2", "2025-Q3", "2025"}

// e2eTerritory is one territory hub of TestFederationEndToEnd.
type e2eTerritory struct {
	code     string
	cfg      string // its snodo.yaml
	dir      string
	nats     bool // its uplink is JetStream, not HTTP
	enrolled bool
	ids      []string // its person ids
	secrets  []string // identifiers, names, record ids and free text it holds
	hub      *hubProcess
}

// TestFederationEndToEnd is issue 6's "done when": three territory hubs
// and a region hub, each "snodo run" or "snodo region serve" as a process,
// two territories over HTTP (through a proxy that records every byte) and
// one over a real NATS JetStream server, a fourth territory not enrolled.
// The region is down while the territories release and for a simulated 90
// days (their outboxes aged by 90 days between two runs); when it comes up
// it receives every release exactly once, and sums them with "3 of 3
// territories". Tampered, replayed, unenrolled and over-budget envelopes
// are refused with their reason, over HTTP and JetStream. Nothing sent
// upward holds a person id, an identifier, a name or free text.
func TestFederationEndToEnd(t *testing.T) {
	t.Parallel()
	natsBin := natsServerBin(t)
	bin, err := snodoBin()
	if err != nil {
		t.Fatal(err)
	}

	natsURL := startNATSServer(t, natsBin)
	regionCfg := regionHub(t)
	proxy := newUplinkRecorder(t) // no region behind it yet

	territories := []*e2eTerritory{
		{code: "ATS-NORD", enrolled: true},
		{code: "ATS-SUD", enrolled: true},
		{code: "ATS-EST", enrolled: true, nats: true},
		{code: "ATS-OVEST"}, // has a key, but the region never enrolled it
	}
	terr := map[string]*e2eTerritory{}
	for i, tr := range territories {
		terr[tr.code] = tr
		tr.cfg, tr.ids, tr.secrets = federationTerritoryHub(t, tr.code, i, 60)
		tr.dir = filepath.Dir(tr.cfg)
		section := "\nfederation:\n  region_url: " + proxy.URL() + "\n"
		if tr.nats {
			section = "\nfederation:\n  nats_url: " + natsURL + "\n"
		}
		appendTo(t, tr.cfg, section)
		if tr.enrolled {
			pub := filepath.Join(tr.dir, "keys", "signing.key.pub")
			if code, _, stderr := snodo(t, "", "region", "enrol", "--territory", tr.code, "--key", pub, "--name", "Ambito "+tr.code, "--config", regionCfg); code != 0 {
				t.Fatalf("enrol %s: exit %d: %s", tr.code, code, stderr)
			}
		}
	}
	code, viewer, stderr := snodo(t, "", "region", "tokens", "create", "--name", "e2e", "--config", regionCfg)
	if code != 0 {
		t.Fatalf("region tokens create: exit %d: %s", code, stderr)
	}
	viewer = strings.TrimSpace(viewer)

	// The region is down: nothing listens behind the proxy. The hubs run
	// and the territories release while it is.
	for _, tr := range territories {
		tr.hub = startHub(t, tr.cfg)
	}
	for _, tr := range territories {
		tr.hub.waitAPI(t)
	}
	for _, tr := range territories {
		for _, e := range e2eEpochs {
			if code, out, stderr := snodo(t, "", "stats", "release", "--epoch", e, "--config", tr.cfg); code != 0 {
				t.Fatalf("%s: release %s: exit %d: %s\n%s", tr.code, e, code, stderr, out)
			}
		}
	}
	// Each "snodo run" tries its envelopes on its next pass: over HTTP the
	// proxy answers 502 (no region) and they wait; over JetStream the
	// stream takes them, for the region to read when it comes.
	attempts := map[string]int{} // territory/epoch → attempts before the restart
	waitUntil(t, "every hub's uplink made a pass over its releases", func() bool {
		for _, tr := range territories {
			rep := federateStatusOf(t, tr.cfg)
			if len(rep.Envelopes) != len(e2eEpochs) {
				return false
			}
			for _, e := range rep.Envelopes {
				if (tr.nats && e.State != "delivered") || (!tr.nats && (e.State != "failed" || e.Attempts < 1)) {
					return false
				}
				attempts[tr.code+"/"+e.Epoch] = e.Attempts
			}
		}
		return true
	})
	for _, x := range proxy.exchanges() {
		if x.Status != http.StatusBadGateway {
			t.Fatalf("with the region down the proxy answered %d to %s", x.Status, x.Key)
		}
	}

	// 90 days pass: the hubs stop, everything they recorded is moved 90
	// days back (as if they had been waiting all that time), they start
	// again and keep failing while the region stays down.
	for _, tr := range territories {
		if err := tr.hub.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range territories {
		if code := tr.hub.wait(t); code != 0 {
			t.Fatalf("%s: snodo run after SIGTERM: exit %d:\n%s", tr.code, code, tr.hub.logText())
		}
		ageHub(t, filepath.Join(tr.dir, "snodo.db"), 90*24*time.Hour)
	}
	ninetyDaysAgo := time.Now().Add(-89 * 24 * time.Hour)
	for _, tr := range territories {
		for _, e := range federateStatusOf(t, tr.cfg).Envelopes {
			if !e.CreatedAt.Before(ninetyDaysAgo) {
				t.Fatalf("%s %s: queued at %v after ageing, want 90 days ago", tr.code, e.Epoch, e.CreatedAt)
			}
		}
		tr.hub = startHub(t, tr.cfg)
	}
	for _, tr := range territories {
		tr.hub.waitAPI(t)
	}
	waitUntil(t, "the restarted hubs retried with the region still down", func() bool {
		for _, tr := range territories {
			if tr.nats {
				continue
			}
			for _, e := range federateStatusOf(t, tr.cfg).Envelopes {
				if e.State != "failed" || e.Attempts <= attempts[tr.code+"/"+e.Epoch] {
					return false
				}
			}
		}
		return true
	})
	code, out, _ := snodo(t, "", "federate", "status", "--config", terr["ATS-NORD"].cfg)
	if code != 0 || !strings.Contains(out, "failed") || !strings.Contains(out, "502 Bad Gateway") {
		t.Errorf("federate status with the region down: exit %d\n%s", code, out)
	}

	// The region comes up, on HTTP (the proxy now forwards to it) and on
	// the JetStream stream.
	regionBase, region := startRegion(t, bin, regionCfg, natsURL)
	proxy.setTarget(t, regionBase)
	waitUntil(t, "the enrolled territories' outboxes are empty and the unenrolled one's refused", func() bool {
		for _, tr := range territories {
			for _, e := range federateStatusOf(t, tr.cfg).Envelopes {
				if (tr.enrolled && e.State != "delivered") || (!tr.enrolled && !federation.FailureIsPermanent(e.LastError)) {
					return false
				}
			}
		}
		return len(regionEnvelopes(t, regionCfg)) == 3*len(e2eEpochs)
	})

	// Exactly once: each release stored once, accepted once in the log,
	// and byte for byte what its territory sent.
	held := regionEnvelopes(t, regionCfg)
	sent := map[string][]byte{} // territory/epoch/revision → the bytes sent
	for _, x := range proxy.exchanges() {
		if x.Status != http.StatusBadGateway {
			sent[x.Key] = x.Body
		}
	}
	streamed := jetStreamMessages(t, natsURL)
	if len(streamed) != len(e2eEpochs) {
		t.Errorf("the JetStream stream holds %d messages, want the %d releases of ATS-EST once each", len(streamed), len(e2eEpochs))
	}
	for _, m := range streamed {
		var h struct {
			Territory, Epoch string
			Revision         int
		}
		if err := json.Unmarshal(m.Data, &h); err != nil {
			t.Fatalf("a JetStream message is not JSON: %v", err)
		}
		if m.Subject != federation.JetStreamSubjectPrefix+h.Territory {
			t.Errorf("envelope of %s published on %s", h.Territory, m.Subject)
		}
		sent[fmt.Sprintf("%s/%s/%d", h.Territory, h.Epoch, h.Revision)] = m.Data
	}
	trusted := federation.TrustedKeys{}
	for _, tr := range territories {
		if !tr.enrolled {
			continue
		}
		key, err := keyring.LoadSigningKey(filepath.Join(tr.dir, "keys", "signing.key"))
		if err != nil {
			t.Fatal(err)
		}
		trusted.Add(tr.code, key.Public().(ed25519.PublicKey))
	}
	for _, tr := range territories {
		for _, e := range e2eEpochs {
			k := tr.code + "/" + e + "/0"
			b, ok := held[k]
			if tr.enrolled != ok {
				t.Errorf("%s: held by the region: %v", k, ok)
				continue
			}
			if !ok {
				continue
			}
			if !bytes.Equal(b, sent[k]) {
				t.Errorf("%s: the region holds other bytes than those sent", k)
			}
			if _, err := federation.Verify(b, trusted); err != nil {
				t.Errorf("%s: the envelope held does not verify: %v", k, err)
			}
		}
	}
	entries := intakeLog(t, regionBase, viewer)
	accepted := map[string]int{}
	for _, e := range entries {
		switch {
		case e.Outcome == "accepted":
			accepted[e.key()]++
		case e.Outcome == "refused" && e.Territory == "ATS-OVEST":
			if !strings.Contains(e.Reason, "not enrolled") {
				t.Errorf("intake log: ATS-OVEST refused for %q, want \"not enrolled\"", e.Reason)
			}
		default:
			t.Errorf("intake log before any attack: %s %s: %s", e.Outcome, e.key(), e.Reason)
		}
	}
	if len(accepted) != 3*len(e2eEpochs) {
		t.Errorf("intake log: %d releases accepted, want %d", len(accepted), 3*len(e2eEpochs))
	}
	for k, n := range accepted {
		if n != 1 || held[k] == nil {
			t.Errorf("intake log: %s accepted %d times (held: %v)", k, n, held[k] != nil)
		}
	}
	for _, tr := range territories {
		rep := federateStatusOf(t, tr.cfg)
		for _, e := range rep.Envelopes {
			if tr.enrolled && !e.CreatedAt.Before(ninetyDaysAgo) {
				t.Errorf("%s %s: queued at %v, want 90 days before its delivery", tr.code, e.Epoch, e.CreatedAt)
			}
		}
		code, out, _ := snodo(t, "", "federate", "status", "--config", tr.cfg)
		if code != 0 {
			t.Errorf("%s: federate status: exit %d", tr.code, code)
		}
		waiting := strings.Contains(out, " pending ") || strings.Contains(out, " failed ") || strings.Contains(out, "last error")
		if tr.enrolled && waiting {
			t.Errorf("%s: federate status says something is waiting:\n%s", tr.code, out)
		}
		if !tr.enrolled && (!strings.Contains(out, "last error: permanent: the region answered 401") || !strings.Contains(out, "not enrolled")) {
			t.Errorf("%s: federate status does not say the region refused its key:\n%s", tr.code, out)
		}
	}
	for _, x := range proxy.exchanges() {
		if !strings.HasPrefix(x.Key, "ATS-OVEST/") || x.Status == http.StatusBadGateway {
			continue
		}
		p := problemOf(x.Response)
		if x.Status != http.StatusUnauthorized || !strings.Contains(p.Detail, "not enrolled") {
			t.Errorf("the region answered ATS-OVEST's %s with %d %q, want 401 naming the key not enrolled", x.Key, x.Status, p.Detail)
		}
	}
	code, out, _ = snodo(t, "", "region", "territories", "--config", regionCfg)
	if code != 0 {
		t.Fatalf("region territories: exit %d", code)
	}
	for _, tr := range territories {
		// One active key, the four envelopes; the last epoch is the last
		// to arrive, in whatever order the backlog went.
		row := regexp.MustCompile(`(?m)^` + tr.code + `\s.*\s1\s+4\s+2025(-Q[1-3])?\s*$`)
		if tr.enrolled != row.MatchString(out) || !tr.enrolled && strings.Contains(out, tr.code) {
			t.Errorf("region territories: %s (enrolled %v) not as expected:\n%s", tr.code, tr.enrolled, out)
		}
	}
	var agg struct {
		Sums []struct {
			Measure      string `json:"measure"`
			CoverageText string `json:"coverage_text"`
		} `json:"sums"`
	}
	if c := apiGet(t, regionBase, viewer, "/api/v1/region/aggregate?indicator=referral-acceptance&epoch=2025", &agg); c != http.StatusOK || len(agg.Sums) == 0 {
		t.Fatalf("aggregate: %d %+v", c, agg)
	}
	for _, s := range agg.Sums {
		if s.CoverageText != "3 of 3 territories" {
			t.Errorf("aggregate of %s: coverage %q, want 3 of 3 territories", s.Measure, s.CoverageText)
		}
	}

	// Every byte sent upward: no person id, identifier, name, record id or
	// free text.
	var secrets []string
	for _, tr := range territories {
		secrets = append(secrets, tr.ids...)
		secrets = append(secrets, tr.secrets...)
	}
	scanned := 0
	for _, x := range proxy.exchanges() {
		noSecret(t, "an HTTP request to the region ("+x.Key+")", append(slices.Clone(x.Head), x.Body...), secrets)
		noFreeText(t, "the envelope "+x.Key+" over HTTP", x.Body)
		scanned++
	}
	for _, m := range streamed {
		head, _ := json.Marshal(m.Header)
		noSecret(t, "a JetStream message on "+m.Subject, append(append(head, m.Subject...), m.Data...), secrets)
		noFreeText(t, "a JetStream envelope on "+m.Subject, m.Data)
		scanned++
	}
	if scanned < 3*len(e2eEpochs) {
		t.Fatalf("only %d messages scanned", scanned)
	}
	statuses := map[int]int{}
	for _, x := range proxy.exchanges() {
		statuses[x.Status]++
	}
	t.Logf("scanned %d HTTP requests (answers by status %v) and %d JetStream messages", len(proxy.exchanges()), statuses, len(streamed))

	// Refusals, each with its reason in the answer and in the intake log.
	nord := sent["ATS-NORD/2025-Q1/0"]
	post := func(what string, body []byte) (int, []byte) {
		t.Helper()
		res, err := http.Post(regionBase+federation.IntakePath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	// lastEntry is the intake log's last entry for these bytes.
	lastEntry := func(envelope []byte) logEntry {
		t.Helper()
		sum := sha256.Sum256(envelope)
		want := hex.EncodeToString(sum[:])
		es := intakeLog(t, regionBase, viewer)
		for i := len(es) - 1; i >= 0; i-- {
			if es[i].SHA256 == want {
				return es[i]
			}
		}
		t.Fatalf("the intake log has no entry for %s…", want[:12])
		return logEntry{}
	}

	// (1) Tampered: one published value changed after signing.
	tampered := changeOneValue(t, sent["ATS-SUD/2025/0"])
	status, body := post("tampered", tampered)
	if p := problemOf(body); status != http.StatusUnauthorized || !strings.Contains(p.Detail, "signature does not match") {
		t.Errorf("tampered envelope: %d %q, want 401 naming the signature", status, p.Detail)
	}
	if e := lastEntry(tampered); e.Outcome != "refused" || !strings.Contains(e.Reason, "signature does not match") {
		t.Errorf("intake log of the tampered envelope: %s %q", e.Outcome, e.Reason)
	}

	// (2) Replayed: the same envelope again is not stored twice.
	status, body = post("replayed", nord)
	var rc struct {
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal(body, &rc); err != nil || status != http.StatusOK || rc.Outcome != "duplicate" {
		t.Errorf("replayed envelope: %d %s, want 200 duplicate", status, body)
	}
	if e := lastEntry(nord); e.Outcome != "duplicate" {
		t.Errorf("intake log of the replayed envelope: %s %q, want duplicate", e.Outcome, e.Reason)
	}

	// (3) Unenrolled: ATS-OVEST's releases came through its own uplink
	// (checked above); one of them posted again says the same.
	status, body = post("unenrolled", firstSent(t, proxy, "ATS-OVEST/2025/0"))
	if p := problemOf(body); status != http.StatusUnauthorized || !strings.Contains(p.Detail, "not enrolled") {
		t.Errorf("unenrolled territory: %d %q, want 401 not enrolled", status, p.Detail)
	}

	// (4) Over budget: ATS-NORD's own key signs a revision of 2025 that
	// spends the annual ρ again. The envelope claims only its own ρ as the
	// year's cumulative, under the cap; the region's account of what it
	// holds from ATS-NORD (15/16) says otherwise.
	nordKey, err := keyring.LoadSigningKey(filepath.Join(terr["ATS-NORD"].dir, "keys", "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	var rev federation.Envelope
	if err := json.Unmarshal(sent["ATS-NORD/2025/0"], &rev); err != nil {
		t.Fatal(err)
	}
	rev.Revision, rev.Signature = 1, nil
	rev.Budget.RhoCumulative = rev.Budget.RhoSpent
	rev.CreatedAt = time.Now().UTC().Format(time.RFC3339Nano)
	overBudget, err := federation.Sign(&rev, nordKey)
	if err != nil {
		t.Fatalf("sign the over-budget revision: %v", err)
	}
	status, body = post("over budget", overBudget)
	if p := problemOf(body); status != http.StatusUnprocessableEntity || !strings.Contains(p.Detail, "over budget") {
		t.Errorf("over-budget envelope: %d %q, want 422 saying over budget", status, p.Detail)
	}
	if e := lastEntry(overBudget); e.Outcome != "refused" || !strings.Contains(e.Reason, "over budget") {
		t.Errorf("intake log of the over-budget envelope: %s %q", e.Outcome, e.Reason)
	}

	// A tampered envelope on the JetStream subject: refused and logged.
	natsTampered := changeOneValue(t, sent["ATS-EST/2025/0"])
	pub, err := federation.NewJetStreamPublisher(natsURL, federation.NATSAccess{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	subject, err := federation.EnvelopeSubject("ATS-EST")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(subject, message.NewMessage("e2e-tampered", natsTampered)); err != nil {
		t.Fatal(err)
	}
	natsSum := sha256.Sum256(natsTampered)
	var natsEntry logEntry
	waitUntil(t, "the region logs the tampered JetStream envelope", func() bool {
		for _, e := range intakeLog(t, regionBase, viewer) {
			if e.SHA256 == hex.EncodeToString(natsSum[:]) {
				natsEntry = e
				return true
			}
		}
		return false
	})
	if natsEntry.Outcome != "refused" || !strings.Contains(natsEntry.Reason, "signature does not match") {
		t.Errorf("intake log of the tampered JetStream envelope: %s %q", natsEntry.Outcome, natsEntry.Reason)
	}

	// Nothing of the attacks was stored; the log's chain holds.
	if after := regionEnvelopes(t, regionCfg); !maps.EqualFunc(after, held, bytes.Equal) {
		t.Errorf("the region holds %d envelopes after the attacks, want the same %d as before", len(after), len(held))
	}
	n := len(intakeLog(t, regionBase, viewer))
	if code, out, _ := snodo(t, "", "region", "log", "verify", "--config", regionCfg); code != 0 || out != fmt.Sprintf("ok: %d entries\n", n) {
		t.Errorf("region log verify: exit %d %q, want ok: %d entries", code, out, n)
	}
	if t.Failed() {
		t.Logf("region log:\n%s", region.String())
	}
}

// federationTerritoryHub makes a territory hub with "snodo init" and
// stores n people through the store, each with a referral authored in
// the first three quarters of 2025; some referrals carry a status reason
// in free text naming the person. It returns the configuration, the
// person ids and what else must never leave the hub: the codici fiscali
// and their digests, the names, the record ids, the free text.
func federationTerritoryHub(t *testing.T, code string, nth, n int) (cfg string, personIDs, secrets []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if c, _, stderr := snodo(t, "", "init", dir, "--territory", code, "--name", "Ambito "+code); c != 0 {
		t.Fatalf("init %s: exit %d: %s", code, c, stderr)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := []string{"Giuseppina", "Ottavio", "Marisa", "Ilario", "Concetta", "Brunello"}
	last := []string{"Esposito", "Brambilla", "Quagliarella", "Zanchetta", "Locatelli"}
	for i := range n {
		cf := fmt.Sprintf("RSSMRA80A%02dH%03d%c", 1+i%28, nth*100+i, 'A'+rune(i%26))
		digest := sha256.Sum256([]byte(cf))
		pid, _, err := st.ResolvePerson(ctx, digest[:], identity.KindCF, identity.NewPersonID())
		if err != nil {
			t.Fatal(err)
		}
		name := first[i%len(first)] + " " + last[(i/len(first))%len(last)]
		note := name + " vive con la madre, sfratto esecutivo a marzo"
		recordID := fmt.Sprintf("REF-%s-%05d", code, i)
		personIDs = append(personIDs, pid)
		secrets = append(secrets, cf, hex.EncodeToString(digest[:]), base64.StdEncoding.EncodeToString(digest[:]),
			base64.RawURLEncoding.EncodeToString(digest[:]), name, recordID, note)
		authored := time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC).AddDate(0, 0, (i*7)%260)
		r := store.Referral{Source: "cartella", RecordID: recordID, Requester: "ORG-A", Owner: "ORG-B",
			Priority: "routine", Category: "housing-instability", Status: "requested", AuthoredOn: authored, StatusAt: authored,
			Delivery: store.DeliveryLocal, PersonID: pid, StatusReason: note}
		if i%3 != 0 {
			r.Status, r.RespondedAt = "accepted", authored.Add(30*time.Hour)
		}
		putReferral(t, st, r)
	}
	secrets = append(secrets, "sfratto", "Quagliarella", "Brambilla", "Zanchetta", "Locatelli", "Esposito")
	return filepath.Join(dir, "snodo.yaml"), personIDs, secrets
}

// natsServerBin is Debian's nats-server: the test is skipped without it,
// except in CI, where .ci/run installs it.
func natsServerBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err == nil {
		return bin
	}
	if bin = "/usr/sbin/nats-server"; fileExists(bin) {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nats-server is not installed: .ci/run installs it (apt-get install nats-server)")
	}
	t.Skip("nats-server is not installed (apt-get install nats-server)")
	return ""
}

// startNATSServer runs nats-server with JetStream on a free port and a
// temporary store, and returns its URL once it accepts connections.
func startNATSServer(t *testing.T, bin string) string {
	t.Helper()
	addr, err := freeAddr("")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	var out lockedBuffer
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", port, "-sd", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "nats://" + addr
	waitUntil(t, "nats-server accepts connections", func() bool {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
	return url
}

// startRegion runs "snodo region serve" as a process on a free port and
// waits for its health check. It returns its base URL, and its log for
// diagnostics.
func startRegion(t *testing.T, bin, cfg, natsURL string) (string, *lockedBuffer) {
	t.Helper()
	var logBuf lockedBuffer
	cmd := exec.Command(bin, "region", "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--nats", natsURL)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	var base string
	waitUntil(t, "the region answers /healthz", func() bool {
		select {
		case <-done:
			t.Fatalf("snodo region serve exited:\n%s", logBuf.String())
		default:
		}
		if base == "" {
			for line := range strings.Lines(logBuf.String()) {
				var entry struct{ Msg, API string }
				if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "region hub running" {
					base = entry.API
				}
			}
			if base == "" {
				return false
			}
		}
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return base, &logBuf
}

// waitUntil polls cond until it holds; after a minute it fails the test
// (a guard against hanging, not a measurement).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after a minute: %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func federateStatusOf(t *testing.T, cfg string) federateReport {
	t.Helper()
	code, out, stderr := snodo(t, "", "federate", "status", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("federate status: exit %d: %s", code, stderr)
	}
	var rep federateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("federate status --json: %v", err)
	}
	return rep
}

// ageHub moves every time the hub recorded about its releases and its
// outbox back by d, as if they had been made d ago: the simulated wait.
func ageHub(t *testing.T, dbPath string, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const layout = "2006-01-02T15:04:05.000000000Z07:00" // the store's
	for _, tc := range [][2]string{
		{"outbox", "created_at"}, {"outbox", "next_attempt_at"}, {"outbox", "delivered_at"},
		{"releases", "created_at"}, {"budget_ledger", "recorded_at"},
	} {
		table, col := tc[0], tc[1]
		rows, err := db.Query(`SELECT rowid, ` + col + ` FROM ` + table + ` WHERE ` + col + ` IS NOT NULL`)
		if err != nil {
			t.Fatalf("age %s.%s: %v", table, col, err)
		}
		type row struct {
			id int64
			at string
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.at); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		rows.Close()
		// Only an outbox that delivered nothing yet (over HTTP, the region
		// down) has no delivered_at to move.
		if len(rs) == 0 && col != "delivered_at" {
			t.Fatalf("age %s.%s: no rows", table, col)
		}
		for _, r := range rs {
			at, err := time.Parse(time.RFC3339Nano, r.at)
			if err != nil {
				t.Fatalf("age %s.%s: %v", table, col, err)
			}
			if _, err := db.Exec(`UPDATE `+table+` SET `+col+` = ?1 WHERE rowid = ?2`, at.Add(-d).UTC().Format(layout), r.id); err != nil {
				t.Fatalf("age %s.%s: %v", table, col, err)
			}
		}
	}
}

// regionEnvelopes reads the envelopes the region holds, by
// territory/epoch/revision.
func regionEnvelopes(t *testing.T, regionCfg string) map[string][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(regionCfg), "region.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT territory, epoch, revision, bytes FROM region_envelopes`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var ter, epoch string
		var rev int
		var b []byte
		if err := rows.Scan(&ter, &epoch, &rev, &b); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s/%s/%d", ter, epoch, rev)
		if out[k] != nil {
			t.Fatalf("the region holds %s twice", k)
		}
		out[k] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type logEntry struct {
	Seq       int64  `json:"seq"`
	Territory string `json:"territory"`
	Epoch     string `json:"epoch"`
	Revision  *int   `json:"revision"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
	SHA256    string `json:"sha256"`
}

func (e logEntry) key() string {
	rev := -1
	if e.Revision != nil {
		rev = *e.Revision
	}
	return fmt.Sprintf("%s/%s/%d", e.Territory, e.Epoch, rev)
}

func intakeLog(t *testing.T, base, token string) []logEntry {
	t.Helper()
	var l struct {
		Entries []logEntry `json:"entries"`
	}
	if c := apiGet(t, base, token, "/api/v1/region/intake-log?limit=10000", &l); c != http.StatusOK {
		t.Fatalf("intake log: %d", c)
	}
	return l.Entries
}

type problemBody struct {
	Type, Title, Detail string
	Status              int
}

func problemOf(b []byte) problemBody {
	var p problemBody
	_ = json.Unmarshal(b, &p)
	return p
}

// changeOneValue returns the envelope with one published value changed,
// its signature kept.
func changeOneValue(t *testing.T, envelope []byte) []byte {
	t.Helper()
	var e federation.Envelope
	if err := json.Unmarshal(envelope, &e); err != nil {
		t.Fatal(err)
	}
	for i := range e.Cells {
		if v := e.Cells[i].Value; v != nil {
			changed := *v + 1
			e.Cells[i].Value = &changed
			b, err := json.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("the envelope of %s %s publishes no value", e.Territory, e.Epoch)
	return nil
}

// firstSent returns the body of the first request the proxy recorded for
// key.
func firstSent(t *testing.T, p *uplinkRecorder, key string) []byte {
	t.Helper()
	for _, x := range p.exchanges() {
		if x.Key == key {
			return x.Body
		}
	}
	t.Fatalf("the proxy recorded no request for %s", key)
	return nil
}

// noSecret fails when data holds any of secrets (case-insensitively).
func noSecret(t *testing.T, what string, data []byte, secrets []string) {
	t.Helper()
	lower := bytes.ToLower(data)
	for _, s := range secrets {
		if bytes.Contains(lower, bytes.ToLower([]byte(s))) {
			t.Errorf("%s holds something personal (%d characters long)", what, len(s))
			return
		}
	}
}

// noFreeText fails unless every string of the envelope (member names
// included) is where the envelope schema puts it and matches the schema's
// pattern, const or enum there: codes, rationals, times, the key id and
// the signature. Nothing of free form can ride along.
func noFreeText(t *testing.T, what string, envelope []byte) {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(schemas.EnvelopeSchemaSource(), &root); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(envelope))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Errorf("%s is not JSON: %v", what, err)
		return
	}
	strs := 0
	for _, p := range walkStrings(root, root, doc, "", &strs) {
		t.Errorf("%s: %s", what, p)
	}
	if strs == 0 {
		t.Errorf("%s: no string checked", what)
	}
}

func resolveSchema(root, node map[string]any) map[string]any {
	if ref, ok := node["$ref"].(string); ok {
		defs, _ := root["$defs"].(map[string]any)
		target, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		return resolveSchema(root, target)
	}
	return node
}

// walkStrings checks the strings of v against the schema node; it
// returns the problems, each at its JSON pointer, never quoting the value.
func walkStrings(root, node map[string]any, v any, ptr string, n *int) []string {
	node = resolveSchema(root, node)
	if node == nil {
		return []string{ptr + ": not in the envelope schema"}
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			child, _ := props[k].(map[string]any)
			if child == nil {
				child, _ = node["additionalProperties"].(map[string]any)
				if names, ok := node["propertyNames"].(map[string]any); ok {
					*n++
					if err := stringAllowed(resolveSchema(root, names), k); err != "" {
						out = append(out, ptr+": a member name "+err)
					}
				} else if child != nil {
					out = append(out, ptr+": member names without a pattern")
				}
			}
			if child == nil {
				out = append(out, ptr+"/"+k+": a member the schema does not have")
				continue
			}
			out = append(out, walkStrings(root, child, x[k], ptr+"/"+k, n)...)
		}
	case []any:
		items, _ := node["items"].(map[string]any)
		for i, el := range x {
			out = append(out, walkStrings(root, items, el, fmt.Sprintf("%s/%d", ptr, i), n)...)
		}
	case string:
		*n++
		if err := stringAllowed(node, x); err != "" {
			out = append(out, ptr+": "+err)
		}
	}
	return out
}

func stringAllowed(node map[string]any, s string) string {
	if c, ok := node["const"]; ok {
		if c != s {
			return "is not the schema's constant"
		}
		return ""
	}
	if enum, ok := node["enum"].([]any); ok {
		if !slices.Contains(enum, any(s)) {
			return "is not one of the schema's values"
		}
		return ""
	}
	pat, ok := node["pattern"].(string)
	if !ok {
		return "is a string the schema does not constrain (free text)"
	}
	if !regexp.MustCompile(pat).MatchString(s) {
		return "does not match the schema's pattern " + pat
	}
	return ""
}

// jetStreamMessages reads every message of the envelopes' stream.
func jetStreamMessages(t *testing.T, natsURL string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, federation.JetStreamStream)
	if err != nil {
		t.Fatalf("stream %s: %v", federation.JetStreamStream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// uplinkRecorder is a reverse proxy in front of the region that keeps
// every request sent through it and the answer. Until it has a target
// (the region is down) it answers 502 to everything.
type uplinkRecorder struct {
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	target atomic.Pointer[url.URL]
	mu     sync.Mutex
	xs     []exchange
}

type exchange struct {
	Key      string // territory/epoch/revision the envelope claims
	Head     []byte // the request line and headers
	Body     []byte
	Status   int
	Response []byte
}

func newUplinkRecorder(t *testing.T) *uplinkRecorder {
	t.Helper()
	r := &uplinkRecorder{}
	r.rp = &httputil.ReverseProxy{
		Rewrite: func(p *httputil.ProxyRequest) { p.SetURL(r.target.Load()) },
		// The region cannot be reached: the territory gets a bare 502.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *uplinkRecorder) URL() string { return r.srv.URL }

// setTarget puts the region at base behind the proxy.
func (r *uplinkRecorder) setTarget(t *testing.T, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Fatalf("region URL %q: %v", base, err)
	}
	r.target.Store(u)
}

func (r *uplinkRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	head, _ := httputil.DumpRequest(req, false)
	var h struct {
		Territory, Epoch string
		Revision         int
	}
	_ = json.Unmarshal(body, &h)
	cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
	if r.target.Load() == nil {
		cw.WriteHeader(http.StatusBadGateway)
	} else {
		r.rp.ServeHTTP(cw, req)
	}
	r.mu.Lock()
	r.xs = append(r.xs, exchange{Key: fmt.Sprintf("%s/%s/%d", h.Territory, h.Epoch, h.Revision), Head: head, Body: body,
		Status: cw.status, Response: cw.buf.Bytes()})
	r.mu.Unlock()
}

func (r *uplinkRecorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.xs)
}

type captureWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	return c.ResponseWriter.Write(p)
}
