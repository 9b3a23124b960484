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
#   bench/ui.sh                      (~10 min the first time, ~6 min after)
#   NETWORKS=100000 COUNT=3 bench/ui.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NETWORKS=${NETWORKS:-1000000}
COUNT=${COUNT:-5}
DIR=${DIR:-/tmp/steer-ui-bench-$NETWORKS}
OUT=${OUT:-bench/results/ui.md}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
STEER_UI_BENCH_NETWORKS=$NETWORKS STEER_UI_BENCH_DIR=$DIR \
	go test -count="$COUNT" -run '^$' -bench . -benchtime 3x -benchmem -timeout 60m ./ui/ | tee "$log"
# The simulator's raw logs are not needed again (GBs at 1M networks).
rm -f "$DIR/beacons.ndjson" "$DIR/edge.ndjson" "$DIR/dnslog.ndjson"
{
	echo "# steer ui on a $NETWORKS-network world ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	grep -m1 'loaded in' "$log" | sed 's/^ *bench_test.go:[0-9]*: /World: /'
	echo
	echo "| benchmark | median | range | runs |"
	echo "|---|---|---|---|"
	awk '/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name); v[name] = v[name] " " $3 / 1e6 }
	END { for (n in v) {
		k = split(v[n], a, " "); asort(a)
		med = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		printf "| %s | %.1f ms | %.1f–%.1f ms | %d |\n", n, med, a[1], a[k], k } }' "$log" | sort
	echo
	echo "Each run is the mean of -benchtime 3x iterations; -count=$COUNT runs."
} | tee "$OUT"
