// Command testconnector is a connector for the plugins' own tests: it
// produces a numbered sequence of valid volunteer records and behaves as its
// settings ask (fail, crash, hang), so that the host, the supervisor and the
// conformance suite can be tested against a real process.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

const volunteerSchema = "https://snodo-hub.github.io/schemas/volunteer/1.0.0"

type settings struct {
	Source    string `json:"source"`
	Territory string `json:"territory"`
	// Records is how many records the source holds.
	Records int `json:"records"`
	// Size pads each record's extensions to about this many bytes.
	Size int `json:"size"`
	// CrashAfter exits the process abruptly after sending this many batches
	// (0: never).
	CrashAfter int `json:"crash_after"`
	// HangAfter stops sending (without exiting) after this many batches.
	HangAfter int `json:"hang_after"`
	// Unreachable makes Check and Read fail as a transient problem.
	Unreachable bool `json:"unreachable"`
}

const settingsSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["source", "territory", "records"],
  "additionalProperties": false,
  "properties": {
    "source": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
    "territory": {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9-]+$"},
    "records": {"type": "integer", "minimum": 0},
    "size": {"type": "integer", "minimum": 0, "maximum": 1000000},
    "crash_after": {"type": "integer", "minimum": 0},
    "hang_after": {"type": "integer", "minimum": 0},
    "unreachable": {"type": "boolean"}
  }
}`

type connector struct{}

func (connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name: "testconnector", Version: "1.0.0", Kind: sdk.KindThirdSector,
		Description:    "A numbered sequence of volunteer records, for tests.",
		Produces:       []string{volunteerSchema},
		Accepts:        []string{volunteerSchema},
		SettingsSchema: []byte(settingsSchema),
	}
}

func (connector) Check(_ context.Context, s sdk.Settings) error {
	var set settings
	if err := s.Decode(&set); err != nil {
		return err
	}
	if set.Unreachable {
		return sdk.Transientf("the registry does not answer (as the settings ask)")
	}
	return nil
}

func (connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	var set settings
	if err := req.Settings.Decode(&set); err != nil {
		return err
	}
	if set.Unreachable {
		return sdk.Transientf("the registry does not answer (as the settings ask)")
	}
	next := 0
	if len(req.Cursor) > 0 {
		n, err := strconv.Atoi(string(req.Cursor))
		if err != nil || n < 0 {
			return sdk.Fatal(fmt.Errorf("cursor %q is not one of mine", req.Cursor))
		}
		next = n
	}
	max := req.MaxBatch
	if max <= 0 {
		max = 100
	}
	pad := ""
	if set.Size > 300 {
		pad = strings.Repeat("x", set.Size-300)
	}
	batches := 0
	for next < set.Records {
		if set.HangAfter > 0 && batches >= set.HangAfter {
			<-ctx.Done()
			return ctx.Err()
		}
		b := sdk.Batch{}
		for ; next < set.Records && len(b.Records) < max; next++ {
			rec := map[string]any{
				"schema": volunteerSchema, "record_id": fmt.Sprintf("VOL-%07d", next),
				"source": set.Source, "territory": set.Territory,
				"recorded_at":  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(next) * time.Minute).Format(time.RFC3339),
				"pseudonym":    fmt.Sprintf("V%07d", next),
				"organisation": map[string]any{"record_id": "ORG-ODV-1"},
			}
			if pad != "" {
				rec["extensions"] = map[string]any{"padding": pad}
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return sdk.Fatal(err)
			}
			b.Records = append(b.Records, raw)
		}
		b.Cursor = []byte(strconv.Itoa(next))
		if err := emit(b); err != nil {
			return err
		}
		batches++
		if set.CrashAfter > 0 && batches >= set.CrashAfter {
			os.Exit(3)
		}
	}
	return nil
}

func (connector) Write(_ context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	return sdk.WriteResponse{TargetID: "T-" + req.RecordID}, nil
}

func main() { sdk.Serve(connector{}) }
