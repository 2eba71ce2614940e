package main

import (
	"testing"

	"github.com/snodo-hub/snodo/plugins/conformance"
)

// TestConformance runs the acceptance suite on the built connector, as
// "snodo connectors test" does, against the simulated cpi started in
// process with the shipped example settings pointed at it. A referral
// delivered and accepted beforehand gives the feed a status event, which
// the suite writes back twice.
func TestConformance(t *testing.T) {
	sim, url := startSim(t)
	id := deliver(t, settingsFor(t, url, nil), "SEG-CONF-1", cpiPerson(t))
	if err := sim.Accept(id); err != nil {
		t.Fatal(err)
	}
	bin := conformance.Build(t, ".")
	settings := yamlSettings(t, "settings.example.yaml")
	settings["base_url"] = url
	settings["api_key"] = testKey
	conformance.Run(t, conformance.Options{Path: bin, Settings: mustJSON(t, settings), SettingsDir: "."})
}
