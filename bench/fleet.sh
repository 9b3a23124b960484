#!/usr/bin/env bash
# Control-plane benchmark: one `steer control` and real steer-dns processes
# following it, all on 127.0.0.1 (ports :0), each in its own directory of a
# mktemp dir that is removed on exit (KEEP=1 keeps it). See bench/README.md.
#
#   bench/fleet.sh                           # ~7 minutes
#   SIZES=100000:20000 LOAD_REPEAT=1 bench/fleet.sh
#
# 1. publish → every one of SERVERS DNS servers answering from the new map
#    version (bar: p100 < 2 s, floor 5 s), for each map size in SIZES, and
#    once with a single server at the first size (no CPU shared between
#    servers), and (IDLE=1) at the first size with each publish waiting
#    for an idle fleet (steer-fleetbench fleet --idle);
# 2. drain / undrain → every server answering accordingly (bar: < 1 s);
# 3. a drain, and load moves (with a drain among them), under LOAD_RATE
#    qps: one server pinned to core SERVER_CPU, the load and the control
#    server (SCHED_IDLE) on LOAD_CPU, 1 s windows; p50/p99/p99.9 and loss of
#    the windows in which the server applied a new state against the
#    others of the same run.
#
# Environment: SERVERS (10), SIZES ("1000000:200000 100000:20000", IPv4 /24
# and IPv6 /56 networks per fleet run), SINGLE (1: also one server at the
# first size), IDLE (1: also the first size with publishes on an idle
# fleet), PUBLISHES (5), DRAINS (10), LOAD_RATE (50000), LOAD_WINDOWS (20;
# the load-move run has 10 more), LOAD_REPEAT (3), LOAD_MOVES (1: also the
# load-move run), MOVES_SIZE (1000000:200000, the load-move run's map; the
# control server's load periods run outside its lock, see
# bench/README.md), SERVER_CPU (0), LOAD_CPU (1), OUT
# (bench/results/fleet.md), KEEP=1.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SERVERS=${SERVERS:-10}
SIZES=${SIZES:-"1000000:200000 100000:20000"}
SINGLE=${SINGLE:-1}
IDLE=${IDLE:-1}
PUBLISHES=${PUBLISHES:-5}
DRAINS=${DRAINS:-10}
LOAD_RATE=${LOAD_RATE:-50000}
LOAD_WINDOWS=${LOAD_WINDOWS:-20}
LOAD_REPEAT=${LOAD_REPEAT:-3}
LOAD_MOVES=${LOAD_MOVES:-1}
MOVES_SIZE=${MOVES_SIZE:-1000000:200000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$ROOT/bench/results/fleet.md}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/steer-fleet.XXXXXX")
HELPER=
cleanup() {
	if [[ -n $HELPER ]] && kill -0 "$HELPER" 2>/dev/null; then
		kill -TERM "$HELPER" 2>/dev/null || true
		wait "$HELPER" 2>/dev/null || true
	fi
	# The helper stops its children itself (and they die with it); these
	# are the ones a killed helper left, by PID.
	local f pid
	for f in "$TMP"/*/pids; do
		[[ -f $f ]] || continue
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done <"$f"
	done
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }
command -v taskset >/dev/null || { echo "missing taskset (apt-get install -y util-linux)" >&2; exit 1; }

log "building into $TMP/bin"
mkdir -p "$TMP/bin"
go build -o "$TMP/bin/steer" ./cmd/steer
CGO_ENABLED=0 go build -o "$TMP/bin/steer-dns" ./cmd/steer-dns
CGO_ENABLED=0 go build -o "$TMP/bin/steer-dnsload" ./cmd/steer-dnsload
go build -o "$TMP/bin/steer-fleetbench" ./cmd/steer-fleetbench
FB=$TMP/bin/steer-fleetbench
BINS=(--steer "$TMP/bin/steer" --steer-dns "$TMP/bin/steer-dns")

# helper ARGS...: runs steer-fleetbench in the background, so that the trap
# can stop it, and waits for it.
helper() {
	"$@" &
	HELPER=$!
	wait "$HELPER"
	HELPER=
}

# world V4 V6: the steer-dnsload synth directory of that size (map.json,
# map-next.json with every answer changed, steer.yaml with 20 PoPs).
world() {
	local w=$TMP/world-$1-$2
	if [[ ! -d $w ]]; then
		log "synthesising $1 IPv4 /24 + $2 IPv6 /56 networks, 20 PoPs"
		"$TMP/bin/steer-dnsload" synth --out "$w" --v4 "$1" --v6 "$2" --pops 20 >&2
	fi
	echo "$w"
}

label() { awk -v a="$1" -v b="$2" 'function h(n) { return n >= 1e6 ? n / 1e6 "M" : n >= 1e3 ? n / 1e3 "k" : n } BEGIN { print h(a) " IPv4 /24 + " h(b) " IPv6 /56" }'; }

FRAGS=()
run=0
fleet() { # fleet SERVERS V4 V6 [--idle]
	local n=$1 v4=$2 v6=$3 w
	w=$(world "$v4" "$v6")
	run=$((run + 1))
	log "fleet run $run: $n steer-dns + steer control, $(label "$v4" "$v6"): $PUBLISHES publishes, $DRAINS drains ${4:-}"
	helper "$FB" fleet "${BINS[@]}" --world "$w" --dir "$TMP/fleet$run" --servers "$n" \
		--publishes "$PUBLISHES" --drains "$DRAINS" --label "$(label "$v4" "$v6")" \
		--json "$TMP/fleet$run.json" --md "$TMP/fleet$run.md" ${4:-}
	FRAGS+=("$TMP/fleet$run.md")
}

first=
for size in $SIZES; do
	v4=${size%%:*} v6=${size##*:}
	[[ -z $first ]] && first=$size
	fleet "$SERVERS" "$v4" "$v6"
done
if [[ $SINGLE == 1 && $SERVERS != 1 ]]; then
	fleet 1 "${first%%:*}" "${first##*:}"
fi
# The first size again, each publish on a fleet that has finished with the
# previous one (written it, built its direct /24 table): the publishes
# above follow each other as soon as every server reports the last one.
if [[ $IDLE == 1 ]]; then
	fleet "$SERVERS" "${first%%:*}" "${first##*:}" --idle
fi

# Under load. SIZE:WINDOWS:CHANGES per run: drains alone on the first
# size's map; then load moves (the PoP reports overload, later normal load)
# with a drain and undrain of the same PoP while the load controller is at
# work, on MOVES_SIZE.
LOADS=("$first:$LOAD_WINDOWS:5:drain,10:up,15:drain")
[[ $LOAD_MOVES == 1 ]] && LOADS+=("$MOVES_SIZE:$((LOAD_WINDOWS + 10)):5:overload,12:drain,13:up,20:normal,25:overload")
i=0
for spec in "${LOADS[@]}"; do
	i=$((i + 1))
	IFS=: read -r v4 v6 windows changes <<<"$spec"
	w=$(world "$v4" "$v6")
	log "under load $i: $LOAD_RATE qps, $windows × 1 s windows, $LOAD_REPEAT runs, changes $changes (steer-dns on core $SERVER_CPU; load and control server, SCHED_IDLE, on core $LOAD_CPU)"
	helper taskset -c "$LOAD_CPU" "$FB" load "${BINS[@]}" --world "$w" --dir "$TMP/load$i" \
		--rate "$LOAD_RATE" --windows "$windows" --repeat "$LOAD_REPEAT" --changes "$changes" \
		--server-cpu "$SERVER_CPU" --control-cpu "$LOAD_CPU" --control-idle \
		--label "$(label "$v4" "$v6")" --json "$TMP/load$i.json" --md "$TMP/load$i.md"
	FRAGS+=("$TMP/load$i.md")
done

rows() { sed -n "s/^$1: //p" "${FRAGS[@]}"; }
{
	echo "# Control-plane benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "One \`steer control\` and the \`steer-dns\` processes following it (long poll on \`/v1/state\`, each version fetched compiled from \`/v1/maps/N/table\`, digest-checked, loaded from memory, then written), all on 127.0.0.1, each server in its own directory with \`udp_sockets: 1\`. Maps from \`steer-dnsload synth\` (\`popmap.Synthetic\`, 20 PoPs, two ranked PoPs per network); the next version is \`map-next.json\`, the same networks with every label rotated, so every answer changes. $(nproc) cores, $(uname -r), shared with other work (see the neighbours' CPU in table 3)."
	echo
	echo "## 1. Publish → every DNS server answering from the new version"
	echo
	echo "Bar: p100 < 2 s (floor 5 s). Time from the start of \`control.Client.PublishFile\` (what \`steer publish --control\` does: the map file streamed as multipart/form-data) to the first reply of each server, polled every 5 ms over 4 tracked ECS /24s, that carries the new version's answer; p100 = the slowest server of a publish, p50 = the median server. $PUBLISHES publishes per row (alternating the two maps, \`force\`), each after the fleet reported the previous version. Servers and control server unpinned on the same $(nproc) cores: with 10 servers, 10 map reloads share them."
	echo
	echo "| map | servers | publishes | p100 ms: median [range] | p50 ms: median [range] | publish call ms | one server's map reload ms (its log), all servers and publishes | cold start → serving, slowest | bar |"
	echo "|---|---|---|---|---|---|---|---|---|"
	rows publish
	echo
	echo "## 2. Drain → every DNS server"
	echo
	echo "Bar: < 1 s. \`SetState(pop, drain)\` then \`up\`, alternating, $DRAINS times each; time from the call's start until every server answers the tracked ECS /24s whose first choice is the PoP from their second choice (drain), or from the PoP again (up). Probe resolution 5 ms."
	echo
	echo "| map | servers | PoP | drains | drain p100 ms: median [range] | drain p50 ms | undrain p100 ms | undrain p50 ms | SetState call ms | bar |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	rows drain
	echo
	echo "## 3. A drain or a load move under $LOAD_RATE qps"
	echo
	echo "One steer-dns pinned to core $SERVER_CPU (\`taskset\`); the load generator (\`internal/loadgen\`: every query its own ECS /24, rate-controlled, 1024 in flight, no sampled answer checks) and the control server, under SCHED_IDLE (\`chrt --idle 0\`) so that its work delays itself rather than the load generator's timestamps, on core $LOAD_CPU. A run is back-to-back 1 s load windows (each its own \`loadgen.Run\` with its own ECS /24s; a few ms between windows); the bench acts 100 ms into the windows named in *changes* (\`N:drain\`/\`N:up\`: \`SetState\` on the PoP; \`N:overload\`/\`N:normal\`: the PoP's reported load from then on). A *change window* is one in which the DNS server applied a new state (its \`/healthz\` \`state_index\`, polled every 10 ms): a PoP state or a new move set of the load controller. The other windows, except window 0 (warm-up), are the run's baseline. Per run: median [range] over the windows of each group; summary row: median [range] over the runs of each run's baseline median and of its worst change window. *Commit → applied*: the control server's log line for the state (ms) → the server's \`/healthz\` showing it. *Call → answers*: \`SetState\`'s start → the tracked ECS /24s answered accordingly (5 ms probes, up to 10 s). Load moves: the map is published with a synthetic RTT file (every network weight 1, 10 ms to its first PoP, 20 ms to the second); every 500 ms every PoP reports 30 % of its capacity and the PoP under test 95 % (\`overload\`) or 50 % (\`normal\`) less the share the controller moved off it; load period 5 s (the default)."
	echo
	echo "| map: changes | run | baseline p99 ms | p99 ms of each change window (neighbours' CPU) | baseline p99 ms, quiet windows (count) | baseline p50 ms | change p50 ms | baseline p99.9 ms | change p99.9 ms | lost / sent baseline | lost / sent change | commit → applied ms | call → answers ms | server / control server CPU | neighbours' CPU, baseline / change |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	rows load
	echo
	sed -n 's/^note: /- /p' "${FRAGS[@]}"
	echo "- Neighbours' CPU: the machine's busy time less the server's, the control server's and the bench's, in % of one core; high values mean other work competed for the two cores during those windows. *Quiet* windows: under 10 %."
	echo
	echo "Command: \`SERVERS=$SERVERS SIZES=\"$SIZES\" PUBLISHES=$PUBLISHES DRAINS=$DRAINS LOAD_RATE=$LOAD_RATE LOAD_REPEAT=$LOAD_REPEAT bash bench/fleet.sh\`"
} >"$TMP/fleet.md"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/fleet.md" "$OUT"
cat "$OUT"
