package config

import (
	"encoding/json"
	"fmt"
)

// Template is the snodo.yaml that "snodo init" writes: every setting with
// its default, explained.
func Template(code, name string) []byte {
	quoted, _ := json.Marshal(name) // a JSON string is a valid YAML scalar
	return []byte(fmt.Sprintf(`# Snodo hub configuration. Reference: docs/configuration.md
# Relative paths are relative to this file's folder.
version: 1
mode: territory

territory:
  code: %s          # upper-case letters, digits, hyphens (2-32)
  name: %s

store:
  path: %s          # SQLite database (WAL mode): back it up with "snodo backup FILE", never by copying the file alone
  busy_timeout: 5s

keys:
  # Secret. Without it people cannot be matched again: back it up offline.
  pseudonymisation: %s
  # Signs the statistics this territory federates (Ed25519, PEM).
  signing: %s

listen: %s

log:
  level: %s         # debug | info | warn | error
  format: %s        # auto (text on a terminal, JSON otherwise) | text | json
`, code, quoted, DefaultStorePath, DefaultPseudoKey, DefaultSigningKey, DefaultListen, DefaultLogLevel, DefaultLogFormat))
}
