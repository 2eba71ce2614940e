package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"
)

func TestRegionEnrolEnvelopesAndCells(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	pub := bytes.Repeat([]byte{7}, 32)
	err := s.Write(ctx, func(tx *Tx) error { return tx.EnrolRegionKey(ctx, "ATS-01", "Ambito 1", pub, "ed25519:aa") })
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error { return tx.EnrolRegionKey(ctx, "ATS-02", "", pub, "ed25519:aa") })
	if !errors.Is(err, ErrRegionKeyExists) {
		t.Fatalf("second enrolment of a key: %v", err)
	}
	env := &RegionEnvelope{Territory: "ATS-01", CatalogueVersion: "1.0.0", Epoch: "2025-Q2", Revision: 0, KeyID: "ed25519:aa", Bytes: []byte("{}"), SHA256: make([]byte, 32)}
	cells := []RegionCell{
		{Indicator: "caseload", IndicatorVersion: "1", Breakdown: "{}", Measure: "households", Value: 40},
		{Indicator: "caseload", IndicatorVersion: "1", Breakdown: `{"sex":"X"}`, Measure: "households", Suppressed: true},
	}
	for rev := range 2 {
		env.Revision = rev
		cells[0].Value = int64(40 + rev)
		if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.InsertRegionEnvelope(ctx, env, cells); return err }); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Write(ctx, func(tx *Tx) error { _, err := tx.InsertRegionEnvelope(ctx, env, cells); return err })
	if err == nil {
		t.Fatal("the same (territory, catalogue, epoch, revision) was stored twice")
	}
	got, err := s.RegionCells(ctx, "2025-Q2", "caseload")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Revision != 1 || got[0].Value != 41 || !got[1].Suppressed {
		t.Errorf("cells of the latest revision: %+v", got)
	}
	ts, err := s.RegionTerritories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "Ambito 1" || ts[0].Envelopes != 2 || ts[0].LastEpoch != "2025-Q2" || len(ts[0].Keys) != 1 || !ts[0].Keys[0].Active() {
		t.Errorf("territories: %+v", ts)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return tx.RevokeRegionKey(ctx, "ed25519:aa") }); err != nil {
		t.Fatal(err)
	}
	keys, err := s.RegionKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Active() {
		t.Errorf("after revocation: %+v, %v", keys, err)
	}
}

func TestEnrolmentTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	h := sha256.Sum256([]byte("token"))
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.AddEnrolmentToken(ctx, "ATS-01", "Ambito 1", h[:], clock.Now().Add(time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	use := func(territory string) error {
		return s.Write(ctx, func(tx *Tx) error { _, err := tx.UseEnrolmentToken(ctx, territory, h[:], "ed25519:aa"); return err })
	}
	if err := use("ATS-02"); !errors.Is(err, ErrEnrolmentTokenUnknown) {
		t.Errorf("another territory: %v", err)
	}
	if err := use("ATS-01"); err != nil {
		t.Fatal(err)
	}
	if err := use("ATS-01"); !errors.Is(err, ErrEnrolmentTokenUsed) {
		t.Errorf("used twice: %v", err)
	}
	h2 := sha256.Sum256([]byte("token2"))
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.AddEnrolmentToken(ctx, "ATS-01", "", h2[:], clock.Now().Add(time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	err := s.Write(ctx, func(tx *Tx) error { _, err := tx.UseEnrolmentToken(ctx, "ATS-01", h2[:], "ed25519:bb"); return err })
	if !errors.Is(err, ErrEnrolmentTokenExpired) {
		t.Errorf("expired: %v", err)
	}
}

func TestIntakeLogChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path)
	if n, err := s.VerifyIntakeLog(ctx); err != nil || n != 0 {
		t.Fatalf("empty log: %d, %v", n, err)
	}
	sum := sha256.Sum256([]byte("x"))
	for i, o := range []string{IntakeAccepted, IntakeDuplicate, IntakeRefused} {
		e := &IntakeEntry{Territory: "ATS-01", KeyID: "ed25519:aa", Epoch: "2025", Revision: i - 1, Outcome: o, Reason: "r", SHA256: sum[:]}
		if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.AppendIntake(ctx, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.VerifyIntakeLog(ctx); err != nil || n != 3 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	log, err := s.IntakeLog(ctx, 2)
	if err != nil || len(log) != 2 || log[0].Seq != 2 || log[1].Outcome != IntakeRefused || log[0].Revision != 0 {
		t.Fatalf("IntakeLog(2): %+v, %v", log, err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`UPDATE region_intake_log SET outcome = 'accepted' WHERE seq = 3`); err == nil {
		t.Fatal("the log accepted an update")
	}
	// An intruder drops the trigger first.
	if _, err := db.Exec(`DROP TRIGGER region_intake_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE region_intake_log SET outcome = 'accepted' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	_, err = s.VerifyIntakeLog(ctx)
	var broken *IntakeLogBrokenError
	if !errors.As(err, &broken) || broken.Seq != 3 {
		t.Fatalf("tampered log: %v", err)
	}
}

// TestRegionBudgetColumnsFilledIn: envelopes stored before migration 0007
// get their reporting year, ρ and disclosure settings from their bytes, so
// the region's budget account covers them too.
func TestRegionBudgetColumnsFilledIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(embeddedMigrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0007" {
			data, err := fs.ReadFile(embeddedMigrations, "migrations/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: data}
		}
	}
	path := testPath(t)
	s, err := Open(ctx, path, withMigrations(old))
	if err != nil {
		t.Fatal(err)
	}
	pub := bytes.Repeat([]byte{7}, 32)
	body := `{"reporting_year":2025,"budget":{"rho_spent":"3/4","rho_cap":"1"},"noise":{"mechanism":"discrete-gaussian","sigma2":"62"},` +
		`"disclosure":{"display_below":10,"min_rate_denominator":20,"rounding_base":5}}`
	err = s.Write(ctx, func(tx *Tx) error {
		if err := tx.EnrolRegionKey(ctx, "ATS-01", "", pub, "ed25519:aa"); err != nil {
			return err
		}
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO region_envelopes (territory, catalogue_version, epoch, revision, key_id, bytes, sha256, received_at)
VALUES ('ATS-01', '1.0.0', '2025', 0, 'ed25519:aa', ?1, ?2, ?3)`, []byte(body), make([]byte, 32), tx.s.stamp())
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	envs, err := s.RegionLatestEnvelopes(ctx, "2025")
	if err != nil || len(envs) != 1 {
		t.Fatalf("envelopes: %v %+v", err, envs)
	}
	e := envs[0]
	if e.ReportingYear != 2025 || e.RhoSpent != "3/4" || e.RhoCap != "1" || e.Mechanism != "discrete-gaussian" || e.Sigma2 != "62" ||
		e.DisplayBelow != 10 || e.MinRateDenominator != 20 || e.RoundingBase != 5 {
		t.Errorf("after the migration: %+v", e)
	}
	var spent []string
	err = s.Write(ctx, func(tx *Tx) error { spent, err = tx.RegionRhoSpent(ctx, "ATS-01", 2025); return err })
	if err != nil || len(spent) != 1 || spent[0] != "3/4" {
		t.Errorf("ρ spent in 2025: %v %v", spent, err)
	}
}
