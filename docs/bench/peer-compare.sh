#!/bin/sh
# Compare the hub's pipeline with a peer doing the same work on this
# machine (issue 8): docs/bench/peer/ingest.mjs, Node.js with ajv (JSON
# Schema 2020-12) and better-sqlite3, on BenchmarkSink's 20,000 person
# records. Usage, from the repository:
#
#   docs/bench/peer-compare.sh [COUNT]      (default 3)
#
# It installs the peer's pinned packages (npm ci, about two minutes:
# better-sqlite3 builds from source) when docs/bench/peer/node_modules is
# missing, then runs BenchmarkPeer, which checks that hub and peer
# quarantine the same records and store all 20,000, and prints its output
# with the machine's load before and after. Needs Go and Node.js 20 or
# later (node and npm on PATH).
set -eu
count=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
peer="$root/docs/bench/peer"
if [ ! -d "$peer/node_modules/better-sqlite3" ] || [ ! -d "$peer/node_modules/ajv" ]; then
	(cd "$peer" && npm ci --no-audit --no-fund)
fi
echo "== node $(node --version), $(go version)"
echo "== load before: $(uptime)"
cd "$root"
SNODO_PEER="$peer" go test -run xxx -bench Peer -benchtime 3x -count "$count" ./hub/pipeline
echo "== load after: $(uptime)"
