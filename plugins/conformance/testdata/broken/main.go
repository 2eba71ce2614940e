// Command broken is a connector with one deliberate fault, for the
// conformance suite's own tests: each fault must fail its check and no
// other. The fault is the executable's name, so that one build serves every
// case (the tests copy the binary under each name):
//
//	stdout         prints a banner on stdout before the handshake
//	repeat         writes cursors one record short: reading from them repeats a record
//	invalid        emits a volunteer record without its organisation
//	nocancel       a slow source (a page every 20 ms) that retries a batch the host
//	               no longer takes instead of returning, holding its one session
//	               to the source
//	nonidempotent  returns a new target id for every delivery
//
// Under any other name it behaves (the control case). Its settings are the
// test connector's: {"source", "territory", "records"}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

const volunteerSchema = "https://snodo-hub.github.io/schemas/volunteer/1.0.0"

type settings struct {
	Source    string `json:"source"`
	Territory string `json:"territory"`
	Records   int    `json:"records"`
}

const settingsSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["source", "territory", "records"],
  "additionalProperties": false,
  "properties": {
    "source": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
    "territory": {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9-]+$"},
    "records": {"type": "integer", "minimum": 0}
  }
}`

type connector struct {
	fault string
	// session is the one session to the source a read holds.
	session sync.Mutex
	writes  atomic.Int64
}

func (c *connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name: "broken", Version: "1.0.0", Kind: sdk.KindThirdSector,
		Description:    "A connector with a deliberate fault: " + c.fault,
		Produces:       []string{volunteerSchema},
		Accepts:        []string{volunteerSchema},
		SettingsSchema: []byte(settingsSchema),
	}
}

func (c *connector) Check(_ context.Context, s sdk.Settings) error {
	var set settings
	return s.Decode(&set)
}

func (c *connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	var set settings
	if err := req.Settings.Decode(&set); err != nil {
		return err
	}
	c.session.Lock()
	defer c.session.Unlock()
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
	for next < set.Records {
		b := sdk.Batch{}
		for ; next < set.Records && len(b.Records) < max; next++ {
			rec := map[string]any{
				"schema": volunteerSchema, "record_id": fmt.Sprintf("VOL-%07d", next),
				"source": set.Source, "territory": set.Territory,
				"recorded_at":  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(next) * time.Minute).Format(time.RFC3339),
				"pseudonym":    fmt.Sprintf("V%07d", next),
				"organisation": map[string]any{"record_id": "ORG-ODV-1"},
			}
			if c.fault == "invalid" && next == 1 {
				delete(rec, "organisation")
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return sdk.Fatal(err)
			}
			b.Records = append(b.Records, raw)
		}
		cursor := next
		if c.fault == "repeat" {
			cursor = next - 1
		}
		b.Cursor = []byte(strconv.Itoa(cursor))
		if c.fault == "nocancel" {
			time.Sleep(20 * time.Millisecond)
			for emit(b) != nil {
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *connector) Write(_ context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	if c.fault == "nonidempotent" {
		return sdk.WriteResponse{TargetID: fmt.Sprintf("T-%s-%d", req.RecordID, c.writes.Add(1))}, nil
	}
	return sdk.WriteResponse{TargetID: "T-" + req.RecordID}, nil
}

func main() {
	c := &connector{fault: filepath.Base(os.Args[0])}
	if c.fault == "stdout" {
		fmt.Println("broken connector starting")
	}
	sdk.Serve(c)
}
