#!/usr/bin/env bash
# bench/ui.sh: the map explorer (steer ui) on a 1M-network world. Floors
# (issue 18): the first view loads in under 2 s; a hexagon click answers in
# under 200 ms. Writes the world (steer sim, 1M networks) and its map (one
# entry per network: its two best PoPs) to $DIR once and reuses them, then
# runs ui's benchmarks COUNT times each and reports the median and range:
#
#   BenchmarkLoad              the explorer's start (read, place, aggregate, evaluate)
#   BenchmarkCellAPI           a hexagon click's server side (GET /api/cell)
#   BenchmarkBrowserFirstView  headless Chromium, new browser, empty cache: page → hexagons drawn
#   BenchmarkBrowserClick      headless Chromium: click → the hexagon's networks listed
#
#   bench/ui.sh                      (~12 min the first time, ~6 min after)
#   NETWORKS=100000 COUNT=3 bench/ui.sh
#   FROM_LOG=run.log bench/ui.sh     only the table, from a previous run's output
set -euo pipefail
cd "$(dirname "$0")/.."
NETWORKS=${NETWORKS:-1000000}
COUNT=${COUNT:-5}
DIR=${DIR:-/tmp/steer-ui-bench-$NETWORKS}
OUT=${OUT:-bench/results/ui.md}
log=$(mktemp)
# summarize NAME VALUES: a table row with the median and range of VALUES (ms, one per line).
summarize() {
	[ -n "$2" ] || return 0
	sort -n <<<"$2" | awk -v n="$1" '{ v[NR] = $1 } END {
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "| %s | %.2f ms | %.2f–%.2f ms | %d |\n", n, med, v[1], v[NR], NR }'
}
trap 'rm -f "$log"' EXIT
export STEER_UI_BENCH_NETWORKS=$NETWORKS STEER_UI_BENCH_DIR=$DIR
if [ -n "${FROM_LOG:-}" ]; then
	cp "$FROM_LOG" "$log" # only summarize a previous run's output
else
	# The start once per run; the views 5 times per run (each run's figure is their mean).
	go test -count="$COUNT" -run '^$' -bench 'Load' -benchtime 1x -benchmem -timeout 60m ./ui/ | tee "$log"
	go test -count="$COUNT" -run '^$' -bench 'CellAPI|Browser' -benchtime 5x -benchmem -timeout 60m ./ui/ | tee -a "$log"
	# The simulator's raw logs are not needed again (GBs at 1M networks).
	rm -f "$DIR/beacons.ndjson" "$DIR/edge.ndjson" "$DIR/dnslog.ndjson"
fi
{
	echo "# steer ui on a $NETWORKS-network world ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	grep -m1 'loaded in' "$log" | sed 's/^ *bench_test.go:[0-9]*: /World: /'
	echo
	echo "| benchmark | median | range | runs |"
	echo "|---|---|---|---|"
	for name in BenchmarkLoad BenchmarkCellAPI BenchmarkBrowserFirstView BenchmarkBrowserClick; do
		summarize "$name" "$(awk -v n="$name" '$1 ~ "^" n "-" { print $3 / 1e6 }' "$log")"
	done
	summarize "BenchmarkBrowserClick, the page's clock (click event → panel drawn)" \
		"$(awk '/^BenchmarkBrowserClick/ { for (i = 1; i < NF; i++) if ($(i+1) == "page-ms/op") print $i }' "$log")"
	echo
	echo "$COUNT runs each; a run of BenchmarkLoad is one start, a run of the others the mean of 5 iterations."
	echo "Command: NETWORKS=$NETWORKS COUNT=$COUNT bench/ui.sh"
} | tee "$OUT"
