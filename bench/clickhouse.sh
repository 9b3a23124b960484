#!/usr/bin/env bash
# bench/clickhouse.sh: the RUM store on ClickHouse (issue #19), next to
# DuckDB in the same run.
#  1. Map build: wall time and peak memory of `steer build` on the ~10M and
#     ~100M-sample stores of bench/build.sh (DuckDB), and on the same rows
#     copied (`steer store copy`) into a two-shard ClickHouse cluster (Debian
#     clickhouse-server, two plain processes on 127.0.0.1, internal/chtest).
#     Peak memory: steer's peak RSS (GNU time) and, for ClickHouse, the
#     highest sum of the two servers' RSS sampled every 0.2 s during the
#     build. Each ClickHouse map is compared byte for byte with DuckDB's.
#  2. Ingest over HTTP: two `steer collect` processes (each with its own
#     spool) writing to the cluster, each under its own steer-beaconload;
#     beacons/s is the sum of the two.
# Writes bench/results/clickhouse.md: median [min–max] of REPEAT runs.
#
#   bench/clickhouse.sh                          both sizes (the 100M copy takes a few minutes)
#   SIZES=10000000 REPEAT=3 bench/clickhouse.sh  one size
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-/tmp/steer-bench-build} # bench/build.sh's stores (created here when missing)
SIZES=${SIZES:-"10000000 100000000"}
REPEAT=${REPEAT:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
OUT=${OUT:-bench/results/clickhouse.md}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/clickhouse.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/steer-ch-bench.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

log "building into $TMP"
go build -o "$TMP/steer" ./cmd/steer
go build -o "$TMP/chcluster" ./internal/chtest/cmd/chcluster
go build -o "$TMP/steer-beaconload" ./cmd/steer-beaconload
STEER=$TMP/steer

# start_cluster NAME: starts a two-shard cluster; sets url and chpids.
start_cluster() {
	mkdir -p "$TMP/$1"
	# chcluster stops when its standard input ends: give it a pipe that
	# stays open (a FIFO this shell holds open read-write)
	mkfifo "$TMP/$1.in"
	exec 3<>"$TMP/$1.in"
	"$TMP/chcluster" -shards 2 -db steer -dir "$TMP/$1" >"$TMP/$1.out" 2>"$TMP/$1.err" <"$TMP/$1.in" &
	PIDS+=($!)
	clpid=$!
	for _ in $(seq 1 600); do
		if [ "$(wc -l <"$TMP/$1.out" 2>/dev/null || echo 0)" -ge 2 ]; then break; fi
		kill -0 "$clpid" 2>/dev/null || { cat "$TMP/$1.err" >&2; exit 1; }
		sleep 0.1
	done
	url=$(sed -n 1p "$TMP/$1.out")
	chpids=$(sed -n 2p "$TMP/$1.out" | cut -d' ' -f2-)
	log "cluster $1: $url (pids $chpids)"
}
stop_cluster() { kill -TERM "$clpid"; wait "$clpid" || true; exec 3>&-; }

# rss_of PIDS: the sum of their RSS in KiB.
rss_of() { local s=0 p r; for p in $1; do r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0); s=$((s + ${r:-0})); done; echo "$s"; }

# timed_build STORE OUTMAP [PIDS]: GNU time of steer build; with PIDS, the
# peak of their summed RSS while it runs. Prints "wall steer_rss_kib peak_kib".
timed_build() {
	local peak=0 r bpid
	$TIME -f "%e %M" -o "$TMP/time" "$STEER" build --store "$1" --out "$2" --bgp "$world/bgp.txt" --geoip "$world/geoip.mmdb" >"$TMP/build.out" 2>&1 &
	bpid=$!
	if [ -n "${3:-}" ]; then
		while kill -0 "$bpid" 2>/dev/null; do
			r=$(rss_of "$3"); [ "$r" -gt "$peak" ] && peak=$r
			sleep 0.2
		done
	fi
	wait "$bpid" || { cat "$TMP/build.out" >&2; exit 1; }
	read -r wall rss <"$TMP/time"
	echo "$wall $rss $peak"
}

rows=()
for size in $SIZES; do
	dir=$BUILD_DIR/s$size
	if [ ! -f "$dir/done" ]; then
		log "no $dir: creating it with bench/build.sh"
		SIZES=$size REPEAT=1 OUT="$TMP/build.md" BENCH_DIR=$BUILD_DIR bash bench/build.sh >&2
	fi
	world=$dir/world
	samples=$(grep -o '^total: .*' "$dir/ingest.out" | grep -o '[0-9]* samples' | head -1 | cut -d' ' -f1)
	start_cluster "c$size"
	log "steer store copy: $samples samples into ClickHouse"
	t0=$(date +%s.%N)
	"$STEER" store copy --store "$dir/store" --to "$url" >"$TMP/copy.out"
	t1=$(date +%s.%N)
	cat "$TMP/copy.out" >&2
	copy_s=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
	ch_mb=$(du -sm "$TMP/c$size" | cut -f1)
	duck=""; ch=""; same=yes
	for i in $(seq 1 "$REPEAT"); do
		log "$size: DuckDB build $i of $REPEAT"
		d=$(timed_build "$dir/store" "$TMP/duck.json")
		log "  $d"
		duck="$duck;$d"
		log "$size: ClickHouse build $i of $REPEAT"
		c=$(timed_build "$url" "$TMP/ch.json" "$chpids")
		log "  $c"
		ch="$ch;$c"
		cmp -s "$TMP/duck.json" "$TMP/ch.json" || same=no
	done
	stop_cluster
	rows+=("$size|$samples|$copy_s|$ch_mb|$(du -sm "$dir/store" | cut -f1)|$duck|$ch|$same")
done

log "ingest over HTTP: two collectors into one two-shard cluster ($DURATION, $CONNS connections each)"
start_cluster ingest
cat >"$TMP/collect.yaml" <<YAML
listen: 127.0.0.1:0
tokens: [bench-token-0123]
trusted_proxies: [127.0.0.0/8]
rate: 0
YAML
addrs=()
for c in a b; do
	"$STEER" collect --store "$url" --spool "$TMP/spool-$c" --config "$TMP/collect.yaml" --log-level warn >"$TMP/collect-$c.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 600); do
		a=$(grep -o 'listening on http://[0-9.:]*' "$TMP/collect-$c.out" | head -1 | sed 's#listening on http://##') && [ -n "$a" ] && break
		sleep 0.1
	done
	addrs+=("$a")
done
ingest=""
for i in $(seq 1 "$REPEAT"); do
	"$TMP/steer-beaconload" run --url "http://${addrs[0]}/beacon" --token bench-token-0123 --duration "$DURATION" --conns "$CONNS" --seed "$i" >"$TMP/la.json" &
	la=$!
	"$TMP/steer-beaconload" run --url "http://${addrs[1]}/beacon" --token bench-token-0123 --duration "$DURATION" --conns "$CONNS" --seed "$((i + 50))" >"$TMP/lb.json"
	wait "$la"
	cat "$TMP/la.json" "$TMP/lb.json" >&2
	# the collectors acknowledge once a beacon is in their spool; what the
	# loaders had not yet put into ClickHouse at the end of the run:
	backlog=0
	for a in "${addrs[@]}"; do
		b=$(curl -s "http://$a/v1/store/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spool_backlog_bytes"])')
		backlog=$((backlog + b))
	done
	log "spool backlog at the end of run $i: $backlog bytes"
	ingest="$ingest;$(tr -d '\n' <"$TMP/la.json")|$(tr -d '\n' <"$TMP/lb.json")|$backlog"
done
for p in "${PIDS[@]: -2}"; do kill -TERM "$p"; wait "$p" || true; done
stored=$("$STEER" store stats --store "$url" | tee /dev/stderr | grep -o '[0-9]* beacons' | head -1 | cut -d' ' -f1)

python3 - "$OUT" "$REPEAT" "$DURATION" "$CONNS" "$ingest" "$stored" "${rows[@]}" <<'PY'
import json, statistics, sys, subprocess, datetime, os
out, repeat, dur, conns, ingest, stored = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
rows = sys.argv[7:]
def mr(xs, fmt):
    return f"{fmt(statistics.median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"
f1 = lambda x: f"{x:.1f}"
mib = lambda x: f"{x / 1024:,.0f}"
n0 = lambda x: f"{x:,.0f}"
runs = lambda s: [tuple(float(v) for v in r.split()) for r in s.split(";") if r.strip()]
lines = [f"# The RUM store on ClickHouse next to DuckDB ({datetime.date.today()}, {os.cpu_count()} cores, Debian clickhouse-server 18.16.1, two shards on this machine)", "",
         f"`steer build --store STORE --bgp bgp.txt --geoip geoip.mmdb` on bench/build.sh's worlds; median [min–max] of {repeat} builds per engine, alternating.",
         "ClickHouse peak: the highest sum of both servers' RSS sampled every 0.2 s during the build (steer's own RSS is the next column).", "",
         "| samples | engine | store MB | wall s | steer peak RSS MiB | ClickHouse servers' peak RSS MiB | map identical to DuckDB's |",
         "|---:|---|---:|---:|---:|---:|---|"]
for r in rows:
    size, samples, copy_s, ch_mb, duck_mb, duck, ch, same = r.split("|")
    d, c = runs(duck), runs(ch)
    lines.append(f"| {int(samples):,} | DuckDB | {duck_mb} | {mr([x[0] for x in d], f1)} | {mr([x[1] for x in d], mib)} | – | |")
    lines.append(f"| {int(samples):,} | ClickHouse, 2 shards | {ch_mb} | {mr([x[0] for x in c], f1)} | {mr([x[1] for x in c], mib)} | {mr([x[2] for x in c], mib)} | {same} (every run) |")
    lines.append(f"| | copy DuckDB → ClickHouse (`steer store copy`) | | {copy_s} | | | |")
lines += ["", f"Ingest over HTTP: two `steer collect --store clickhouse://… --spool DIR` processes, each under its own steer-beaconload ({dur}, {conns} connections, 20-sample beacons); median [min–max] of {repeat} runs of the sum.", "",
          "| beacons/s acknowledged (both collectors) | samples/s | p99 ms (collector A / B, each run) | spool backlog at each run's end, MB | errors |", "|---:|---:|---|---|---:|"]
bs, ss, p99s, bls, errs, acked = [], [], [], [], 0, 0
for r in ingest.split(";"):
    if not r.strip():
        continue
    a, b, bl = r.split("|")
    a, b = json.loads(a), json.loads(b)
    bs.append(a["beacons_per_s"] + b["beacons_per_s"]); ss.append(a["samples_per_s"] + b["samples_per_s"])
    p99s.append(f"{a['p99_ms']:.1f} / {b['p99_ms']:.1f}"); errs += a["errors"] + b["errors"]; bls.append(f"{int(bl) / 1e6:.1f}")
    acked += a.get("beacons", 0) + b.get("beacons", 0)
lines.append(f"| {mr(bs, n0)} | {mr(ss, n0)} | {', '.join(p99s)} | {', '.join(bls)} | {errs} |")
lines.append("")
lines.append(f"After the collectors stopped (SIGTERM: each loads its spool), the store holds {stored:,} beacons" + (f" for {acked:,} acknowledged." if acked else "."))
lines += ["", "Command: `bench/clickhouse.sh`."]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
