#!/usr/bin/env bash
# bench/plan.sh: the PoP planner. Times `steer plan --add 5` on the shipped
# world with the simulator's 20 default PoPs (floor: under 60 s) for three
# candidate sets — every populated cell (the default, 8,791), the cells of
# a million people or more, and every level-7 cell of the sphere (98,304:
# one step of these must take under 10 s) — and runs BenchmarkStep:
# (candidate, cell) pairs evaluated per second as the number of cells
# grows from 1,000 to all 98,304. Writes bench/results/plan.md.
#
#   bench/plan.sh               (~20 s)
#   BENCHTIME=1x bench/plan.sh  quicker Go benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/plan.md}
BENCHTIME=${BENCHTIME:-5x}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/steer" ./cmd/steer
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/plan.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

# secs DURATION: a Go duration as printed in the report (1.2s, 85.3ms, 40µs) in seconds.
secs() { awk -v d="$1" 'BEGIN {
	if (d ~ /µs$/) { sub(/µs$/, "", d); print d / 1e6 } else if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1e3 }
	else { sub(/s$/, "", d); print d + 0 } }'; }

{
	echo "# steer plan: PoP placement ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	echo "\`steer plan --add 5\` on the shipped world (8,791 populated s2 level-7 cells, 3.65B people), 20 default PoPs, TCP loss:"
	echo
	echo "| candidates | flags | wall s | peak RSS MiB | slowest step s | pairs evaluated | pairs/s | sites |"
	echo "|---|---|---:|---:|---:|---:|---:|---|"
} >"$OUT.tmp"
fail=0
while IFS='|' read -r name flags; do
	# shellcheck disable=SC2086
	$TIME -f "%e %M" -o "$tmp/time" "$tmp/steer" plan --add 5 $flags >"$tmp/out" 2>"$tmp/err"
	read -r wall rss <"$tmp/time"
	# Site rows: "  1  Name ... 188.5ms"; the last field is the step's time.
	slowest=0
	while read -r d; do
		s=$(secs "$d")
		slowest=$(awk -v a="$slowest" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
	done < <(awk '/^new sites/ { on = 1; next } on && /^ +[0-9]+  / { print $NF } /^search:/ { on = 0 }' "$tmp/out")
	search=$(grep '^search:' "$tmp/out")
	pairs=$(sed -E 's/^search: [^,]*, ([^ ]+) .*/\1/' <<<"$search")
	rate=$(sed -E 's/.*: ([^ ]+) pairs\/s$/\1/' <<<"$search")
	sites=$(awk '/^new sites/ { on = 1; next } on && /^ +[0-9]+  / { n = $2; for (i = 3; $i !~ /^[A-Z][A-Z]$|^-$/; i++) n = n " " $i; printf "%s%s", sep, n; sep = ", " } /^search:/ { on = 0 }' "$tmp/out")
	echo "| $name | \`${flags:-(none)}\` | $wall | $((rss / 1024)) | $slowest | $pairs | $rate | $sites |" >>"$OUT.tmp"
	echo "plan: $name: $wall s, slowest step $slowest s, $rate pairs/s" >&2
	if awk -v w="$wall" 'BEGIN { exit !(w >= 60) }'; then
		echo "bench/plan.sh: $name took $wall s, over the 60 s floor" >&2
		fail=1
	fi
	if awk -v s="$slowest" 'BEGIN { exit !(s >= 10) }'; then
		echo "bench/plan.sh: $name: a step took $slowest s, over the 10 s floor" >&2
		fail=1
	fi
done <<'RUNS'
every populated cell (default)|
cells of 1M people or more|--min-weight 1e6
every level-7 cell (98,304)|--candidates all
RUNS

{
	echo
	echo "BenchmarkStep (one greedy step, \`Problem.Plan(1)\`, TCP loss, 20 PoPs; \`populated\` = 8,791 candidates × 8,791 cells,"
	echo "\`cells=N\` = 2,000 candidates × N cells, up to every level-7 cell; -benchtime=$BENCHTIME):"
	echo
	echo "| benchmark | ms/step | pairs/s | B/step | allocs/step |"
	echo "|---|---:|---:|---:|---:|"
} >>"$OUT.tmp"
go test -run '^$' -bench 'BenchmarkStep' -benchtime="$BENCHTIME" -benchmem ./planner/ | tee "$tmp/bench" >&2
awk '/^BenchmarkStep/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkStep\//, "", name)
	for (i = 2; i <= NF; i++) { v[$(i+1)] = $i }
	printf "| %s | %.1f | %.3g | %d | %d |\n", name, v["ns/op"] / 1e6, v["pairs/s"], v["B/op"], v["allocs/op"]
}' "$tmp/bench" >>"$OUT.tmp"
echo >>"$OUT.tmp"
echo 'Command: `bench/plan.sh` (GNU time: elapsed and max RSS of `steer plan --add 5 FLAGS`; "slowest step" from the report'"'"'s step column).' >>"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
exit "$fail"
