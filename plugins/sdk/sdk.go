// Package sdk is what a Go connector for Snodo imports — and the only thing
// it needs besides the shared schemas.
//
// A connector implements Connector (and Writer, if it delivers records to
// its system) and calls Serve from main:
//
//	func main() { sdk.Serve(&myConnector{}) }
//
// The hub starts the binary as a separate process (hashicorp/go-plugin over
// gRPC with mutual TLS) and calls it. The SDK does the rest: it checks the
// settings against the connector's own settings schema before every call,
// turns errors into classed problems for the admin, sends logs to stderr and
// keeps stdout for the handshake. A connector holds no state between calls:
// every call carries the settings, and reading resumes from a cursor the
// connector itself wrote.
package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Connector reads records from a territory's system.
type Connector interface {
	// Manifest describes the connector. It is called without settings and
	// must not reach the system.
	Manifest() Manifest
	// Check says whether the system can be reached with these settings.
	// Return nil, or an error made with ConfigError, Transient or Fatal (an
	// unclassed error is fatal).
	Check(ctx context.Context, s Settings) error
	// Read sends the records after req.Cursor through emit, in batches,
	// until the source has nothing more, then returns nil. Each batch
	// carries the cursor after its last record: reading again from it must
	// neither repeat nor skip a record. emit blocks until the hub has taken
	// the batch and returns an error when reading must stop (the hub
	// cancelled): return it.
	Read(ctx context.Context, req ReadRequest, emit func(Batch) error) error
}

// Writer is implemented by connectors that deliver records (referrals,
// status changes) to their system.
type Writer interface {
	// Write delivers one record. It must be idempotent by (req.Schema,
	// req.RecordID): delivering the same record again returns the same
	// target id and changes nothing.
	Write(ctx context.Context, req WriteRequest) (WriteResponse, error)
}

// SystemKind is the kind of system a connector speaks to.
type SystemKind string

// The system kinds.
const (
	KindMunicipal   SystemKind = "municipal"
	KindHealth      SystemKind = "health"
	KindEmployment  SystemKind = "employment"
	KindThirdSector SystemKind = "third-sector"
	KindOther       SystemKind = "other"
)

// Manifest describes a connector.
type Manifest struct {
	// Name is short and kebab-case, e.g. "comune-sociale".
	Name string
	// Version is the connector's semantic version.
	Version string
	Kind    SystemKind
	// Description says what the connector is for, for the admin.
	Description string
	// Produces lists the $ids of the schemas of the records Read produces.
	Produces []string
	// Accepts lists the $ids of the schemas of the records Write accepts.
	Accepts []string
	// SettingsSchema is a JSON Schema (draft 2020-12) of the settings.
	SettingsSchema []byte
}

// Settings are a connector instance's settings, already checked against the
// connector's settings schema.
type Settings struct {
	raw json.RawMessage
	dir string
}

// NewSettings makes Settings from a JSON object; dir is the folder relative
// paths in it are relative to. Connectors get Settings from the SDK; this is
// for their tests.
func NewSettings(raw json.RawMessage, dir string) Settings {
	return Settings{raw: raw, dir: dir}
}

// Raw returns the settings as JSON.
func (s Settings) Raw() json.RawMessage { return s.raw }

// Decode unmarshals the settings into v (a pointer to a struct with json
// tags).
func (s Settings) Decode(v any) error {
	if len(s.raw) == 0 {
		return json.Unmarshal([]byte("{}"), v)
	}
	if err := json.Unmarshal(s.raw, v); err != nil {
		return ConfigError("", "settings: %v", err)
	}
	return nil
}

// Dir is the folder of the settings file ("" when there was none).
func (s Settings) Dir() string { return s.dir }

// Path resolves a path given in the settings: relative paths are relative
// to the settings file's folder.
func (s Settings) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || s.dir == "" {
		return p
	}
	return filepath.Join(s.dir, p)
}

// ReadRequest asks for the records after a cursor.
type ReadRequest struct {
	Settings Settings
	// Cursor is where to start: nil or empty means from the beginning.
	Cursor []byte
	// MaxBatch is the largest batch the hub wants; 0 lets the connector
	// choose (keep batches around 100–1,000 records).
	MaxBatch int
}

// Batch is a run of records and the cursor after the last of them.
type Batch struct {
	// Records are JSON documents of the shared schemas, each with its
	// "schema" field.
	Records [][]byte
	Cursor  []byte
}

// WriteRequest delivers one record.
type WriteRequest struct {
	Settings Settings
	// Schema is the $id of the record's schema.
	Schema string
	// RecordID is the record's id in the hub: the idempotency key.
	RecordID string
	// Record is the JSON document.
	Record []byte
}

// WriteResponse says how the target system knows the record.
type WriteResponse struct {
	TargetID string
}

// Record marshals a record for a Batch. v is usually a map or a struct with
// json tags following one of the shared schemas.
func Record(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal record: %w", err)
	}
	return b, nil
}
