#!/bin/sh
# Idle memory of a territory hub with three connectors: "snodo run" with
# three instances of the test connector (plugins/internal/testconnector),
# each a process of its own holding N volunteer records (default 10,000,
# 1 KB each) that it sends at start-up and then re-reads every minute. The
# script waits until everything has been read and the hub has settled
# (SETTLE seconds, default 60), then prints the resident memory (VmRSS) and
# its peak (VmHWM) of the hub and of each connector process.
# Usage, from the repository:
#
#   docs/bench/idle-rss.sh [WORKDIR] [RECORDS] [SETTLE]
set -eu
dir=${1:-/tmp/snodo-idle-bench}
records=${2:-10000}
settle=${3:-60}
rm -rf "$dir" && mkdir -p "$dir/bin"
go build -o "$dir/bin/snodo" ./cmd/snodo
go build -o "$dir/bin/testconnector" ./plugins/internal/testconnector
"$dir/bin/snodo" init "$dir/hub" --territory BENCH-IDLE --name "Idle benchmark" >/dev/null
sum=$(sha256sum "$dir/bin/testconnector" | cut -d' ' -f1)
{
	echo "connectors:"
	for c in alpha beta gamma; do
		printf 'source: %s\nterritory: BENCH-IDLE\nrecords: %s\nsize: 1024\n' "$c" "$records" >"$dir/hub/$c.yaml"
		echo "  - {name: $c, plugin: $dir/bin/testconnector, sha256: $sum, settings: $c.yaml, read_interval: 1m}"
	done
} >>"$dir/hub/snodo.yaml"
"$dir/bin/snodo" run --config "$dir/hub/snodo.yaml" --listen 127.0.0.1:8491 >"$dir/run.log" 2>&1 &
hub=$!
trap 'kill $hub' EXIT
sleep "$settle"
mem() { awk '/^VmRSS|^VmHWM/ {printf "%s %6.1f MiB  ", $1, $2/1024}' "/proc/$1/status"; }
echo "hub (snodo run, pid $hub): $(mem $hub)"
for p in $(pgrep -P "$hub"); do
	echo "connector $(tr '\0' ' ' </proc/$p/cmdline | cut -c1-60) (pid $p): $(mem "$p")"
done
echo "== snodo status"
"$dir/bin/snodo" status --config "$dir/hub/snodo.yaml" 2>&1 | head -20
