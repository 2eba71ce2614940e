package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// TestSettingsExample: the shipped example follows the settings schema
// and loads.
func TestSettingsExample(t *testing.T) {
	data, err := os.ReadFile("settings.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.CompileString("settings.schema.json", settingsSchemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("settings.example.yaml: %v", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := (&Connector{}).load(sdk.NewSettings(raw, "."))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.org != DefaultOrganisation || cfg.pageSize != 100 || len(cfg.feeds) != len(allFeeds) {
		t.Errorf("loaded %+v", cfg)
	}
	for _, bad := range []string{`{}`, `{"source":"comune","territory":"T-1","base_url":"http://x","api_key":"k","extra":1}`,
		`{"source":"Comune","territory":"T-1","base_url":"http://x","api_key":"k"}`} {
		var doc any
		_ = json.Unmarshal([]byte(bad), &doc)
		if sch.Validate(doc) == nil {
			t.Errorf("the schema accepts %s", bad)
		}
	}
	if !strings.Contains(settingsSchemaJSON, `"additionalProperties": false`) {
		t.Error("the settings schema admits unknown settings")
	}
}
