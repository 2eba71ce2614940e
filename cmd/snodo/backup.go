package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
)

func newBackupCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "backup FILE [--config FILE]",
		Short: "Write a consistent copy of the database, even while the hub runs",
		Long: `Backup copies the hub's database to FILE with SQLite's VACUUM INTO: one
consistent snapshot, taken through a read-only connection, so a running hub
goes on reading and writing meanwhile. The copy is checked (integrity and
audit chain) before it gets its name; it is written with mode 0600 (it holds
pseudonymised personal data) and never over an existing file.

The keys are not in the backup. Back up keys/ offline as well, once: without
the pseudonymisation key a restored database cannot recognise anyone.

Exit status: 0 written, 1 FILE exists or the copy is not sound, 2 usage or I/O
error.`,
		Example: `  snodo backup /var/backups/snodo/snodo-$(date +%F).db --config /srv/snodo/snodo.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			db := cfg.Path(cfg.Store.Path)
			info, err := store.BackupFile(cmd.Context(), db, args[0])
			if err != nil {
				return storeError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Backed up %s to %s (mode 0600): %s, %d records, schema version %d, consistent as of %s.\n",
				db, info.Path, byteSize(info.Size), info.Records, info.Version, info.At.Format(time.RFC3339))
			fmt.Fprintf(out, "The keys are not in the backup: back up %s offline too.\n", keyFolders(cfg))
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var configPath string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore FILE [--config FILE] [--force]",
		Short: "Replace the database by a backup (the hub must be stopped)",
		Long: `Restore puts the backup FILE in place of the hub's database. It first checks
that FILE is a Snodo database this snodo can use (schema version not newer
than its own, PRAGMA integrity_check ok, audit chain verifies, the territory
of snodo.yaml), and refuses while the database is in use — stop the hub
first.

An existing database is replaced only with --force, and never deleted: it is
kept beside it as snodo.db.before-restore-TIME (with its WAL). The restored
database is migrated to this snodo's schema if it is older, its audit chain
verified, and the restore recorded in its audit log.

The keyed index only works with the pseudonymisation key it was made with: on
a new machine, restore keys/ from the same offline backup.

Exit status: 0 restored, 1 refused (in use, a database exists without
--force, not a sound Snodo backup), 2 usage or I/O error.`,
		Example: `  systemctl stop snodo
  snodo restore /var/backups/snodo/snodo-2026-03-01.db --config /srv/snodo/snodo.yaml --force`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			db := cfg.Path(cfg.Store.Path)
			res, err := store.Restore(cmd.Context(), args[0], db, store.RestoreOptions{Force: force, Territory: cfg.Territory.Code})
			if err != nil {
				return storeError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Restored %s into %s: %d records, schema version %d", res.Backup.Path, res.Database, res.Backup.Records, res.Backup.Version)
			if res.Version != res.Backup.Version {
				fmt.Fprintf(out, " (migrated to %d)", res.Version)
			}
			fmt.Fprintln(out, ", audit chain verified.")
			if res.Previous != "" {
				fmt.Fprintf(out, "The database it replaced is kept as %s.\n", res.Previous)
			}
			fmt.Fprintf(out, "People are matched with the pseudonymisation key the backup was made with: keep %s from the same set-up (restore it from your offline backup on a new machine).\n", cfg.Path(cfg.Keys.Pseudonymisation))
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing database (it is kept as snodo.db.before-restore-TIME)")
	return cmd
}

// keyFolders names the folders of the key files, for people.
func keyFolders(cfg *config.Config) string {
	var dirs []string
	for _, k := range []string{cfg.Keys.Pseudonymisation, cfg.Keys.Signing} {
		d := filepath.Dir(cfg.Path(k)) + string(filepath.Separator)
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, " and ")
}

// storeError gives a refusal of the backup commands exit status 1 and any
// other failure 2.
func storeError(err error) error {
	var (
		exists   *store.ExistsError
		inUse    *store.InUseError
		notSnodo *store.NotSnodoError
		unsound  *store.UnsoundError
		tooNew   *store.TooNewError
	)
	if errors.As(err, &exists) || errors.As(err, &inUse) || errors.As(err, &notSnodo) || errors.As(err, &unsound) || errors.As(err, &tooNew) {
		return &exitError{code: exitFindings, err: err}
	}
	return &exitError{code: exitUsage, err: err}
}

// byteSize writes a byte count for people.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
