package main

import (
	"testing"

	"github.com/snodo-hub/snodo/plugins/conformance"
)

// TestConformance runs the acceptance suite on the built connector, as
// "snodo connectors test" does, against a simulated SDS and its first
// night's export. The suite's Write check writes back the first referral
// it read — one the PUA sent — twice: the system has it already, so
// nothing is written and its own id comes back.
func TestConformance(t *testing.T) {
	sys, _ := newSim(t)
	bin := conformance.Build(t, ".")
	conformance.Run(t, conformance.Options{Path: bin, Settings: settingsJSON(sys.ExportDir(), sys.InboxDir()), SettingsDir: t.TempDir()})
	if n := len(sys.Referrals()); n == 0 {
		t.Fatal("the simulated SDS has no referrals")
	}
}
