package config

import (
	"encoding/json"
	"fmt"
)

// Template is the snodo.yaml that "snodo init" writes: every setting with
// its default, explained.
func Template(code, name string) []byte {
	quoted, _ := json.Marshal(name) // a JSON string is a valid YAML scalar
	return []byte(fmt.Sprintf(`# Snodo hub configuration. Reference: the README, "Configuration".
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

# The sections below are optional; uncomment what the territory needs.
#
# Connector instances (see the README, "Writing a connector"):
# connectors:
#   - {name: comune, plugin: bin/snodo-connector-comune, sha256: <sha256sum of it>, settings: comune.yaml, read_interval: 5m}
#
# Organisations that send and receive referrals, and the connector that
# delivers to each one's system:
# organisations:
#   - {id: comune-sesto-fiorentino, name: Comune di Sesto Fiorentino, connector: comune}
# referrals:
#   envelope_retention: 168h
#   response_targets: {stat: 4h, asap: 24h, urgent: 72h, routine: 168h}
#
# Disclosure control of the statistics this territory releases, chosen by
# the territory, never by the region (defaults shown):
# disclosure:
#   mode: noise            # noise | rounding
#   rho_year_cap: 1
#   rho_annual: 3/4
#   rho_quarterly: 1/16
#   headline_share: 7/8    # of a release's ρ, for its totals
#   threshold: 3
#
# The region hub the releases go to:
# federation:
#   region_url: https://region.example.org
#   ca_file: keys/region-ca.pem   # only for a CA the system does not trust
#   # or through NATS JetStream instead of HTTP:
#   # nats_url: tls://nats.example.org:4222
#   # nats_credentials: keys/nats.creds   # the NATS credentials file, mode 0600
`, code, quoted, DefaultStorePath, DefaultPseudoKey, DefaultSigningKey, DefaultListen, DefaultLogLevel, DefaultLogFormat))
}
