package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
)

func newSigningKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signing-key",
		Short: "Replace the territory's signing key (after a theft or a revocation)",
	}
	var configPath string
	rotate := &cobra.Command{
		Use:   "rotate [--config FILE]",
		Short: "Make a new signing key, keeping the old one aside, and say how to enrol it",
		Long: `Rotate makes a new Ed25519 signing key in place of keys.signing (snodo.yaml),
keeps the old pair beside it as <file>.retired-<time> (mode 0600), and records
both key ids in the audit log. From then on releases are signed with the new
key: enrol its public half at the region ("snodo region enrol --key"), then
have the region revoke the old one ("snodo region keys revoke").

Envelopes already queued keep the old key's signature, and the region
refuses them once it has revoked that key ("snodo federate status" lists
them): when the old key was only retired, not stolen, revoke it after the
queue has drained.`,
		Example: `  snodo signing-key rotate --config /srv/snodo/snodo.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			path := cfg.Path(cfg.Keys.Signing)
			old, err := keyring.LoadSigningKey(path)
			if errors.Is(err, fs.ErrNotExist) {
				return usageError("no signing key at %s (keys.signing in %s): \"snodo init\" makes one", path, cfg.File)
			}
			if err != nil {
				return usageError("the signing key: %v", err)
			}
			st, err := openStoreOf(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := rotateSigningKey(context.WithoutCancel(cmd.Context()), st, path, old, time.Now())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "new signing key %s in %s\n", res.newID, path)
			fmt.Fprintf(out, "the old one, %s, is kept as %s\n", res.oldID, res.retired)
			fmt.Fprintf(out, "enrol the new key at the region:  snodo region enrol --territory %s --key %s\n", cfg.Territory.Code, keyring.PublicKeyPath(path))
			fmt.Fprintf(out, "then have the region revoke the old one:  snodo region keys revoke %s\n", res.oldID)
			return nil
		},
	}
	rotate.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.AddCommand(rotate)
	return cmd
}

type rotation struct{ oldID, newID, retired string }

// rotateSigningKey moves the key pair at path aside, makes a new one there
// and audits both ids. If the new key cannot be made, the old one is put
// back: the hub is never left without a key.
func rotateSigningKey(ctx context.Context, st *store.Store, path string, old ed25519.PrivateKey, now time.Time) (rotation, error) {
	r := rotation{oldID: federation.KeyID(old.Public().(ed25519.PublicKey)), retired: path + ".retired-" + now.UTC().Format("20060102T150405Z")}
	pub, retiredPub := keyring.PublicKeyPath(path), keyring.PublicKeyPath(r.retired)
	if _, err := os.Lstat(r.retired); err == nil {
		return r, fmt.Errorf("%s exists already: try again in a second", r.retired)
	}
	if err := os.Rename(path, r.retired); err != nil {
		return r, fmt.Errorf("move the old key aside: %w", err)
	}
	putBack := func() {
		_ = os.Rename(r.retired, path)
		_ = os.Rename(retiredPub, pub)
	}
	if err := os.Rename(pub, retiredPub); err != nil && !errors.Is(err, fs.ErrNotExist) {
		putBack()
		return r, fmt.Errorf("move the old public key aside: %w", err)
	}
	key, err := keyring.CreateSigningKey(path)
	if err != nil {
		putBack()
		return r, err
	}
	r.newID = federation.KeyID(key.Public().(ed25519.PublicKey))
	err = st.Audit(ctx, cliActor(), "keys.signing-rotate", map[string]string{"old_key": r.oldID, "new_key": r.newID, "retired_file": r.retired})
	if err != nil {
		return r, fmt.Errorf("the new key is in place but the audit entry failed: %w", err)
	}
	return r, nil
}
