package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token is a bearer token of the HTTP API as stored: its SHA-256, never the
// token itself (package hub/tokens makes and checks tokens).
type Token struct {
	ID         int64
	Name       string // unique among the tokens not revoked
	Role       string // "viewer", "operator" or "admin"
	Hash       []byte // SHA-256 of the token
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used
	RevokedAt  time.Time // zero until revoked
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// ErrTokenNameTaken is wrapped by AddToken's error when a token that is not
// revoked already has the name.
var ErrTokenNameTaken = errors.New("a token with this name exists and is not revoked")

// AddToken stores a new token of the given name and role, of which only the
// SHA-256 (hash) is kept, and returns its id. It fails with
// ErrTokenNameTaken when a token of that name is not revoked.
func (t *Tx) AddToken(ctx context.Context, name, role string, hash []byte) (int64, error) {
	switch {
	case name == "":
		return 0, errors.New("add token: the name is empty")
	case role != "viewer" && role != "operator" && role != "admin":
		return 0, fmt.Errorf("add token %q: role %q is not one of viewer, operator, admin", name, role)
	case len(hash) != sha256.Size:
		return 0, fmt.Errorf("add token %q: the hash has %d bytes, not the %d of a SHA-256", name, len(hash), sha256.Size)
	}
	var taken int
	err := t.tx.QueryRowContext(ctx, `SELECT 1 FROM api_tokens WHERE name = ?1 AND revoked_at IS NULL`, name).Scan(&taken)
	switch {
	case err == nil:
		return 0, fmt.Errorf("add token %q: %w: revoke it first, or choose another name", name, ErrTokenNameTaken)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("add token %q: %w", name, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)`,
		name, role, hash, t.s.stamp())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			// The hash: a 256-bit random token was made twice, which does
			// not happen; say so without the hash.
			return 0, fmt.Errorf("add token %q: the token's hash is already stored: make a new token", name)
		}
		return 0, fmt.Errorf("add token %q: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add token %q: %w", name, err)
	}
	return id, nil
}

// RevokeToken revokes the token of the given name that is not revoked yet,
// and returns its id. It fails with ErrNotFound when there is none.
func (t *Tx) RevokeToken(ctx context.Context, name string) (int64, error) {
	var id int64
	err := t.tx.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = ?1 WHERE name = ?2 AND revoked_at IS NULL RETURNING id`,
		t.s.stamp(), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("revoke token %q: %w: no token of that name is active", name, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("revoke token %q: %w", name, err)
	}
	return id, nil
}

const tokenColumns = `id, name, role, hash, created_at, last_used_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var tk Token
	var created string
	var used, revoked sql.NullString
	if err := sc.Scan(&tk.ID, &tk.Name, &tk.Role, &tk.Hash, &created, &used, &revoked); err != nil {
		return Token{}, err
	}
	var err error
	if tk.CreatedAt, err = parseTime(created); err == nil {
		if tk.LastUsedAt, err = parseNullTime(used); err == nil {
			tk.RevokedAt, err = parseNullTime(revoked)
		}
	}
	if err != nil {
		return Token{}, fmt.Errorf("token %q: %w", tk.Name, err)
	}
	return tk, nil
}

// Tokens lists every token, revoked or not, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, tk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// TokenByHash finds the token, revoked or not, whose SHA-256 is hash; ok is
// false when there is none. The search goes through the index of hashes:
// its timing can tell a caller about stored hashes, never about tokens,
// which cannot be derived from their hashes. Compare the hash found with
// the one sought in constant time before trusting it.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (tk Token, ok bool, err error) {
	tk, err = scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("find a token: %w", err)
	}
	return tk, true, nil
}

// TouchToken records that token id was used now, in its own transaction.
func (s *Store) TouchToken(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2`, tx.s.stamp(), id); err != nil {
			return fmt.Errorf("record the use of token %d: %w", id, err)
		}
		return nil
	})
}
