// Package tokens makes and checks the bearer tokens of the HTTP API.
//
// A token is "snd_" followed by 32 random bytes in unpadded base64url (47
// characters in all). It is shown once, when it is made; the store keeps only
// its SHA-256, with a name, a role, when it was made, last used and revoked.
// A request's token is hashed; the stored token is found by that hash
// through an index, and the two hashes are compared in constant time. What
// timing can reveal is about hashes, and a token cannot be made from its
// hash (SHA-256 of 256 random bits), so the token itself never leaks
// through timing, and the check costs the same with 10 tokens or 10,000.
//
// Roles are ordered: a viewer sees the hub's state (connectors, counts); an
// operator also reads records, timelines and the quarantine; an admin can
// do everything, including verifying the audit log.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

// Role is what a token may do. A higher role may do what a lower one may.
type Role int

// The roles, lowest first.
const (
	Viewer Role = iota + 1
	Operator
	Admin
)

// Roles lists the roles, lowest first.
func Roles() []Role { return []Role{Viewer, Operator, Admin} }

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Allows reports whether a token of role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r >= need && need >= Viewer && r <= Admin }

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q: give viewer, operator or admin", s)
}

// Prefix starts every token, so that a token is recognised when it turns
// up where it should not (a log, a repository).
const Prefix = "snd_"

const secretBytes = 32

var tokenLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// Generate makes a new token from 32 bytes of crypto/rand.
func Generate() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the SHA-256 of a token, the only form in which it is stored.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormed checks the shape of a token before it is hashed.
func wellFormed(token string) bool {
	if len(token) != tokenLen || !strings.HasPrefix(token, Prefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token[len(Prefix):])
	return err == nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckName checks a token's name: 1 to 64 letters, digits, '.', '_', '@'
// or '-', starting with a letter or a digit.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("token name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or a digit", name)
	}
	return nil
}

// Create makes a token with the given name and role, stores its hash and
// writes "token.create" to the audit log as actor, in one transaction. It
// returns the token, which cannot be recovered afterwards.
func Create(ctx context.Context, s *store.Store, actor, name string, role Role) (string, error) {
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	if role < Viewer || role > Admin {
		return "", fmt.Errorf("create token %q: unknown %v: give viewer, operator or admin", name, role)
	}
	token := Generate()
	err := s.Write(ctx, func(tx *store.Tx) error {
		id, err := tx.AddToken(ctx, name, role.String(), Hash(token))
		if err != nil {
			return err
		}
		return tx.Audit(ctx, actor, "token.create", map[string]any{"token_id": id, "name": name, "role": role.String()})
	})
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return token, nil
}

// Revoke revokes the active token of the given name and writes
// "token.revoke" to the audit log as actor, in one transaction. It fails
// with an error wrapping store.ErrNotFound when no active token has the
// name.
func Revoke(ctx context.Context, s *store.Store, actor, name string) error {
	err := s.Write(ctx, func(tx *store.Tx) error {
		id, err := tx.RevokeToken(ctx, name)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, actor, "token.revoke", map[string]any{"token_id": id, "name": name})
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// Principal is who made a request: the token that authenticated it.
type Principal struct {
	TokenID int64
	Name    string
	Role    Role
}

// Actor is the principal's name in the audit log.
func (p Principal) Actor() string { return "token:" + p.Name }

// The errors of Authenticate. Their messages are fit for the client.
var (
	ErrUnknown = errors.New("the bearer token is not one this hub issued")
	ErrRevoked = errors.New("the bearer token was revoked")
)

// touchEvery is how stale last_used_at may get: recording every use would
// make every request a write.
const touchEvery = time.Minute

// Authenticate finds the stored token matching token: by its SHA-256,
// confirmed with a constant-time comparison. It fails with ErrUnknown or
// ErrRevoked, or with another error when the store cannot be read. It
// records the use (last_used_at) at most once a minute per token.
func Authenticate(ctx context.Context, s *store.Store, token string) (Principal, error) {
	if !wellFormed(token) {
		return Principal{}, ErrUnknown
	}
	h := Hash(token)
	tk, found, err := s.TokenByHash(ctx, h)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !found || subtle.ConstantTimeCompare(h, tk.Hash) != 1 {
		return Principal{}, ErrUnknown
	}
	if tk.Revoked() {
		return Principal{}, ErrRevoked
	}
	role, err := ParseRole(tk.Role)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: stored token %q: %w", tk.Name, err)
	}
	if time.Since(tk.LastUsedAt) > touchEvery {
		if err := s.TouchToken(ctx, tk.ID); err != nil {
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
	}
	return Principal{TokenID: tk.ID, Name: tk.Name, Role: role}, nil
}
