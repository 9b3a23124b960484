#!/usr/bin/env bash
# Steering API benchmark (issue 16): Resolve in-process (BenchmarkResolve,
# one core, 0 allocs; floor 2M/s) and over HTTP/2 (h2c) from one Connect
# client on loopback against a real steer-dns (floor: p99 < 1 ms at 10k
# calls/s), then a ramp to the highest rate the server sustains (≥ 98 % of
# the target completed, no errors). The server is pinned to SERVER_CPU, the
# load to LOAD_CPU. Everything lives in a mktemp dir removed on exit.
#
#   bench/api.sh                       # ~2 minutes
#   RUNS=1 DURATION=5s bench/api.sh
#
# Environment: RUNS (3), DURATION (10s), RATE (10000), RAMP ("20000 30000
# 40000 50000 60000 80000", 5 s each), V4/V6 (100000/20000 networks in the
# synthetic map), SERVER_CPU (0), LOAD_CPU (1), OUT (bench/results/api.md).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
RATE=${RATE:-10000}
RAMP=${RAMP:-"20000 30000 40000 50000 60000 80000"}
V4=${V4:-100000}
V6=${V6:-20000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-bench/results/api.md}
TMP=$(mktemp -d)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "api.sh: $*" >&2; }
pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

go build -o "$TMP/steer-dns" ./cmd/steer-dns
go build -o "$TMP/steer-apiload" ./cmd/steer-apiload
go build -o "$TMP/steer-dnsload" ./cmd/steer-dnsload

log "in-process: BenchmarkResolve -cpu 1 -count $RUNS"
go test -run '^$' -bench BenchmarkResolve -benchmem -cpu 1 -count "$RUNS" ./steerapi/ | tee "$TMP/inproc.txt" >&2

mapfile -t PORTS < <("$TMP/steer-dnsload" free-ports 3)
W=$TMP/world
"$TMP/steer-dnsload" synth --out "$W" --v4 "$V4" --v6 "$V6" --pops 20 \
	--steer-port "${PORTS[0]}" --admin-port "${PORTS[1]}" >&2
sed -i "s|^listen:|listen:\n  api: \"127.0.0.1:${PORTS[2]}\"|" "$W/steer.yaml"
URL=http://127.0.0.1:${PORTS[2]}
pin "$SERVER_CPU" "$TMP/steer-dns" --config "$W/steer.yaml" --log-level warn &
PID=$!
for _ in $(seq 600); do
	if curl -fsS -o /dev/null -H 'Content-Type: application/json' -d '{"ip":"203.0.113.9"}' "$URL/steer.v1.SteeringService/Resolve" 2>/dev/null; then break; fi
	kill -0 "$PID" || { log "steer-dns exited"; exit 1; }
	sleep 0.1
done

RESULTS=()
for i in $(seq "$RUNS"); do
	line=$(pin "$LOAD_CPU" "$TMP/steer-apiload" --url "$URL" --rate "$RATE" --duration "$DURATION" --seed "$i")
	log "run $i: $line"
	RESULTS+=("$line")
done
MAX=0
RAMPS=()
for r in $RAMP; do
	line=$(pin "$LOAD_CPU" "$TMP/steer-apiload" --url "$URL" --rate "$r" --duration 5s)
	log "ramp: $line"
	RAMPS+=("$line")
	ok=$(awk -v t="$r" '{for (i=1;i<=NF;i++) {if ($i=="rate") rate=$(i+1); if ($i=="errors") e=$(i+1)}} END {sub("/s","",rate); print (rate >= 0.98*t && e == 0) ? 1 : 0}' <<<"$line")
	if [ "$ok" = 1 ]; then MAX=$r; else break; fi
done

{
	echo "# bench/api.sh $(date -u +%Y-%m-%dT%H:%MZ) ($(nproc) cores, $(go env GOVERSION))"
	echo
	echo '## In-process Resolve (go test -bench BenchmarkResolve -cpu 1)'
	echo '```'
	grep '^BenchmarkResolve' "$TMP/inproc.txt"
	echo '```'
	echo
	echo "## HTTP/2 (h2c), one Connect client, $RATE calls/s for $DURATION, $RUNS runs (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
	echo '```'
	printf '%s\n' "${RESULTS[@]}"
	echo '```'
	echo
	echo "## Ramp (5 s each): max sustained rate $MAX calls/s"
	echo '```'
	printf '%s\n' "${RAMPS[@]}"
	echo '```'
} | tee "$OUT"
