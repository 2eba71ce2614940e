// Package territory sets up and opens a territory hub's folder: its
// configuration, its keys and its database.
package territory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
)

var codePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)

// Setup is what Init created.
type Setup struct {
	Dir        string
	Config     string
	Database   string
	PseudoKey  string
	SigningKey string
	PublicKey  string
}

// Init creates a territory hub in dir: snodo.yaml, the pseudonymisation and
// signing keys (mode 0600) and the database. It refuses to touch a folder
// that already holds any of them.
func Init(ctx context.Context, dir, code, name string) (*Setup, error) {
	if !codePattern.MatchString(code) {
		return nil, fmt.Errorf("territory code %q: use 2 to 32 upper-case letters, digits and hyphens, e.g. SDS-FI-NORDOVEST", code)
	}
	if name == "" {
		return nil, errors.New("territory name is empty: pass --name, e.g. --name \"SdS Firenze Nord-Ovest\"")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Setup{
		Dir:        abs,
		Config:     filepath.Join(abs, config.FileName),
		Database:   filepath.Join(abs, config.DefaultStorePath),
		PseudoKey:  filepath.Join(abs, config.DefaultPseudoKey),
		SigningKey: filepath.Join(abs, config.DefaultSigningKey),
	}
	s.PublicKey = keyring.PublicKeyPath(s.SigningKey)
	for _, p := range []string{s.Config, s.Database, s.PseudoKey, s.SigningKey, s.PublicKey} {
		if _, err := os.Stat(p); err == nil {
			return nil, &ExistsError{Path: p}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", abs, err)
	}
	if _, err := keyring.CreatePseudonymisationKey(s.PseudoKey); err != nil {
		return nil, err
	}
	if _, err := keyring.CreateSigningKey(s.SigningKey); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, s.Database)
	if err != nil {
		return nil, err
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(ctx, "snodo init", "territory.init", map[string]string{"territory": code})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("initialise the database: %w", err)
	}
	f, err := os.OpenFile(s.Config, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", s.Config, err)
	}
	if _, err := f.Write(config.Template(code, name)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", s.Config, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if _, err := config.Load(s.Config); err != nil {
		return nil, fmt.Errorf("the configuration just written does not load (a bug): %w", err)
	}
	return s, nil
}

// ExistsError refuses to overwrite an existing set-up.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists: this folder already holds a Snodo set-up; refusing to overwrite it (choose another folder, or move the old set-up away first)", e.Path)
}
