#!/usr/bin/env bash
# bench/learn.sh: the learning loop of issue 20 over a simulated 14-day
# world (steer learn, package learnsim). One timed world (steer sim --days
# 14) with events: Türk Telekom (AS9121) loses its peering with fra on day
# 4 (989 networks' best PoP moves, by 15 ms), waw opens on day 7, VNPT
# (AS7552) loses its peering with hkg on day 10 (637 networks, 35 ms), and
# AS9121 peers with fra again on day 12. Four runs of `steer learn` over
# it, builds every 12 h, the planner's knowledge refreshed every 3 h, the
# same client arrivals (BEACONS_PER_DAY a day over the measured networks):
#   planned          the measurement planner, change detection (--recent 24h)
#   random           4 random open PoPs per beacon, change detection
#   static-planned   the planner without change detection
#   replan-planned   the planner re-measuring what shifted (--plan-recent 24h)
# Writes bench/results/learn.md (the runs' summaries and per-build lines)
# and docs/img/learn.png (the chart). Deterministic for a seed: nothing is
# repeated.
#
#   bench/learn.sh                         100k networks (~8 min here)
#   NETWORKS=20000 BEACONS_PER_DAY=20000 bench/learn.sh   quicker
set -euo pipefail
cd "$(dirname "$0")/.."
NETWORKS=${NETWORKS:-100000}
BEACONS_PER_DAY=${BEACONS_PER_DAY:-100000}
SEED=${SEED:-1}
OUT=${OUT:-bench/results/learn.md}
CHART=${CHART:-docs/img/learn.png}
BENCH_DIR=${BENCH_DIR:-/tmp}
tmp=$(mktemp -d "$BENCH_DIR/steer-learn.XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/steer" ./cmd/steer
EVENTS=(--event 'day=4,kind=peering-lost,isp=AS9121,pop=fra' --event 'day=7,kind=pop-open,pop=waw'
	--event 'day=10,kind=peering-lost,isp=AS7552,pop=hkg' --event 'day=12,kind=peering-added,isp=AS9121,pop=fra')
t0=$(date +%s)
"$tmp/steer" sim --networks "$NETWORKS" --seed "$SEED" --days 14 --beacons-per-day 1 "${EVENTS[@]}" --out "$tmp/world" >/dev/null
common=(--world "$tmp/world" --out "$tmp/runs" --beacons-per-day "$BEACONS_PER_DAY" --build-every 12h --refresh 3h --seed "$SEED")
# three commands at once (each is one process, mostly on one core)
"$tmp/steer" learn "${common[@]}" --arm planned,random --recent 24h --title "14 days, $NETWORKS networks" >"$tmp/a.txt" &
a=$!
"$tmp/steer" learn "${common[@]}" --arm planned --name static- >"$tmp/b.txt" &
b=$!
"$tmp/steer" learn "${common[@]}" --arm planned --recent 24h --plan-recent 24h --name replan- >"$tmp/c.txt"
wait "$a" "$b"
t1=$(date +%s)
cp "$tmp/runs/learn.png" "$CHART"
mkdir -p bench/results/learn && cp "$tmp"/runs/*.json bench/results/learn/
{
	echo "# steer learn: the learning loop over 14 simulated days ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	echo "World: \`steer sim --networks $NETWORKS --seed $SEED --days 14 ${EVENTS[*]}\` (30 % of networks measured)."
	echo "Runs: \`steer learn --beacons-per-day $BEACONS_PER_DAY --build-every 12h --refresh 3h\` with \`--arm planned,random --recent 24h\`;"
	echo "\`--arm planned\` without change detection (static-planned); \`--arm planned --recent 24h --plan-recent 24h\`"
	echo "(replan-planned). Command: \`bench/learn.sh\` ($((t1 - t0)) s, the three commands at once)."
	echo
	echo '```'
	grep -v '^planned day\|^random day' "$tmp/a.txt"
	grep -v '^planned day' "$tmp/b.txt"
	grep -v '^planned day' "$tmp/c.txt"
	echo '```'
	echo
	echo "Per build (day, cumulative beacons and samples, p75 gap per network / as served, mean regret of every"
	echo "network and of the measured ones, of the networks the latest event changed and of the measured ones among"
	echo "them, answers flipped since the previous build among networks no event touches, networks re-estimated):"
	echo
	echo '```'
	grep '^planned day\|^random day' "$tmp/a.txt"
	sed -n 's/^planned day/static-planned day/p' "$tmp/b.txt"
	sed -n 's/^planned day/replan-planned day/p' "$tmp/c.txt"
	echo '```'
} >"$OUT"
echo "wrote $OUT and $CHART" >&2
