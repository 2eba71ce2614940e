#!/bin/sh
# Load the region's comparison API from a second process (wrk) and print
# wrk's latency distribution. Usage, from the repository:
#
#   docs/bench/compare-load.sh [WORKDIR]      (default /tmp/snodo-compare-bench)
#
# It builds snodo, makes the demo region (snodo demo --headless), gives it
# the example territories file so that /api/v1/compare/* answer, creates a
# viewer token (kept in WORKDIR/token, never printed), serves the region on
# 127.0.0.1:8383 and runs wrk against /api/v1/compare/indicator: first one
# connection (latency without queueing), then 16. Needs wrk
# (apt-get install wrk).
set -eu
dir=${1:-/tmp/snodo-compare-bench}
url='http://127.0.0.1:8383/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025'
rm -rf "$dir" && mkdir -p "$dir"
go build -o "$dir/snodo" ./cmd/snodo
"$dir/snodo" demo --headless --json --dir "$dir/demo" >/dev/null 2>&1
cp examples/region/territories.json "$dir/demo/region/"
echo "territories_file: territories.json" >>"$dir/demo/region/region.yaml"
"$dir/snodo" region tokens create --name bench --role viewer --config "$dir/demo/region/region.yaml" 2>/dev/null | head -1 >"$dir/token"
"$dir/snodo" region serve --config "$dir/demo/region/region.yaml" --listen 127.0.0.1:8383 >"$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid' EXIT
sleep 2
hdr="Authorization: Bearer $(cat "$dir/token")"
wrk -t1 -c1 -d5s -H "$hdr" "$url" >/dev/null # warm-up
# The server's CPU time (utime + stime, in clock ticks) around each run:
# divided by the requests wrk reports, the CPU per request.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
for c in 1 16; do
	echo "== $c connection(s)"
	before=$(ticks)
	wrk -t$(( c > 1 ? 2 : 1 )) -c$c -d30s --latency -H "$hdr" "$url" | tee "$dir/wrk-$c.txt"
	after=$(ticks)
	requests=$(awk '/requests in/ {print $1}' "$dir/wrk-$c.txt")
	echo "server CPU: $(( (after - before) * 1000 / hz )) ms for $requests requests:" \
		"$(awk -v t=$(( (after - before) * 1000 / hz )) -v n="$requests" 'BEGIN {printf "%.1f", t / n}') ms per request"
done
echo "== server RSS"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
