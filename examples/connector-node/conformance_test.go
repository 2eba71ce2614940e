//go:build linux

package connectornode_test

import (
	"os"
	"testing"

	"github.com/snodo-hub/snodo/plugins/conformance"
)

// TestConformance runs the acceptance suite on the Node.js connector, as
// "snodo connectors test connector.js --settings settings.example.json"
// does: the same checks a Go connector passes.
func TestConformance(t *testing.T) {
	requireNode(t)
	settings, err := os.ReadFile("settings.example.json")
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Options{Path: scriptPath(t), Settings: settings, SettingsDir: exampleDir(t)})
}
