package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

//go:embed settings.schema.json
var settingsSchemaJSON string

// Version is the connector's version.
const Version = "1.0.0"

// DefaultTimeZone is where date-times without an offset are.
const DefaultTimeZone = "Europe/Rome"

// Connector reads exports dropped in a folder (CSV, JSON Lines, XLSX) and
// turns their rows into records of the shared schemas through a mapping
// file. It holds no state between calls: where each file was left is in
// the cursor.
type Connector struct {
	// Log receives the connector's log lines; nil means sdk.Logger()
	// (stderr, read by the hub).
	Log *slog.Logger
}

var _ sdk.Connector = (*Connector)(nil)

// Settings are the connector's settings (see settings.schema.json).
type Settings struct {
	Source    string `json:"source"`
	Territory string `json:"territory"`
	Folder    string `json:"folder"`
	Mapping   string `json:"mapping"`
	Encoding  string `json:"encoding,omitempty"`
	TimeZone  string `json:"time_zone,omitempty"`
}

// Manifest describes the connector.
func (c *Connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "files",
		Version: Version,
		Kind:    sdk.KindOther,
		Description: "Reads exports dropped in a folder — CSV (any delimiter, UTF-8 or Latin-1), JSON Lines and XLSX — " +
			"and turns each row into a record of the shared schemas through a declarative mapping file, " +
			"without writing code. Appended rows are read once; replaced files are read again; malformed rows are skipped and logged by file and row.",
		Produces:       entityIDs(),
		SettingsSchema: []byte(settingsSchemaJSON),
	}
}

func (c *Connector) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return sdk.Logger()
}

// config is everything a call needs, loaded from the settings.
type config struct {
	s       Settings
	loc     *time.Location
	folder  *folder
	mapping *mapping
}

// load reads the settings, the folder and the mapping. Every error is a
// config error for the admin.
func (c *Connector) load(set sdk.Settings) (*config, error) {
	var s Settings
	if err := set.Decode(&s); err != nil {
		return nil, err
	}
	switch {
	case s.Source == "":
		return nil, sdk.ConfigError("/source", "source is missing: name the source records come from (e.g. anagrafe-sociale)")
	case s.Territory == "":
		return nil, sdk.ConfigError("/territory", "territory is missing: give the territory code (e.g. SDS-FI-NORDOVEST)")
	case s.Folder == "":
		return nil, sdk.ConfigError("/folder", "folder is missing: name the folder the exports are dropped in")
	case s.Mapping == "":
		return nil, sdk.ConfigError("/mapping", "mapping is missing: name the mapping file (see mapping.example.yaml)")
	}
	tz := s.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, sdk.ConfigError("/time_zone", "unknown time zone %q: use an IANA name such as Europe/Rome", tz)
	}
	fold, err := openFolder(s.Folder, set.Path(s.Folder))
	if err != nil {
		return nil, err
	}
	ct, err := loadContract()
	if err != nil {
		return nil, sdk.Fatal(fmt.Errorf("the embedded schemas do not load: %w", err))
	}
	m, err := loadMapping(set.Path(s.Mapping), ct, mappingDefaults{loc: loc, encoding: s.Encoding})
	if err != nil {
		var me *yamldoc.Error
		if errors.As(err, &me) {
			return nil, sdk.ConfigError("/mapping", "the mapping file has %s:\n%s", plural(len(me.Problems), "problem"), me.Error())
		}
		return nil, sdk.ConfigError("/mapping", "%v", err)
	}
	return &config{s: s, loc: loc, folder: fold, mapping: m}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Check says whether the folder can be read and the mapping is sound, and
// that the files it would read fit their mappings.
func (c *Connector) Check(ctx context.Context, set sdk.Settings) error {
	cfg, err := c.load(set)
	if err != nil {
		return err
	}
	files, err := cfg.folder.list(cfg.mapping)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(cfg.folder.real)
	if err != nil {
		return sdk.ConfigError("/folder", "the folder %s cannot be opened: %v", cfg.folder.shown, err)
	}
	defer root.Close()
	for _, e := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkFile(ctx, cfg, root, e); err != nil {
			return err
		}
	}
	return nil
}

// checkFile reads a file as Read would, up to its first record: that
// checks it can be opened and that its header fits its file mapping.
func checkFile(ctx context.Context, cfg *config, root *os.Root, e entry) error {
	r := &reading{ctx: ctx, cfg: cfg, root: root, log: slog.New(slog.DiscardHandler),
		state: map[string]fileState{}, max: 1, emit: func(sdk.Batch) error { return errStopCheck }}
	err := r.file(e)
	var se *sdk.Error
	switch {
	case err == nil || errors.Is(err, errStopCheck):
		return nil
	case errors.As(err, &se) && se.Class == sdk.ClassConfig:
		return err
	}
	return sdk.ConfigError("/folder", "%s cannot be read: %v", e.name, err)
}

var errStopCheck = errors.New("check: the first record was read")

// Read sends the records of new rows, file by file in name order, in
// batches of at most req.MaxBatch (500 by default), each with the cursor
// after its last row.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	cfg, err := c.load(req.Settings)
	if err != nil {
		return err
	}
	state, err := decodeCursor(req.Cursor)
	if err != nil {
		return err
	}
	files, err := cfg.folder.list(cfg.mapping)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(cfg.folder.real)
	if err != nil {
		return sdk.Transient(fmt.Errorf("open the folder %s: %w", cfg.folder.shown, err))
	}
	defer root.Close()
	max := req.MaxBatch
	if max <= 0 {
		max = DefaultMaxBatch
	}
	r := &reading{ctx: ctx, cfg: cfg, root: root, log: c.logger(), state: state, max: max, emit: emit}
	for _, e := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.file(e); err != nil {
			return err
		}
	}
	return r.flush()
}
