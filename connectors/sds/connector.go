package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

//go:embed settings.schema.json
var settingsSchemaJSON string

// Version is the connector's version.
const Version = "1.0.0"

// Defaults of the settings.
const (
	DefaultOrganisation = "sds-fi-nordovest"
	DefaultTimeZone     = "Europe/Rome"
)

// The $ids of the shared schemas the connector produces and accepts.
const (
	SchemaPerson      = "https://snodo-hub.github.io/schemas/person/1.0.0"
	SchemaEncounter   = "https://snodo-hub.github.io/schemas/service-encounter/1.0.0"
	SchemaAssessment  = "https://snodo-hub.github.io/schemas/assessment/1.0.0"
	SchemaReferral    = "https://snodo-hub.github.io/schemas/referral/1.0.0"
	SchemaStatusEvent = "https://snodo-hub.github.io/schemas/referral-status-event/1.0.0"
	codes             = "https://snodo-hub.github.io/codes/"
)

// Connector reads the health society's nightly export folder and writes to
// its inbox folder. It holds no state between calls: where reading stopped
// is in the cursor, what was delivered is in the inbox.
type Connector struct {
	// Log receives the connector's log lines; nil means sdk.Logger().
	Log *slog.Logger
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Writer    = (*Connector)(nil)
)

// Settings are the connector's settings (see settings.schema.json).
type Settings struct {
	Source       string `json:"source"`
	Territory    string `json:"territory"`
	Folder       string `json:"folder"`
	Inbox        string `json:"inbox"`
	Organisation string `json:"organisation,omitempty"`
	TimeZone     string `json:"time_zone,omitempty"`

	loc *time.Location
}

// Manifest describes the connector.
func (c *Connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "sds",
		Version: Version,
		Kind:    sdk.KindHealth,
		Description: "Reads the nightly CSV export (semicolon, Latin-1) of the health society's PUA/UVM system — people in charge, " +
			"PUA accesses and the referrals they send, UVM assessments, services, referral status changes — and delivers " +
			"referrals and status updates to its inbox folder, one CSV file each, idempotently. Names and birth dates never leave it.",
		Produces:       []string{SchemaPerson, SchemaEncounter, SchemaAssessment, SchemaReferral, SchemaStatusEvent},
		Accepts:        []string{SchemaReferral, SchemaStatusEvent},
		SettingsSchema: []byte(settingsSchemaJSON),
	}
}

func (c *Connector) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return sdk.Logger()
}

// settings decodes and completes the settings.
func settings(s sdk.Settings) (Settings, error) {
	var st Settings
	if err := s.Decode(&st); err != nil {
		return st, err
	}
	st.Folder, st.Inbox = s.Path(st.Folder), s.Path(st.Inbox)
	if st.Organisation == "" {
		st.Organisation = DefaultOrganisation
	}
	if st.TimeZone == "" {
		st.TimeZone = DefaultTimeZone
	}
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return st, sdk.ConfigError("/time_zone", "unknown time zone %q", st.TimeZone)
	}
	st.loc = loc
	return st, nil
}

// folderState says whether a folder is there: a missing or unreadable one
// is reported as transient (a share that is down looks the same).
func folderState(path, pointer string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Transient(fmt.Errorf("%s folder is not reachable (missing): is the share mounted?", pointer[1:]))
	case err != nil:
		return sdk.Transient(fmt.Errorf("%s folder: %w", pointer[1:], err))
	case !fi.IsDir():
		return sdk.ConfigError(pointer, "%s is not a folder", pointer[1:])
	}
	return nil
}

// Check says whether both folders are there.
func (c *Connector) Check(_ context.Context, s sdk.Settings) error {
	st, err := settings(s)
	if err != nil {
		return err
	}
	if err := folderState(st.Folder, "/folder"); err != nil {
		return err
	}
	return folderState(st.Inbox, "/inbox")
}
