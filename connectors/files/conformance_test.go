package main

import (
	"testing"

	"github.com/snodo-hub/snodo/plugins/conformance"
)

// TestConformance runs the acceptance suite on the built connector, as
// "snodo connectors test" does, with the shipped example settings.
func TestConformance(t *testing.T) {
	bin := conformance.Build(t, ".")
	settings := yamlSettings(t, "settings.example.yaml")
	conformance.Run(t, conformance.Options{Path: bin, Settings: settings.Raw(), SettingsDir: settings.Dir()})
}
