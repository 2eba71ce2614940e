package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	exregion "github.com/snodo-hub/snodo/examples/region"
	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/store"
)

// sharedDemo is one small demo region, built once for the tests that need
// one ("snodo demo --headless --json" in-process): building it is the
// slowest step of the package's tests, more so under the race detector.
// Its size gives both published and unpublished rates.
type demoRun struct {
	dir, summary string
	err          error
}

var (
	demoOnce sync.Once
	demo     demoRun
)

func sharedDemo(t *testing.T) demoRun {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "snodo-demo-test-")
		if err != nil {
			demo.err = err
			return
		}
		demo.dir = dir
		code, out, stderr := snodo(t, "", "demo", "--headless", "--json", "--dir", dir, "--households", "200", "--seed", "7")
		if code != 0 {
			demo.err = fmt.Errorf("demo: exit %d\n%s", code, stderr)
		}
		demo.summary = out
	})
	if demo.err != nil {
		t.Fatal(demo.err)
	}
	return demo
}

// TestDemoHeadless runs "snodo demo --headless --json" in-process on a
// small demo and checks its summary against what the stores hold, counted
// there independently: records, persons, referrals by status, quarantine,
// and the region's envelopes.
func TestDemoHeadless(t *testing.T) {
	t.Parallel()
	d := sharedDemo(t)
	dir, out := d.dir, d.summary
	var sum demoSummary
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sum); err != nil {
		t.Fatalf("the summary is not the documented JSON: %v\n%s", err, out)
	}
	file, err := compare.LoadTerritoriesFile(bytes.NewReader(exregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Territories) != len(file.Territories) {
		t.Fatalf("%d territories in the summary, want the file's %d", len(sum.Territories), len(file.Territories))
	}
	ctx := context.Background()
	allowed := map[string]bool{} // every string the summary may hold
	sent, quarantined, answered := 0, int64(0), 0
	for i, ft := range file.Territories {
		s := sum.Territories[i]
		if s.Code != ft.Code || s.Name != ft.Name {
			t.Errorf("territory %d: %s %q, want %s %q", i, s.Code, s.Name, ft.Code, ft.Name)
		}
		allowed[ft.Code], allowed[ft.Name] = true, true
		db := filepath.Join(dir, "territories", ft.Code, "snodo.db")
		if n := sqlCount(t, db, `SELECT count(*) FROM records`); s.Records != n || n == 0 {
			t.Errorf("%s: records %d, the store holds %d", ft.Code, s.Records, n)
		}
		// Every person the pipeline made has at least one identifier.
		if n := sqlCount(t, db, `SELECT count(DISTINCT person_id) FROM person_identifiers`); s.Persons != n || n == 0 {
			t.Errorf("%s: persons %d, the store's identifiers name %d", ft.Code, s.Persons, n)
		}
		if n := sqlCount(t, db, `SELECT count(*) FROM quarantine`); s.Quarantine != n {
			t.Errorf("%s: quarantine %d, the store holds %d", ft.Code, s.Quarantine, n)
		}
		quarantined += s.Quarantine
		byStatus := referralStatuses(t, ctx, db)
		if !maps.Equal(s.Referrals, byStatus) {
			t.Errorf("%s: referrals %v, the store holds %v", ft.Code, s.Referrals, byStatus)
		}
		for status := range byStatus {
			allowed[status] = true
			if status != "requested" {
				answered++
			}
		}
		if _, live := liveModelOf(ft.Code); live != s.Live || live != (s.Loop != nil) {
			t.Errorf("%s: live %v with loop %v, want live %v", ft.Code, s.Live, s.Loop != nil, live)
		} else if live {
			checkLiveTerritory(t, dir, i, s)
			allowed[s.Loop.Model] = true
			for status := range s.Loop.Status {
				allowed[status] = true
			}
		}
		if s.EnvelopesSent != len(demoEpochs) {
			t.Errorf("%s: %d envelopes sent, want one per epoch (%d)", ft.Code, s.EnvelopesSent, len(demoEpochs))
		}
		sent += s.EnvelopesSent
	}
	if quarantined == 0 || answered == 0 {
		t.Errorf("a demo with nothing quarantined (%d) or no referral answered (%d) shows too little", quarantined, answered)
	}
	regionDB := filepath.Join(dir, "region", "region.db")
	if n := sqlCount(t, regionDB, `SELECT count(*) FROM region_envelopes`); int64(sum.Region.EnvelopesReceived) != n || n != int64(sent) {
		t.Errorf("region: %d envelopes received, the region holds %d, the territories sent %d", sum.Region.EnvelopesReceived, n, sent)
	}
	if n := sqlCount(t, regionDB, `SELECT count(DISTINCT territory) FROM region_envelopes`); sum.Region.Territories != len(file.Territories) || n != int64(len(file.Territories)) {
		t.Errorf("region: %d territories in the summary, %d in the store, want %d", sum.Region.Territories, n, len(file.Territories))
	}
	if n := sqlCount(t, regionDB, `SELECT count(DISTINCT indicator) FROM region_cells`); int64(sum.Region.Indicators) != n || n == 0 {
		t.Errorf("region: %d indicators in the summary, %d in the store", sum.Region.Indicators, n)
	}
	if n := sqlCount(t, regionDB, `SELECT count(*) FROM region_cells WHERE suppressed = 0 AND value > 0`); n == 0 {
		t.Error("the region received no published value above zero: the statistics are trivial")
	}
	// Nothing personal: the only strings are codes, names and statuses.
	var generic any
	if err := json.Unmarshal([]byte(out), &generic); err != nil {
		t.Fatal(err)
	}
	for _, s := range jsonStrings(generic) {
		if !allowed[s] {
			t.Errorf("the summary holds %q, which is not a territory's code or name or a referral status", s)
		}
	}
}

// sqlCount runs a count query on a database, read-only.
func sqlCount(t *testing.T, path, query string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %s: %v", path, query, err)
	}
	return n
}

// referralStatuses counts a territory's referrals by status from the list
// of referrals (not from the store's own counts the demo reads).
func referralStatuses(t *testing.T, ctx context.Context, db string) map[string]int64 {
	t.Helper()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.ListReferrals(ctx, store.ReferralFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rs {
		out[r.Status]++
	}
	return out
}

// jsonStrings lists every string of a decoded JSON value, keys included.
func jsonStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if !demoSummaryKeys[k] {
				out = append(out, k)
			}
			out = append(out, jsonStrings(x[k])...)
		}
		return out
	}
	return nil
}

// demoSummaryKeys are the summary's field names.
var demoSummaryKeys = map[string]bool{"territories": true, "region": true, "code": true, "name": true, "live": true, "records": true,
	"persons": true, "referrals": true, "quarantine": true, "envelopes_sent": true, "envelopes_received": true, "indicators": true,
	"live_loop": true, "model": true, "sent": true, "closed": true, "comune_status": true, "api": true}

// checkLiveTerritory checks what a live territory's loop did: the comune
// sent referrals during the live phase and every one came back closed
// into its system through the hub and the connectors; the hub holds them
// as delivered; the territory's systems were read by its connectors (its
// store has records of the simulators' own ids); and no codice fiscale or
// name of its population is in its hub's log.
func checkLiveTerritory(t *testing.T, dir string, nth int, s demoTerritorySummary) {
	t.Helper()
	if s.Loop.Sent == 0 || s.Loop.Closed != s.Loop.Sent {
		t.Errorf("%s: the comune sent %d referrals live and %d came back closed, want all of at least one", s.Code, s.Loop.Sent, s.Loop.Closed)
	}
	closed := 0
	for status, n := range s.Loop.Status {
		if comune.IsFinal(status) {
			closed += n
		}
	}
	if closed != s.Loop.Closed {
		t.Errorf("%s: %d closed, the statuses %v say %d", s.Code, s.Loop.Closed, s.Loop.Status, closed)
	}
	db := filepath.Join(dir, "territories", s.Code, "snodo.db")
	if n := sqlCount(t, db, `SELECT count(*) FROM referrals WHERE source = 'comune' AND delivery = 'delivered' AND record_id LIKE 'SEGN-%'`); n < int64(s.Loop.Sent) {
		t.Errorf("%s: %d of the comune's referrals delivered by the hub, want at least the %d sent live", s.Code, n, s.Loop.Sent)
	}
	// Records the simulators' pathways carry: read by a connector process.
	if n := sqlCount(t, db, `SELECT count(*) FROM records WHERE record_id LIKE 'PAIS-0%'`); n == 0 {
		t.Errorf("%s: no pathway of the comune's system in the store: its connector read nothing", s.Code)
	}
	m, _ := liveModelOf(s.Code)
	file, _ := compare.LoadTerritoriesFile(bytes.NewReader(exregion.Territories))
	pop := demoPopulation(file.Territories[nth], 7, nth, 200)
	logText, err := os.ReadFile(filepath.Join(dir, "territories", s.Code, "snodo.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logText, []byte(`"hub running"`)) || len(m.systems) == 0 {
		t.Fatalf("%s: the hub's log does not show it running", s.Code)
	}
	for _, p := range pop.People() {
		for _, secret := range []string{p.CF, p.Provisional, p.GivenName + " " + p.FamilyName, p.FamilyName + " " + p.GivenName} {
			if len(secret) > 3 && bytes.Contains(logText, []byte(secret)) {
				t.Fatalf("%s: the hub's log holds a code or the name of person %d", s.Code, p.Index)
			}
		}
	}
}
