package doctor_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/doctor"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/territory"
)

// filesConnector is the file connector, built once for the tests.
var filesConnector string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "snodo-doctor-test")
	if err != nil {
		panic(err)
	}
	filesConnector = filepath.Join(dir, territory.FilesConnectorName)
	if out, err := exec.Command("go", "build", "-o", filesConnector, "../../connectors/files").CombinedOutput(); err != nil {
		panic("build the file connector: " + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// exampleSetup makes a set-up with the example connector, on its own copy
// of the connector's binary, and returns its configuration.
func exampleSetup(t *testing.T) *config.Config {
	t.Helper()
	bin := filepath.Join(t.TempDir(), territory.FilesConnectorName)
	data, err := os.ReadFile(filesConnector)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _, err := territory.InitExample(context.Background(), filepath.Join(t.TempDir(), "hub"), "SDS-AB", "Ambito di prova", bin)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sqlExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// lenient makes the disk check independent of the machine running the
// tests; the disk case below sets its own threshold.
var lenient = doctor.Options{MinFreeBytes: 1, MinFreePercent: 0.001}

func TestDoctor(t *testing.T) {
	t.Parallel()
	checks := []string{"config", "key pseudonymisation", "key signing", "database", "database integrity",
		"migrations", "audit chain", "connector files", "disk", "clock"}
	tests := map[string]struct {
		spoil func(t *testing.T, cfg *config.Config, opts *doctor.Options)
		// want lists the checks that do not pass, with a part of their
		// message; every other check must pass.
		want map[string]struct {
			status doctor.Status
			says   string
		}
	}{
		"healthy": {spoil: func(*testing.T, *config.Config, *doctor.Options) {}},
		"configuration invalid": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.WriteFile(cfg.File, []byte("version: 1\nterritory: {code: AB, nmae: x}\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]struct {
				status doctor.Status
				says   string
			}{
				"config":     {doctor.Fail, `unknown setting "nmae"`},
				"keys":       {doctor.Skip, "the configuration did not load"},
				"database":   {doctor.Skip, "the configuration did not load"},
				"connectors": {doctor.Skip, "the configuration did not load"},
				"disk":       {doctor.Skip, "the configuration did not load"},
				"clock":      {doctor.Skip, "the configuration did not load"},
			},
		},
		"key readable by others": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.Chmod(cfg.Path(cfg.Keys.Pseudonymisation), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("key pseudonymisation", "(mode 0644): run \"chmod 600"),
		},
		"key missing": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.Remove(cfg.Path(cfg.Keys.Signing)); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("key signing", "is missing: restore it from your offline backup"),
		},
		"key damaged": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.WriteFile(cfg.Path(cfg.Keys.Pseudonymisation), []byte("c0ffee\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("key pseudonymisation", "a pseudonymisation key is 32 random bytes"),
		},
		"database missing": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.Remove(cfg.Path(cfg.Store.Path)); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]struct {
				status doctor.Status
				says   string
			}{
				"database":           {doctor.Fail, "does not exist: restore your latest backup"},
				"database integrity": {doctor.Skip, "no database"},
				"migrations":         {doctor.Skip, "no database"},
				"audit chain":        {doctor.Skip, "no database"},
			},
		},
		"database readable by others": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.Chmod(cfg.Path(cfg.Store.Path), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("database", "it holds pseudonymised personal data: run \"chmod 600"),
		},
		"audit log changed": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				sqlExec(t, cfg.Path(cfg.Store.Path), `UPDATE audit SET detail = '{"territory":"XX"}' WHERE seq = 1`)
			},
			want: fails("audit chain", "audit log broken at seq 1"),
		},
		"migrations pending": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				sqlExec(t, cfg.Path(cfg.Store.Path), fmt.Sprintf("PRAGMA user_version = %d", store.KnownVersion()-1))
			},
			want: fails("migrations", "the hub applies the 1 pending migration when it starts"),
		},
		"database from a newer snodo": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				sqlExec(t, cfg.Path(cfg.Store.Path), fmt.Sprintf("PRAGMA user_version = %d", store.KnownVersion()+1))
			},
			want: fails("migrations", "newer than this snodo binary understands"),
		},
		"connector missing": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.Remove(cfg.Path(cfg.Connectors[0].Plugin)); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("connector files", "does not exist: build or install the connector there"),
		},
		"connector replaced": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				f, err := os.OpenFile(cfg.Path(cfg.Connectors[0].Plugin), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte("tampered"))
				f.Close()
			},
			want: fails("connector files", "the hub will not start it"),
		},
		"connector settings wrong": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				dir := filepath.Dir(cfg.Path(cfg.Connectors[0].Settings))
				if err := os.RemoveAll(filepath.Join(dir, "exports")); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("connector files", "files 1.0.0: config problem at /folder"),
		},
		"connector settings unreadable": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				if err := os.WriteFile(cfg.Path(cfg.Connectors[0].Settings), []byte("source: [files\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: fails("connector files", "are not valid YAML"),
		},
		"connector disabled": {
			spoil: func(t *testing.T, cfg *config.Config, _ *doctor.Options) {
				f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				// The example's connector entry ends the file.
				f.WriteString("    enabled: false\n")
				f.Close()
				os.Remove(cfg.Path(cfg.Connectors[0].Plugin)) // not even looked at
			},
			want: map[string]struct {
				status doctor.Status
				says   string
			}{"connector files": {doctor.Skip, "disabled in"}},
		},
		"disk nearly full": {
			spoil: func(_ *testing.T, _ *config.Config, opts *doctor.Options) { opts.MinFreeBytes = 1 << 62 },
			want:  fails("disk", "4096.0 PiB and 0% free: the database, its WAL and backups need room"),
		},
		"clock went back": {
			spoil: func(_ *testing.T, _ *config.Config, opts *doctor.Options) {
				opts.Now = func() time.Time { return time.Now().Add(-time.Hour) }
			},
			want: fails("clock", "the clock went back"),
		},
		"clock before the build": {
			spoil: func(_ *testing.T, _ *config.Config, opts *doctor.Options) {
				opts.Now = func() time.Time { return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) }
			},
			want: fails("clock", "2001-01-01T00:00:00Z, before 2025-01-01"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := exampleSetup(t)
			opts := lenient
			tc.spoil(t, cfg, &opts)
			rep := doctor.Run(context.Background(), cfg.File, opts)
			var names []string
			for _, res := range rep.Results {
				names = append(names, res.Check)
				w, special := tc.want[res.Check]
				if !special {
					w.status = doctor.Pass
				}
				if res.Status != w.status || !strings.Contains(res.Message, w.says) {
					t.Errorf("%s: %s %q, want %s saying %q", res.Check, res.Status, res.Message, w.status, w.says)
				}
			}
			wantNames := checks
			if _, ok := tc.want["keys"]; ok {
				wantNames = []string{"config", "keys", "database", "connectors", "disk", "clock"}
			}
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			if rep.OK() != (len(tc.want) == 0 || name == "connector disabled") {
				t.Errorf("OK() = %v", rep.OK())
			}
		})
	}
}

func fails(check, says string) map[string]struct {
	status doctor.Status
	says   string
} {
	return map[string]struct {
		status doctor.Status
		says   string
	}{check: {doctor.Fail, says}}
}

func TestDoctorRunsBesideAHub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := exampleSetup(t)
	s, err := store.Open(ctx, cfg.Path(cfg.Store.Path))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Audit(ctx, "test", "test.running", nil); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(cfg.Path(cfg.Store.Path))
	rep := doctor.Run(ctx, cfg.File, lenient)
	if !rep.OK() {
		var b bytes.Buffer
		rep.WriteTo(&b)
		t.Fatalf("beside a running hub:\n%s", b.String())
	}
	// It read the writes still in the WAL, and changed nothing.
	if !strings.Contains(find(rep, "audit chain").Message, "2 entries") {
		t.Errorf("audit chain: %q", find(rep, "audit chain").Message)
	}
	if after, _ := os.Stat(cfg.Path(cfg.Store.Path)); !after.ModTime().Equal(info.ModTime()) || after.Size() != info.Size() {
		t.Error("the doctor changed the database file")
	}
	if err := s.Audit(ctx, "test", "test.after", nil); err != nil {
		t.Fatalf("the hub cannot write after the doctor: %v", err)
	}
}

func find(rep *doctor.Report, check string) doctor.Result {
	for _, r := range rep.Results {
		if r.Check == check {
			return r
		}
	}
	return doctor.Result{}
}

func TestDoctorOnAMissingConfiguration(t *testing.T) {
	t.Parallel()
	rep := doctor.Run(context.Background(), filepath.Join(t.TempDir(), "snodo.yaml"), lenient)
	if rep.OK() || rep.Count(doctor.Fail) != 1 || rep.Count(doctor.Skip) != 5 {
		t.Fatalf("%+v", rep)
	}
	if msg := rep.Results[0].Message; !strings.Contains(msg, "snodo init DIR") {
		t.Errorf("config: %q", msg)
	}
}

func TestReportWriteTo(t *testing.T) {
	t.Parallel()
	rep := &doctor.Report{Config: "snodo.yaml", Results: []doctor.Result{
		{Check: "config", Status: doctor.Pass, Message: "snodo.yaml is valid"},
		{Check: "database integrity", Status: doctor.Fail, Message: "PRAGMA integrity_check found:\nrow 3 missing from index\nrestore"},
		{Check: "clock", Status: doctor.Skip, Message: "skipped: why"},
	}}
	var b strings.Builder
	if _, err := rep.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `✓ config              snodo.yaml is valid
✗ database integrity  PRAGMA integrity_check found:
                      row 3 missing from index
                      restore
– clock               skipped: why

1 passed, 1 failed, 1 skipped
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("checklist (-want +got):\n%s", diff)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back doctor.Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, &back); diff != "" || !strings.Contains(string(data), `"status":"fail"`) {
		t.Errorf("JSON round trip (-want +got):\n%s\n%s", diff, data)
	}
	if rep.OK() {
		t.Error("a report with a failure is OK")
	}
}
