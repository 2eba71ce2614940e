package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
)

// The store's side of the ingest pipeline (issue 4): the person a record is
// about, identifier look-ups that record nothing, quarantine errors that a
// replay replaces, and connector runs.

func TestRecordPersonID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	p1, p2 := identity.NewPersonID(), identity.NewPersonID()

	r := testRecord("R-1", `{"person":{"person_id":"`+p1+`"}}`)
	r.PersonID = p1
	upsert(t, s, r)
	about := testRecord("R-2", `{"name":"Caritas"}`) // about no one
	upsert(t, s, about)

	got, _, err := s.GetRecord(ctx, r.Source, r.RecordID)
	if err != nil || got.PersonID != p1 {
		t.Fatalf("GetRecord: person id %q, err %v; want %q", got.PersonID, err, p1)
	}
	got, _, _ = s.GetRecord(ctx, about.Source, about.RecordID)
	if got.PersonID != "" {
		t.Errorf("a record about no one has person id %q", got.PersonID)
	}
	var null bool
	if err := s.r.QueryRow(`SELECT person_id IS NULL FROM records WHERE record_id = 'R-2'`).Scan(&null); err != nil || !null {
		t.Errorf("an empty person id is not stored as NULL (null %v, err %v)", null, err)
	}

	// A change of content moves the record to its new person.
	moved := r
	moved.Body = []byte(`{"person":{"person_id":"` + p2 + `"}}`)
	moved.PersonID = p2
	if out := upsert(t, s, moved); out != Updated {
		t.Fatalf("upsert with another person: %v, want updated", out)
	}
	got, _, _ = s.GetRecord(ctx, r.Source, r.RecordID)
	if got.PersonID != p2 {
		t.Errorf("after the update person id = %q, want %q", got.PersonID, p2)
	}

	// A person's timeline is one range of the index.
	var plan strings.Builder
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN SELECT id FROM records WHERE person_id = ?1 ORDER BY recorded_at`, p2)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if !strings.Contains(plan.String(), "records_person") || strings.Contains(plan.String(), "TEMP B-TREE") {
		t.Errorf("a person's timeline does not read the records_person index in order:\n%s", plan.String())
	}
}

func TestLookupPerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	id, _, err := s.ResolvePerson(ctx, digest("A"), identity.KindCF, identity.NewPersonID())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		got, found, err := tx.LookupPerson(ctx, digest("A"))
		if err != nil || !found || got != id {
			t.Errorf("LookupPerson of a known digest = (%q, %v, %v), want (%q, true, nil)", got, found, err, id)
		}
		got, found, err = tx.LookupPerson(ctx, digest("B"))
		if err != nil || found || got != "" {
			t.Errorf("LookupPerson of an unknown digest = (%q, %v, %v), want (\"\", false, nil)", got, found, err)
		}
		if _, _, err := tx.LookupPerson(ctx, nil); err == nil {
			t.Errorf("LookupPerson of an empty digest succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var persons int
	if err := s.r.QueryRow(`SELECT count(*) FROM persons`).Scan(&persons); err != nil || persons != 1 {
		t.Errorf("after look-ups %d persons (err %v), want 1: a look-up must record nothing", persons, err)
	}
}

func TestSetQuarantineErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	id := addQuarantine(t, s, QuarantineItem{Source: "comune-demo", RecordID: "R-1", Schema: "person",
		Errors: []QuarantineError{{Pointer: "/sex", Message: "value is not one of the allowed codes"}}, Raw: []byte("c")})
	now := []QuarantineError{{Pointer: "/birth_year", Message: "must be >= 1900"}}
	if err := s.Write(ctx, func(tx *Tx) error { return tx.SetQuarantineErrors(ctx, id, "", now) }); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Quarantine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(now, got.Errors); diff != "" {
		t.Errorf("errors after the update (-want +got):\n%s", diff)
	}
	if got.Schema != "person" {
		t.Errorf("an empty schema changed the stored one to %q", got.Schema)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return tx.SetQuarantineErrors(ctx, id, "household", nil) }); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Quarantine(ctx, id)
	if got.Schema != "household" || len(got.Errors) != 0 || got.Errors == nil {
		t.Errorf("after the second update: schema %q, errors %#v; want household and []", got.Schema, got.Errors)
	}
	err = s.Write(ctx, func(tx *Tx) error { return tx.SetQuarantineErrors(ctx, id+1, "", now) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("update of an unknown item: got %v, want ErrNotFound", err)
	}
}

func TestConnectorRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	at := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	runs := []Run{
		{Connector: "anagrafe", StartedAt: at, FinishedAt: at.Add(time.Second), Outcome: "ok", Records: 10, Stored: 9, Quarantined: 1},
		{Connector: "cpi", StartedAt: at, FinishedAt: at.Add(time.Minute), Outcome: "failed", Message: "the connector process exited"},
		{Connector: "anagrafe", StartedAt: at.Add(time.Hour), FinishedAt: at.Add(time.Hour + time.Second), Outcome: "ok", Records: 3, Unchanged: 3},
	}
	err := s.Write(ctx, func(tx *Tx) error {
		for _, r := range runs {
			if err := tx.RecordRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LastRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Run{"anagrafe": runs[2], "cpi": runs[1]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LastRuns (-want +got):\n%s", diff)
	}

	bad := map[string]Run{
		"no connector": {StartedAt: at, FinishedAt: at, Outcome: "ok"},
		"no outcome":   {Connector: "x", StartedAt: at, FinishedAt: at},
		"no times":     {Connector: "x", Outcome: "ok"},
	}
	for name, r := range bad {
		if err := s.Write(ctx, func(tx *Tx) error { return tx.RecordRun(ctx, r) }); err == nil {
			t.Errorf("%s: RecordRun succeeded", name)
		}
	}
}
