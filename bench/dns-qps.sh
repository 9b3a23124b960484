#!/usr/bin/env bash
# End-to-end DNS benchmark: steer-dns and gdnsd on the same 1M-entry map,
# every query with its own ECS /24. See bench/README.md for what each number
# means. Only 127.0.0.1 ports are used; everything lives in a mktemp dir that
# is removed on exit.
#
#   bench/dns-qps.sh                      # both servers (steer-dns when ./cmd/steer-dns has code)
#   SERVERS=gdnsd DURATION=5 bench/dns-qps.sh
#   SERVERS=steer REPEAT=1 bench/dns-qps.sh   # start and reload figures only matter
#
# Every figure is the median of repeated runs with their range, never the
# best run: START_RUNS starts, REPEAT load runs per tool, RELOAD_RUNS reloads.
#
# Environment: SERVERS ("gdnsd steer"), DURATION (10 s per load run), REPEAT
# (3 load runs per tool), WINDOW (queries in flight, 128), V4/V6 (map size,
# 1000000/200000), START_RUNS (5), RELOAD_RUNS (5), RELOAD_RATE (qps during
# the reloads, 50000), RELOAD_AFTER (3s: the baseline before each rename),
# RELOAD_DURATION (40: a reload run's bound; it stops 1 s after the new answers),
# STEER_DNS (a steer-dns binary to measure instead of building ./cmd/steer-dns),
# OUT (results file, bench/results/latest.md), KEEP=1 keeps the temp dir.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SERVERS=${SERVERS:-"gdnsd steer"}
DURATION=${DURATION:-10}
WINDOW=${WINDOW:-128}
REPEAT=${REPEAT:-3}
START_RUNS=${START_RUNS:-5}
RELOAD_RUNS=${RELOAD_RUNS:-5}
V4=${V4:-1000000}
V6=${V6:-200000}
RELOAD_RATE=${RELOAD_RATE:-50000}
RELOAD_DURATION=${RELOAD_DURATION:-40}
RELOAD_AFTER=${RELOAD_AFTER:-3s}
START_TIMEOUT=${START_TIMEOUT:-120s}
OUT=${OUT:-$ROOT/bench/results/latest.md}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/steer-bench.XXXXXX")
SERVER_PID=
cleanup() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "missing $1 (apt-get install -y $2)" >&2; exit 1; }; }
need taskset util-linux
need dnsperf dnsperf

rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; } # utime+stime, after the comm field
now_ns() { date +%s%N; }
# stats N... prints "median [min–max]" of the numbers (the mean of the two
# middle ones for an even count); "-" when there are none.
stats() {
	(($# > 0)) || { echo "-"; return; }
	printf '%s\n' "$@" | sort -g | awk -v dp="${DP:-3}" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.*f [%.*f–%.*f]\n", dp, m, dp, v[1], dp, v[NR]
		}'
}

log "building into $TMP/bin"
mkdir -p "$TMP/bin"
CGO_ENABLED=0 go build -o "$TMP/bin/steer-dnsload" ./cmd/steer-dnsload
HAVE_STEER=0
if [[ -n ${STEER_DNS:-} ]]; then
	cp "$STEER_DNS" "$TMP/bin/steer-dns" # a prebuilt binary, e.g. another commit's for an A/B
	HAVE_STEER=1
elif compgen -G "cmd/steer-dns/*.go" >/dev/null; then
	CGO_ENABLED=0 go build -o "$TMP/bin/steer-dns" ./cmd/steer-dns
	HAVE_STEER=1
fi
LOAD=$TMP/bin/steer-dnsload

mapfile -t PORTS < <("$LOAD" free-ports 3)
STEER_PORT=${PORTS[0]} ADMIN_PORT=${PORTS[1]} GDNSD_PORT=${PORTS[2]}
W=$TMP/world
log "synthesising the world: $V4 IPv4 /24 + $V6 IPv6 /56 (ports steer $STEER_PORT, admin $ADMIN_PORT, gdnsd $GDNSD_PORT)"
"$LOAD" synth --out "$W" --v4 "$V4" --v6 "$V6" --pops 20 \
	--steer-port "$STEER_PORT" --admin-port "$ADMIN_PORT" --gdnsd-port "$GDNSD_PORT" >&2
"$LOAD" dnsperf-input --map "$W/map.json" --out "$TMP/queries.bin" --n 500000 >&2

ROWS=()
ROWS2=()
NOTES=()

# bench NAME PORT WATCHED ORIG NEXT -- COMMAND...
#   WATCHED is the file the server reloads; ORIG and NEXT are the two versions
#   of it (map.json's and map-next.json's content), renamed over it in turn.
bench() {
	local name=$1 port=$2 watched=$3 orig=$4 next=$5
	shift 6
	local server=127.0.0.1:$port r=$TMP/$name i
	mkdir -p "$r"

	# Start: process start → first answer, START_RUNS times; the last
	# server keeps running for the rest.
	local starts=()
	for ((i = 1; i <= START_RUNS; i++)); do
		log "$name: start $i/$START_RUNS (pinned to core $SERVER_CPU): $*"
		local t0
		t0=$(now_ns)
		taskset -c "$SERVER_CPU" "$@" >"$r/server.log" 2>&1 &
		SERVER_PID=$!
		local out
		if ! out=$(taskset -c "$LOAD_CPU" "$LOAD" wait --server "$server" --timeout "$START_TIMEOUT" --poll 2ms --since "$t0"); then
			tail -20 "$r/server.log" >&2
			return 1
		fi
		echo "$out" >&2
		starts+=("$(awk '{ print $4 }' <<<"$out")")
		if ((i < START_RUNS)); then
			kill -TERM "$SERVER_PID" 2>/dev/null || true
			wait "$SERVER_PID" 2>/dev/null || true
		fi
	done
	local rss_start
	rss_start=$(rss_mib "$SERVER_PID")
	NOTES+=("$name: start of each run (s): ${starts[*]}")

	log "$name: parity check of answers and ECS scopes against the map"
	local parity=ok
	if ! "$LOAD" check --server "$server" --config "$W/steer.yaml" --map "$W/map.json.orig" --n 2000 >"$r/check.txt" 2>&1; then
		parity="MISMATCH"
		NOTES+=("$name: answers or scopes differ from the map: $(tail -1 "$r/check.txt")")
	fi
	cat "$r/check.txt" >&2

	# This machine is shared: a run that a neighbour slowed shows it as
	# lower server CPU. Every run is kept in $r and listed under the table.
	local qps_gen=() p99_gen=() cpu_gen=() lost_gen=0 wrong_gen=0
	for ((i = 1; i <= REPEAT; i++)); do
		log "$name: steer-dnsload ${DURATION}s, window $WINDOW (pinned to core $LOAD_CPU), run $i/$REPEAT"
		taskset -c "$LOAD_CPU" "$LOAD" run --server "$server" --config "$W/steer.yaml" --map "$W/map.json.orig" --duration "${DURATION}s" \
			--window "$WINDOW" --check 1/1000 --server-pid "$SERVER_PID" --json "$r/load$i.json" --env "$r/load$i.env" >&2 || true
		# shellcheck disable=SC1090
		source "$r/load$i.env"
		qps_gen+=("$QPS") p99_gen+=("$P99_MS") cpu_gen+=("$SERVER_CPU_PCT")
		lost_gen=$((lost_gen + LOST)) wrong_gen=$((wrong_gen + WRONG))
	done
	NOTES+=("$name: steer-dnsload qps of each run: ${qps_gen[*]}; p99 ms: ${p99_gen[*]}; server CPU %: ${cpu_gen[*]}")

	local qps_perf=() lat_perf=() cpu_perf=() lost_perf=0
	for ((i = 1; i <= REPEAT; i++)); do
		log "$name: dnsperf -B ${DURATION}s, -c 1 -q 2000 (pinned to core $LOAD_CPU), run $i/$REPEAT"
		local c0 c1
		c0=$(cpu_ticks "$SERVER_PID")
		taskset -c "$LOAD_CPU" dnsperf -B -d "$TMP/queries.bin" -s 127.0.0.1 -p "$port" -l "$DURATION" -c 1 -q 2000 >"$r/dnsperf$i.txt" 2>&1 || true
		c1=$(cpu_ticks "$SERVER_PID")
		sed -n '/^Statistics:/,$p' "$r/dnsperf$i.txt" >&2
		qps_perf+=("$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$r/dnsperf$i.txt")")
		lost_perf=$((lost_perf + $(awk '/Queries lost:/ { print $3 }' "$r/dnsperf$i.txt")))
		lat_perf+=("$(awk '/Average Latency/ { printf "%.3f", $4 * 1000 }' "$r/dnsperf$i.txt")")
		# Over dnsperf's sending time: the wait for lost queries after it
		# (-t, 5 s) costs the server nothing.
		cpu_perf+=("$(awk -v c="$((c1 - c0))" '/Run time/ { printf "%.0f", c / 100 / $4 * 100 }' "$r/dnsperf$i.txt")")
	done
	NOTES+=("$name: dnsperf qps of each run: ${qps_perf[*]}")
	local rss_load
	rss_load=$(rss_mib "$SERVER_PID")

	# Reloads: RELOAD_RUNS runs at RELOAD_RATE, each renaming the other
	# version over the watched file RELOAD_AFTER into the run and stopping
	# 1 s after every probe answers from it. The window (rename → all
	# probes new + 1 s) is set against the same run's RELOAD_AFTER before
	# the rename (less its first 0.5 s), the no-reload baseline.
	local cur_map=$W/map.json.orig next_map=$W/map-next.json cur_src=$orig next_src=$next
	local rl_ms=() rl_p99=() rl_p999=() bl_p99=() bl_p999=() rl_lost=0 rl_sent=0 rl_fail=0
	for ((i = 1; i <= RELOAD_RUNS; i++)); do
		log "$name: reload $i/$RELOAD_RUNS: ${RELOAD_RATE} qps, the map replaced (rename) after $RELOAD_AFTER"
		cp "$next_src" "$watched.tmp"
		taskset -c "$LOAD_CPU" "$LOAD" run --server "$server" --config "$W/steer.yaml" --map "$cur_map" --duration "${RELOAD_DURATION}s" \
			--rate "$RELOAD_RATE" --window 1024 --check 1/100 --server-pid "$SERVER_PID" \
			--reload-from "$watched.tmp" --reload-to "$watched" --reload-map "$next_map" --reload-after "$RELOAD_AFTER" --reload-stop \
			--json "$r/reload$i.json" --series --env "$r/reload$i.env" >&2 || true
		# shellcheck disable=SC1090
		source "$r/reload$i.env"
		wrong_gen=$((wrong_gen + WRONG)) # the checks column counts the reloads' sampled replies too
		rl_lost=$((rl_lost + RELOAD_LOST)) rl_sent=$((rl_sent + RELOAD_SENT))
		if [[ $RELOAD_ALL_MS == -1 ]]; then
			rl_fail=$((rl_fail + 1))
			NOTES+=("$name: reload $i: not every probe answered from the new map within ${RELOAD_DURATION} s")
		else
			rl_ms+=("$RELOAD_ALL_MS")
		fi
		rl_p99+=("$RELOAD_P99_MS") rl_p999+=("$RELOAD_P999_MS") bl_p99+=("$BASE_P99_MS") bl_p999+=("$BASE_P999_MS")
		local t=$cur_map
		cur_map=$next_map next_map=$t
		t=$cur_src
		cur_src=$next_src next_src=$t
	done
	NOTES+=("$name: each reload, rename → all new (ms): ${rl_ms[*]}; window p99 / p99.9 ms: $(paste -d/ <(printf '%s\n' "${rl_p99[@]}") <(printf '%s\n' "${rl_p999[@]}") | xargs); baseline p99 / p99.9 ms: $(paste -d/ <(printf '%s\n' "${bl_p99[@]}") <(printf '%s\n' "${bl_p999[@]}") | xargs)")
	local rss_reload
	rss_reload=$(rss_mib "$SERVER_PID")

	# Put the original version back for the next server (both share map.json).
	cp "$W/map.json.orig" "$W/map.json"
	cp "$orig" "$watched"

	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=

	local reload_ms
	reload_ms=$(DP=0 stats "${rl_ms[@]}")
	((rl_fail > 0)) && reload_ms+=" ($rl_fail of $RELOAD_RUNS never)"
	ROWS+=("| $name | $(DP=0 stats "${qps_gen[@]}") | $(stats "${p99_gen[@]}") | $(DP=0 stats "${cpu_gen[@]}") % | $lost_gen | $(DP=0 stats "${qps_perf[@]}") | $(stats "${lat_perf[@]}") | $(DP=0 stats "${cpu_perf[@]}") % | $lost_perf | $rss_start | $rss_load | $rss_reload | $parity, $wrong_gen wrong |")
	ROWS2+=("| $name | $(stats "${starts[@]}") | $reload_ms | $(stats "${rl_p99[@]}") | $(stats "${rl_p999[@]}") | $(stats "${bl_p99[@]}") | $(stats "${bl_p999[@]}") | $rl_lost / $rl_sent |")
}

cp "$W/map.json" "$W/map.json.orig"
for s in $SERVERS; do
	case $s in
	gdnsd)
		need gdnsd gdnsd
		cp "$W/gdnsd/geoip/nets" "$W/gdnsd/geoip/nets.orig"
		bench gdnsd "$GDNSD_PORT" "$W/gdnsd/geoip/nets" "$W/gdnsd/geoip/nets.orig" "$W/gdnsd/geoip/nets-next" -- \
			gdnsd -c "$W/gdnsd" start
		;;
	steer)
		if [[ $HAVE_STEER == 0 ]]; then
			NOTES+=("steer-dns: not built (./cmd/steer-dns has no Go files yet)")
			continue
		fi
		# udp_sockets: 1 in steer.yaml = one query loop, like gdnsd's one UDP
		# thread; taskset keeps the whole process on one core. steer-dns
		# raises GOMAXPROCS to 3 itself, so that a reload (which runs on a
		# SCHED_IDLE thread) never holds the query loop's P; the GOMAXPROCS=1
		# below is overridden and harmless.
		bench steer "$STEER_PORT" "$W/map.json" "$W/map.json.orig" "$W/map-next.json" -- \
			env GOMAXPROCS=1 "$TMP/bin/steer-dns" --config "$W/steer.yaml"
		;;
	*) echo "unknown server $s" >&2; exit 2 ;;
	esac
done

{
	echo "# DNS benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "Map: $V4 IPv4 /24 + $V6 IPv6 /56 networks, 20 PoPs; every query \`www.example.net A\` carries its own ECS /24 from the map."
	echo "Server pinned to core $SERVER_CPU with one query loop (gdnsd \`udp_threads => 1\`; steer-dns \`udp_sockets: 1\`, which raises GOMAXPROCS to 3 so that a reload, on a SCHED_IDLE thread, never takes the query loop's P nor, starved, the one the rest needs), load pinned to core $LOAD_CPU; $(nproc) cores, $(uname -r)."
	echo "Every figure is the median of the runs with their range, [min–max]; each run is listed under the tables."
	echo
	echo "## Load"
	echo
	echo "steer-dnsload: ${DURATION} s, window $WINDOW, sendmmsg/recvmmsg batches of 64. dnsperf 2.10: -B -c 1 -q 2000 -l $DURATION. $REPEAT runs each; lost = the sum over them."
	echo
	echo "| server | qps (steer-dnsload) | p99 ms | server CPU | lost | qps (dnsperf) | dnsperf avg ms | server CPU | dnsperf lost | RSS MiB start | RSS after load | RSS after reloads | checks |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for row in "${ROWS[@]}"; do echo "$row"; done
	echo
	echo "## Start and reload"
	echo
	echo "Start: process start → first answer (includes loading the map), $START_RUNS starts. Reload: $RELOAD_RUNS runs at $RELOAD_RATE qps, each renaming the other map version over the watched file $RELOAD_AFTER in; window = rename → all probes new + 1 s; baseline = the same run before the rename (less its first 0.5 s)."
	echo
	echo "| server | start s | reload → new answers ms | window p99 ms | window p99.9 ms | baseline p99 ms | baseline p99.9 ms | lost / sent in the windows |"
	echo "|---|---|---|---|---|---|---|---|"
	for row in "${ROWS2[@]}"; do echo "$row"; done
	echo
	for n in "${NOTES[@]}"; do echo "- $n"; done
	echo "- A figure with server CPU below ~95 % is bound by the client or the machine, not the server's ceiling."
	echo
	echo "Command: \`${STEER_DNS:+STEER_DNS=$STEER_DNS }SERVERS=\"$SERVERS\" DURATION=$DURATION REPEAT=$REPEAT WINDOW=$WINDOW START_RUNS=$START_RUNS RELOAD_RUNS=$RELOAD_RUNS RELOAD_RATE=$RELOAD_RATE bench/dns-qps.sh\`"
} >"$TMP/table.md"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/table.md" "$OUT"
cat "$OUT"
