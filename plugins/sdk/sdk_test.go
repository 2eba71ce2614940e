package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

type fake struct{ m sdk.Manifest }

func (f fake) Manifest() sdk.Manifest                                           { return f.m }
func (fake) Check(context.Context, sdk.Settings) error                          { return nil }
func (fake) Read(context.Context, sdk.ReadRequest, func(sdk.Batch) error) error { return nil }

func good() sdk.Manifest {
	return sdk.Manifest{
		Name: "odv-registry", Version: "1.0.0", Kind: sdk.KindThirdSector,
		Produces:       []string{"https://snodo-hub.github.io/schemas/volunteer/1.0.0"},
		SettingsSchema: []byte(`{"type": "object"}`),
	}
}

func TestCheckManifest(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		edit func(*sdk.Manifest)
		want string // "" for valid
	}{
		"valid":              {edit: func(*sdk.Manifest) {}},
		"bad name":           {edit: func(m *sdk.Manifest) { m.Name = "ODV Registry" }, want: `name "ODV Registry"`},
		"no version":         {edit: func(m *sdk.Manifest) { m.Version = "" }, want: "version is empty"},
		"unknown kind":       {edit: func(m *sdk.Manifest) { m.Kind = "hospital" }, want: `kind "hospital"`},
		"no schemas":         {edit: func(m *sdk.Manifest) { m.Produces = nil }, want: "produces and accepts are both empty"},
		"no settings schema": {edit: func(m *sdk.Manifest) { m.SettingsSchema = nil }, want: "settings schema is empty"},
		"broken settings schema": {
			edit: func(m *sdk.Manifest) { m.SettingsSchema = []byte(`{"type": "objekt"}`) },
			want: "settings schema",
		},
		"remote reference": {
			edit: func(m *sdk.Manifest) { m.SettingsSchema = []byte(`{"$ref": "https://example.org/s.json"}`) },
			want: "must be self-contained",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := good()
			tc.edit(&m)
			err := sdk.CheckManifest(fake{m})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid manifest refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	s := sdk.NewSettings([]byte(`{"folder": "exports", "n": 3}`), "/srv/snodo")
	var v struct {
		Folder string `json:"folder"`
		N      int    `json:"n"`
	}
	if err := s.Decode(&v); err != nil || v.Folder != "exports" || v.N != 3 {
		t.Fatalf("decode: %+v %v", v, err)
	}
	if got := s.Path("exports"); got != filepath.Join("/srv/snodo", "exports") {
		t.Errorf("relative path: %q", got)
	}
	if got := s.Path("/data/x"); got != "/data/x" {
		t.Errorf("absolute path: %q", got)
	}
	err := sdk.NewSettings([]byte(`{"n": "three"}`), "").Decode(&v)
	if sdk.ClassOf(err) != sdk.ClassConfig {
		t.Errorf("a settings type error is a config problem: %v", err)
	}
	if err := sdk.NewSettings(nil, "").Decode(&v); err != nil {
		t.Errorf("empty settings: %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	base := errors.New("connection refused")
	tests := []struct {
		err   error
		class sdk.Class
		text  string
	}{
		{sdk.ConfigError("/folder", "%s does not exist", "exports"), sdk.ClassConfig, "config error at /folder: exports does not exist"},
		{sdk.Transient(base), sdk.ClassTransient, "transient error: connection refused"},
		{sdk.Transientf("busy, %d in queue", 3), sdk.ClassTransient, "transient error: busy, 3 in queue"},
		{sdk.Fatal(base), sdk.ClassFatal, "fatal error: connection refused"},
		{base, sdk.ClassFatal, "connection refused"},
		{fmt.Errorf("read: %w", sdk.Transient(base)), sdk.ClassTransient, "read: transient error: connection refused"},
	}
	for _, tc := range tests {
		if got := sdk.ClassOf(tc.err); got != tc.class || tc.err.Error() != tc.text {
			t.Errorf("%v: class %v, want %v; text %q, want %q", tc.err, got, tc.class, tc.err.Error(), tc.text)
		}
	}
	if !errors.Is(sdk.Transient(base), base) {
		t.Error("Transient must wrap its cause")
	}
	if sdk.Transient(nil) != nil || sdk.Fatal(nil) != nil {
		t.Error("nil stays nil")
	}
}

// A connector describes itself with a manifest that Serve checks before the
// handshake; CheckManifest runs the same checks in a test.
func ExampleCheckManifest() {
	err := sdk.CheckManifest(fake{sdk.Manifest{
		Name: "odv-registry", Version: "1.0.0", Kind: sdk.KindThirdSector,
		Produces:       []string{"https://snodo-hub.github.io/schemas/volunteer/1.0.0"},
		SettingsSchema: []byte(`{"type": "object", "required": ["file"]}`),
	}})
	fmt.Println(err)
	// Output: <nil>
}
