// Command testconnector is a connector for the plugins' own tests: it
// produces a numbered sequence of valid volunteer records and behaves as its
// settings ask (fail, crash, hang), so that the host, the supervisor and the
// conformance suite can be tested against a real process.
package main

import (
	"context"
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
	// Size pads each record with extensions to this many bytes (the
	// records of ids beyond 9,999,999 are longer).
	Size int `json:"size"`
	// CrashAfter exits the process abruptly after sending this many batches
	// (0: never), in the middle of the read.
	CrashAfter int `json:"crash_after"`
	// HangAfter stops sending (without exiting) after this many batches.
	HangAfter int `json:"hang_after"`
	// PauseMS waits this many milliseconds before every batch but the
	// first, as a slow system would.
	PauseMS int `json:"pause_ms"`
	// Unreachable makes Check and Read fail as a transient problem.
	Unreachable bool `json:"unreachable"`
	// RequireEnv makes Check fail with a config problem unless the
	// environment variable of this name is set in the connector's process.
	// Check says only whether it is set, never its value: the host's tests
	// use it to show that the hub's environment does not leak into
	// connectors.
	RequireEnv string `json:"require_env"`
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
    "pause_ms": {"type": "integer", "minimum": 0, "maximum": 60000},
    "unreachable": {"type": "boolean"},
    "require_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
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
	if set.RequireEnv != "" {
		if _, ok := os.LookupEnv(set.RequireEnv); !ok {
			return sdk.ConfigError("/require_env", "environment variable %s is not set in the connector's process", set.RequireEnv)
		}
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
	if extra := set.Size - len(appendRecord(nil, &set, 0, "")) - len(`"extensions":{"padding":""},`); extra > 0 {
		pad = strings.Repeat("x", extra)
	}
	batches := 0
	for next < set.Records {
		if set.HangAfter > 0 && batches >= set.HangAfter {
			<-ctx.Done()
			return ctx.Err()
		}
		if set.PauseMS > 0 && batches > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(set.PauseMS) * time.Millisecond):
			}
		}
		// One buffer holds the whole batch: building records costs little
		// next to sending them, so that benchmarks measure the boundary.
		n := min(max, set.Records-next)
		buf := make([]byte, 0, n*(len(pad)+320))
		b := sdk.Batch{Records: make([][]byte, 0, n)}
		for ; next < set.Records && len(b.Records) < max; next++ {
			start := len(buf)
			buf = appendRecord(buf, &set, next, pad)
			b.Records = append(b.Records, buf[start:len(buf):len(buf)])
		}
		b.Cursor = []byte(strconv.Itoa(next))
		if err := emit(b); err != nil {
			return err
		}
		batches++
		if set.CrashAfter > 0 && batches >= set.CrashAfter {
			// Give gRPC a moment to put the batches sent on the wire, so
			// that the crash comes after them, not before.
			time.Sleep(50 * time.Millisecond)
			os.Exit(3)
		}
	}
	return nil
}

// appendRecord appends volunteer record n, the JSON that encoding/json
// would give for it (the source and territory, checked by the settings
// schema, need no escaping).
func appendRecord(dst []byte, set *settings, n int, pad string) []byte {
	dst = append(dst, '{')
	if pad != "" {
		dst = append(dst, `"extensions":{"padding":"`...)
		dst = append(dst, pad...)
		dst = append(dst, `"},`...)
	}
	dst = append(dst, `"organisation":{"record_id":"ORG-ODV-1"},"pseudonym":"V`...)
	dst = appendPadded(dst, n)
	dst = append(dst, `","record_id":"VOL-`...)
	dst = appendPadded(dst, n)
	dst = append(dst, `","recorded_at":"`...)
	dst = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Minute).AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","schema":"`+volunteerSchema+`","source":"`...)
	dst = append(dst, set.Source...)
	dst = append(dst, `","territory":"`...)
	dst = append(dst, set.Territory...)
	return append(dst, `"}`...)
}

// appendPadded appends n with at least seven digits.
func appendPadded(dst []byte, n int) []byte {
	for d := 1000000; d > 1 && n < d; d /= 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

func (connector) Write(_ context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	return sdk.WriteResponse{TargetID: "T-" + req.RecordID}, nil
}

func main() { sdk.Serve(connector{}) }
