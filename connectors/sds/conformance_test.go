package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/sds"
	"github.com/snodo-hub/snodo/plugins/conformance"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// TestConformance runs the acceptance suite on the built connector, as
// "snodo connectors test" does, against a simulated SDS: a night in which
// the PUA took in a referral from the comune (delivered with Write) and
// accepted it, and the system's inbox. The suite's Write check delivers the
// acceptance event it read to the inbox, twice. (The first night is not
// used: its first accepted record is a referral the PUA sent to another
// organisation, which Write rightly refuses.)
func TestConformance(t *testing.T) {
	sys, s := newSim(t)
	c := &Connector{}
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "comune:SEG-2025-0042", Record: referralDoc(cfInSDS(t))}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sys.ProcessInbox(); err != nil {
		t.Fatal(err)
	}
	seg, _ := sys.ReferralByExternal("comune", "SEG-2025-0042")
	if err := sys.Accept(seg.ID); err != nil {
		t.Fatal(err)
	}
	night, err := sys.WriteNight()
	if err != nil {
		t.Fatal(err)
	}
	export := t.TempDir()
	for _, kind := range sds.Kinds {
		name := sds.FileName(kind, night)
		data, err := os.ReadFile(filepath.Join(sys.ExportDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(export, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := conformance.Build(t, ".")
	conformance.Run(t, conformance.Options{Path: bin, Settings: settingsJSON(export, sys.InboxDir()), SettingsDir: t.TempDir()})
}
