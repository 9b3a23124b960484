#!/usr/bin/env bash
# bench/sim.sh: wall time and peak RSS of `steer sim` for the default world
# (floor: under 20 s) and a 1M-network world (streamed: RSS must not grow
# with the world), written as a markdown table to bench/results/sim.md.
#
#   bench/sim.sh                 both sizes (~30 s, ~2.5 GB of temporary files)
#   SIZES="100000" bench/sim.sh  one size
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100000 1000000"}
OUT=${OUT:-bench/results/sim.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/steer" ./cmd/steer
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/sim.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
{
	echo "# steer sim: world generation ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	echo "| networks | wall s | peak RSS MiB | beacons | samples | DNS queries | output MB |"
	echo "|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT.tmp"
for n in $SIZES; do
	rm -rf "$tmp/w"
	$TIME -f "%e %M" -o "$tmp/time" "$tmp/steer" sim --out "$tmp/w" --networks "$n" --quiet >/dev/null
	read -r wall rss <"$tmp/time"
	counts=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(c["beacons"], c["samples"], c["dns_queries"])' "$tmp/w/world.json")
	read -r beacons samples queries <<<"$counts"
	mb=$(du -sm "$tmp/w" | cut -f1)
	echo "| $n | $wall | $((rss / 1024)) | $beacons | $samples | $queries | $mb |" >>"$OUT.tmp"
	echo "sim: $n networks: $wall s, peak RSS $((rss / 1024)) MiB, $mb MB written" >&2
	if [ "$n" = 100000 ] && awk -v w="$wall" 'BEGIN { exit !(w >= 20) }'; then
		echo "bench/sim.sh: the default world took $wall s, over the 20 s floor" >&2
		exit 1
	fi
done
echo >>"$OUT.tmp"
echo 'Command: `bench/sim.sh` (GNU time: elapsed and max RSS of `steer sim --out DIR --networks N --quiet`).' >>"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
