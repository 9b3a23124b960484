#!/usr/bin/env bash
# Steering API benchmark (issue 16): Resolve in-process (BenchmarkResolve,
# one core, 0 allocs; floor 2M/s) and over HTTP/2 (h2c) from Connect
# clients on loopback against a real steer-dns (floor: p99 < 1 ms at 10k
# calls/s), then a ramp to the highest rate the server sustains (≥ 98 % of
# the target completed, no errors, nothing shed as overload). The server is
# pinned to SERVER_CPU, the load to LOAD_CPU. steer-apiload is open loop:
# latencies count from when each call was due, and lag-p99 is how late the
# generator itself was. Each line ends with the CPU the server, the load
# generator and everything else on the machine used during the run
# (other processes on the two cores take time from both). Everything lives
# in a mktemp dir removed on exit.
#
#   bench/api.sh                       # ~2 minutes
#   RUNS=1 DURATION=5s bench/api.sh
#
# Environment: RUNS (3), DURATION (10s), RATE (10000), RAMP ("2000 4000
# 6000 8000 10000 12000 14000", 5 s each), CONNS (1) and WORKERS (64) of
# steer-apiload, V4/V6 (100000/20000 networks in the synthetic map),
# SERVER_CPU (0), LOAD_CPU (1), OUT (bench/results/api.md).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
RATE=${RATE:-10000}
RAMP=${RAMP:-"2000 4000 6000 8000 10000 12000 14000"}
CONNS=${CONNS:-1}
WORKERS=${WORKERS:-64}
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
# pin CPU CMD... runs CMD on CPU (exec: the caller's $! is CMD itself).
pin() { if command -v taskset >/dev/null; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }
# cpu_ticks PID: user+system clock ticks of PID; busy_ticks: of the machine.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
HZ=$(getconf CLK_TCK)
# load RATE DURATION [SEED]: one steer-apiload run, its line followed by
# the CPU used meanwhile by the server, the load generator (its own "cpu"
# figure) and all other processes, in cores averaged over the run, and the
# load average.
load() {
	local s0 b0 t0 s1 b1 t1 line lcpu
	s0=$(cpu_ticks "$PID") b0=$(busy_ticks) t0=$(date +%s%N)
	line=$( (pin "$LOAD_CPU" "$TMP/steer-apiload" --url "$URL" --rate "$1" --duration "$2" --seed "${3:-1}" \
		--conns "$CONNS" --workers "$WORKERS") )
	s1=$(cpu_ticks "$PID") b1=$(busy_ticks) t1=$(date +%s%N)
	lcpu=$(awk '{for (i=1;i<NF;i++) if ($i=="cpu") {v=$(i+1); sub("s$","",v); print v}}' <<<"$line")
	awk -v l="$line" -v s=$((s1 - s0)) -v b=$((b1 - b0)) -v lc="$lcpu" -v hz="$HZ" -v ns=$((t1 - t0)) -v la="$(cut -d' ' -f1 /proc/loadavg)" \
		'BEGIN {secs = ns / 1e9; printf "%s | cpu: server %.2f load %.2f others %.2f cores, loadavg %s\n", l, s / hz / secs, lc / secs, (b / hz - s / hz - lc) / secs, la}'
}

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
(pin "$SERVER_CPU" "$TMP/steer-dns" --config "$W/steer.yaml" --log-level warn) &
PID=$!
for _ in $(seq 600); do
	if curl -fsS -o /dev/null -H 'Content-Type: application/json' -d '{"ip":"203.0.113.9"}' "$URL/steer.v1.SteeringService/Resolve" 2>/dev/null; then break; fi
	kill -0 "$PID" || { log "steer-dns exited"; exit 1; }
	sleep 0.1
done

RESULTS=()
for i in $(seq "$RUNS"); do
	line=$(load "$RATE" "$DURATION" "$i")
	log "run $i: $line"
	RESULTS+=("$line")
done
MAX=0
RAMPS=()
for r in $RAMP; do
	line=$(load "$r" 5s)
	log "ramp: $line"
	RAMPS+=("$line")
	ok=$(awk -v t="$r" '{for (i=1;i<=NF;i++) {if ($i=="rate") rate=$(i+1); if ($i=="errors") e=$(i+1); if ($i=="overload") o=$(i+1)}} END {sub("/s","",rate); print (rate+0 >= 0.98*t && e+0 == 0 && o+0 == 0) ? 1 : 0}' <<<"$line")
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
	echo "## HTTP/2 (h2c), Connect clients over $CONNS connection(s), $WORKERS workers, $RATE calls/s for $DURATION, $RUNS runs (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
	echo '```'
	printf '%s\n' "${RESULTS[@]}"
	echo '```'
	echo
	echo "## Ramp (5 s each): max sustained rate $MAX calls/s"
	echo '```'
	printf '%s\n' "${RAMPS[@]}"
	echo '```'
} | tee "$OUT"
