package main

import (
	"encoding/json"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/plugins/conformance"
)

// TestConformance runs the acceptance suite on the built connector, as
// "snodo connectors test" does, against the simulated comune started in
// the test, with a referral cancelled by the comune so that both
// accepted schemas are read. The suite writes back the first referral it
// read: the connector finds the comune's own referral and changes
// nothing.
func TestConformance(t *testing.T) {
	sim, ts := newSim(t, 1, 40)
	sg, err := sim.CreateReferral(personInComune(t, sim.Population(), 2), comune.OrgCPI, "employment-status", "routine")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SetStatus(sg.ID, "annullata", "rifiuto_persona"); err != nil {
		t.Fatal(err)
	}
	bin := conformance.Build(t, ".")
	settings, err := json.Marshal(map[string]any{
		"source": testSource, "territory": testTerritory, "base_url": ts.URL, "api_key": testKey,
		"organisation": comune.OrgID, "page_size": 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Options{Path: bin, Settings: settings, SettingsDir: "."})
	if n := len(sim.History(sg.ID)); n != 2 {
		t.Errorf("the suite's writes changed the comune: %d events, want 2", n)
	}
}
