#!/usr/bin/env bash
# bench/collect.sh: RUM ingest.
#  1. HTTP: `steer collect` (durable group commits into the DuckDB store)
#     under steer-beaconload (another process: distinct 20-sample beacons
#     over keep-alive connections, each from its own client network), and
#     in the same run the same load against a bare Go handler that only
#     reads and discards the body (the ceiling). Floor: 20k beacons/s.
#  2. Bulk: `steer ingest` of a simulated world's beacons. Floor: 5M
#     samples/s.
# Writes bench/results/collect.md. Only 127.0.0.1 ports; temp files removed.
#
#   bench/collect.sh
#   DURATION=5 CONNS=32 NETWORKS=200000 bench/collect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
REPEAT=${REPEAT:-3}
NETWORKS=${NETWORKS:-500000}
OUT=${OUT:-bench/results/collect.md}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/steer-collect-bench.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

log "building into $TMP"
go build -o "$TMP/steer" ./cmd/steer
go build -o "$TMP/steer-beaconload" ./cmd/steer-beaconload

# wait_addr FILE: the first "listening on" address a server printed.
wait_addr() {
	for _ in $(seq 1 600); do
		if a=$(grep -o 'listening on [a-z]*:*/*[0-9.:]*' "$1" 2>/dev/null | head -1 | sed 's#listening on \(http://\)*##'); [ -n "$a" ]; then
			echo "$a"
			return 0
		fi
		sleep 0.1
	done
	echo "server did not start: $(cat "$1")" >&2
	return 1
}

cat >"$TMP/collect.yaml" <<EOF
listen: 127.0.0.1:0
tokens: [bench-token-0123]
trusted_proxies: [127.0.0.0/8]
rate: 0
EOF

log "steer collect under load ($DURATION, $CONNS connections)"
"$TMP/steer" collect --store "$TMP/store" --config "$TMP/collect.yaml" --log-level warn >"$TMP/collect.out" 2>&1 &
PIDS+=($!)
addr=$(wait_addr "$TMP/collect.out")
# REPEAT runs (the machine is shared and noisy), every run logged; the
# report gives the median and the range of each figure
runs() { python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin if l.strip()]))'; }
steer_json=$(for i in $(seq 1 "$REPEAT"); do "$TMP/steer-beaconload" run --url "http://$addr/beacon" --token bench-token-0123 --duration "$DURATION" --conns "$CONNS" --seed "$i" | tee /dev/stderr; done | runs)
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" || true

log "bare Go handler under the same load"
"$TMP/steer-beaconload" sink --listen 127.0.0.1:0 >"$TMP/sink.out" 2>&1 &
PIDS+=($!)
addr=$(wait_addr "$TMP/sink.out")
sink_json=$(for i in $(seq 1 "$REPEAT"); do "$TMP/steer-beaconload" run --url "http://$addr/beacon" --token bench-token-0123 --duration "$DURATION" --conns "$CONNS" --seed "$((i + 100))" | tee /dev/stderr; done | runs)

log "bulk: steer ingest of a simulated world ($NETWORKS networks)"
"$TMP/steer" sim --out "$TMP/world" --networks "$NETWORKS" --quiet >/dev/null
samples=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["samples"])' "$TMP/world/world.json")
lines=$(wc -l <"$TMP/world/beacons.ndjson")
# REPEAT bulk loads, each into a fresh store: wall seconds and the rate the
# import reports, per run
walls=
owns=
for i in $(seq 1 "$REPEAT"); do
	rm -rf "$TMP/bulk"
	t0=$(date +%s.%N)
	"$TMP/steer" ingest --store "$TMP/bulk" "$TMP/world/beacons.ndjson" >"$TMP/ingest.out" 2>&1
	t1=$(date +%s.%N)
	cat "$TMP/ingest.out" >&2
	walls="$walls $(python3 -c "print($t1 - $t0)")"
	owns="$owns $(grep -o '([0-9.]*M samples/s)' "$TMP/ingest.out" | tr -d '()' | cut -d' ' -f1 | sed 's/M//' | tail -1)"
done

python3 - "$steer_json" "$sink_json" "$samples" "$lines" "$walls" "$owns" "$OUT" "$DURATION" "$CONNS" <<'PY'
import json, statistics, sys
steer, sink = json.loads(sys.argv[1]), json.loads(sys.argv[2])
samples, lines = int(sys.argv[3]), int(sys.argv[4])
walls = [float(w) for w in sys.argv[5].split()]
owns = [float(o or 0) * 1e6 for o in sys.argv[6].split()]
out, dur, conns = sys.argv[7], sys.argv[8], sys.argv[9]

def mr(xs, fmt):
    """median [min–max] of xs."""
    return f"{fmt(statistics.median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"
n0 = lambda x: f"{x:,.0f}"
f2 = lambda x: f"{x:.2f}"
with open(out, "w") as f:
    f.write(f"# RUM ingest (median [min–max] of {len(steer)} runs, {dur} per load run, {conns} connections, 20-sample beacons of {steer[0]['body_bytes']} bytes)\n\n")
    f.write("| over HTTP | beacons/s | samples/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n")
    for name, rs in (("steer collect (durable group commit)", steer), ("bare Go handler (read + discard)", sink)):
        col = lambda k: [r[k] for r in rs]
        f.write(f"| {name} | {mr(col('beacons_per_s'), n0)} | {mr(col('samples_per_s'), n0)} | {mr(col('p50_ms'), f2)} | {mr(col('p99_ms'), f2)} | {sum(col('errors'))} |\n")
    ratio = statistics.median(r["beacons_per_s"] for r in steer) / statistics.median(r["beacons_per_s"] for r in sink)
    f.write(f"\nsteer collect reaches {ratio:.2f}x of the bare handler in the medians (floor: 20,000 beacons/s).\n\n")
    f.write(f"| bulk | lines | samples | seconds | samples/s (whole command) | samples/s (the import, as it reports) |\n|---|---:|---:|---:|---:|---:|\n")
    f.write(f"| steer ingest (simulated world) | {lines:,} | {samples:,} | {mr(walls, f2)} | {mr([samples / w for w in walls], n0)} | {mr(owns, n0)} |\n\n")
    f.write("Floor: 5,000,000 samples/s. Command: `bench/collect.sh`.\n")
print(open(out).read())
med = statistics.median(r["beacons_per_s"] for r in steer)
if med < 20000 or any(r["errors"] for r in steer):
    print("bench/collect.sh: steer collect below the 20k beacons/s floor (median) or with errors", file=sys.stderr)
if statistics.median(owns) < 5e6:
    print("bench/collect.sh: steer ingest below the 5M samples/s floor (median)", file=sys.stderr)
PY
