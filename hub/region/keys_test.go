package region

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/federation"
)

type auditRow struct {
	Actor, Action string
	Detail        map[string]string
}

// auditOf reads the audit entries with action, oldest first.
func auditOf(t *testing.T, path, action string) []auditRow {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, detail FROM audit WHERE action = ? ORDER BY seq`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var detail string
		if err := rows.Scan(&r.Actor, &r.Action, &detail); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(detail), &r.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRevokeKey: a revoked key is written to the audit log once (actor,
// territory, key id, reason), the intake refuses it from then on, and the
// other territories' keys still verify; a second revocation says when the
// first was and writes nothing; an unknown id and an unfit reason are
// refused without touching the key.
func TestRevokeKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegion(t)
	id := federation.KeyID(pubOf(reg.keys["ATS-A"]))

	if _, err := reg.in.Receive(ctx, envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q1", countsA)); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	for _, bad := range []string{"line one\nline two", strings.Repeat("x", maxRevokeReason+1), "lost by RSSMRA85T10A562S",
		"lost by RSSMRA85T10A562S.",              // ended by a full stop
		"lost by RSSMRA85T10A562X",               // a wrong check character still names a person
		"lost by rss mra 85t10 a562s",            // typed in groups, lower case
		"lost by the holder of STP1234567890123", // a foreigner's health code
	} {
		if _, err := RevokeKey(ctx, reg.st, "cli:ops", id, bad); err == nil {
			t.Errorf("reason %.30q accepted", bad)
		}
	}
	if got := auditOf(t, reg.path, "region.key-revoke"); len(got) != 0 {
		t.Fatalf("refused revocations audited: %+v", got)
	}

	k, err := RevokeKey(ctx, reg.st, "cli:ops", id, " laptop stolen ")
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID != id || k.Territory != "ATS-A" || k.Active() {
		t.Fatalf("revoked key %+v", k)
	}
	_, err = reg.in.Receive(ctx, envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q2", countsA))
	if !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an envelope signed with the revoked key: %v, want ErrUnauthenticated", err)
	}
	if _, err := reg.in.Receive(ctx, envelope(t, "ATS-B", reg.keys["ATS-B"], "2025-Q2", countsB)); err != nil {
		t.Errorf("another territory's key after the revocation: %v", err)
	}

	_, err = RevokeKey(ctx, reg.st, "cli:other", id, "again")
	var already *KeyRevokedError
	if !errors.As(err, &already) || already.Territory != "ATS-A" || !already.RevokedAt.Equal(k.RevokedAt) ||
		!strings.Contains(err.Error(), k.RevokedAt.UTC().Format("2006-01-02T15:04:05Z")) {
		t.Errorf("second revocation: %v, want a KeyRevokedError at %s", err, k.RevokedAt)
	}

	unknown := strings.Repeat("0", len(id))
	if _, err := RevokeKey(ctx, reg.st, "cli:ops", unknown, ""); !errors.Is(err, ErrKeyNotEnrolled) || !strings.Contains(err.Error(), unknown) {
		t.Errorf("unknown key: %v, want ErrKeyNotEnrolled naming it", err)
	}

	got := auditOf(t, reg.path, "region.key-revoke")
	want := auditRow{Actor: "cli:ops", Action: "region.key-revoke", Detail: map[string]string{"territory": "ATS-A", "key_id": id, "reason": "laptop stolen"}}
	if len(got) != 1 || got[0].Actor != want.Actor || len(got[0].Detail) != 3 ||
		got[0].Detail["territory"] != "ATS-A" || got[0].Detail["key_id"] != id || got[0].Detail["reason"] != "laptop stolen" {
		t.Errorf("audit entries %+v, want exactly %+v", got, want)
	}
	if err := reg.st.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
}
