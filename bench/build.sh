#!/usr/bin/env bash
# bench/build.sh: map build (issue #7). Wall time, CPU time and peak RSS of
# `steer build` on RUM stores of ~10M and ~100M samples, each from a
# simulated world (every network measured, 3-4 beacons of ~21 samples), and
# `steer eval --truth` of the 10M world's map (quality at scale).
# Floor: the 100M store builds in under 90 s and 4 GiB peak RSS; the script
# exits 1 if not (after writing the results).
#
# Stores are cached in BENCH_DIR (default /tmp/steer-bench-build; ~1.4 GB for
# both, and ~9 GB free while the 100M world's NDJSON exists: it is deleted
# after its ingest). A store is reused while its parameters match; FRESH=1
# regenerates. `rm -rf $BENCH_DIR` frees it all. Writes bench/results/build.md.
# Reported: the fastest of REPEAT builds, and the highest peak RSS of them all.
#
#   bench/build.sh                                   both sizes (~4 min the first time, 1-2 min cached)
#   SIZES=10000000 REPEAT=1 bench/build.sh           one size, one build
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/steer-bench-build}
SIZES=${SIZES:-"10000000 100000000"} # target samples per store
REPEAT=${REPEAT:-2}                  # builds per store; the fastest is reported, all are listed
BEACONS=${BEACONS:-3-4}
SEED=${SEED:-1}
FLOOR_SAMPLES=100000000 # the size the floor applies to
FLOOR_S=${FLOOR_S:-90}
FLOOR_MIB=${FLOOR_MIB:-4096}
OUT=${OUT:-bench/results/build.md}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench/build.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }
mkdir -p "$BENCH_DIR"
tmp=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "building $BENCH_DIR/steer"
go build -o "$BENCH_DIR/steer" ./cmd/steer
STEER=$BENCH_DIR/steer

# samples per network of this world shape, from a small world (cached)
calib=$BENCH_DIR/calib-$BEACONS-$SEED
if [ ! -s "$calib" ] || [ -n "${FRESH:-}" ]; then
	log "calibrating: a 20000-network world with --measured 1 --beacons $BEACONS"
	rm -rf "$tmp/calib"
	"$STEER" sim --out "$tmp/calib" --networks 20000 --measured 1 --beacons "$BEACONS" --seed "$SEED" --quiet >/dev/null
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(c["samples"] / c["networks"])' "$tmp/calib/world.json" >"$calib"
	rm -rf "$tmp/calib"
fi
spn=$(cat "$calib")
log "$spn samples a network"

# ensure_store TARGET: sets dir; (re)creates $dir/store from a world sized
# for TARGET samples unless a complete one with the same parameters exists.
ensure_store() {
	local target=$1 n params avail need
	n=$(python3 -c "print(round($1 / $spn))")
	dir=$BENCH_DIR/s$target
	params="networks=$n measured=1 beacons=$BEACONS seed=$SEED"
	if [ -z "${FRESH:-}" ] && [ -f "$dir/done" ] && [ "$(cat "$dir/params" 2>/dev/null)" = "$params" ]; then
		log "reusing $dir ($params)"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	# the NDJSON takes ~95 bytes a sample until it is ingested, the store ~12
	need=$((target / 1000000 * 110 + 1000))
	avail=$(df -Pm "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
	if [ "$avail" -lt "$need" ]; then
		echo "bench/build.sh: $BENCH_DIR has $avail MB free, a $target-sample world needs ~$need MB" >&2
		exit 1
	fi
	log "sim: $params"
	$TIME -f "%e %M" -o "$dir/sim.time" "$STEER" sim --out "$dir/world" --networks "$n" --measured 1 --beacons "$BEACONS" \
		--seed "$SEED" --quiet >"$dir/sim.out"
	log "sim: $(cut -d' ' -f1 "$dir/sim.time") s, $(du -sm "$dir/world" | cut -f1) MB"
	log "ingest"
	$TIME -f "%e %M" -o "$dir/ingest.time" "$STEER" ingest --store "$dir/store" "$dir/world/beacons.ndjson" "$dir/world/dnslog.ndjson" \
		| tee "$dir/ingest.out" >&2
	rm -f "$dir/world/beacons.ndjson" "$dir/world/dnslog.ndjson" "$dir/world/bgp.mrt"
	echo "$params" >"$dir/params"
	touch "$dir/done"
}

fail=
rows=()
runs=()
evalout=
for target in $SIZES; do
	ensure_store "$target"
	samples=$(grep -o '^total: .*' "$dir/ingest.out" | grep -o '[0-9]* samples' | head -1 | cut -d' ' -f1)
	networks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["networks"])' "$dir/world/world.json")
	store_mb=$(du -sm "$dir/store" | cut -f1)
	best=
	maxrss=0
	for i in $(seq 1 "$REPEAT"); do
		log "steer build, $samples samples, run $i of $REPEAT"
		rm -f "$tmp"/map*
		$TIME -f "%e %M %U %S" -o "$tmp/time" "$STEER" build --store "$dir/store" --out "$tmp/map.json" \
			--bgp "$dir/world/bgp.txt" --geoip "$dir/world/geoip.mmdb" >"$tmp/build.out"
		read -r wall rss user sys <"$tmp/time"
		phases=$(grep '^time:' "$tmp/build.out" | sed 's/^time: [0-9.]* s (\(.*\))/\1/')
		used=$(grep -o '^inputs: [0-9]* beacons, [0-9]* samples' "$tmp/build.out" | awk '{ print $4 }')
		log "$wall s, peak RSS $((rss / 1024)) MiB, CPU $user user + $sys sys; builder: $phases"
		runs+=("$target: $wall s, $((rss / 1024)) MiB, CPU $user + $sys s ($phases)")
		if [ "$rss" -gt "$maxrss" ]; then maxrss=$rss; fi
		if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
			best="$wall $rss $user $sys"
			bphases=$phases
			cp "$tmp/build.out" "$dir/build.out"
			cp "$tmp/map.json" "$dir/map.json"
		fi
	done
	read -r wall rss user sys <<<"$best"
	rss=$maxrss # the floor is on memory in every run: GC timing moves the peak by ~5 %
	rate=$(python3 -c "print(f'{$samples / $wall / 1e6:.2f}M')")
	rows+=("| $samples | $networks | $used | $store_mb | **$wall** | $rate | **$((rss / 1024))** | $user + $sys | $bphases |")
	if [ "$target" = "$FLOOR_SAMPLES" ]; then
		if awk -v w="$wall" -v f="$FLOOR_S" 'BEGIN { exit !(w >= f) }'; then
			fail+="the $samples-sample build took $wall s, over the $FLOOR_S s floor; "
		fi
		if [ $((rss / 1024)) -ge "$FLOOR_MIB" ]; then
			fail+="the $samples-sample build peaked at $((rss / 1024)) MiB RSS, over the $FLOOR_MIB MiB floor; "
		fi
	fi
	if [ -z "$evalout" ]; then
		log "steer eval --truth on the $samples-sample world"
		"$STEER" eval --map "$dir/map.json" --truth "$dir/world/truth.tsv.gz" --geoip "$dir/world/geoip.mmdb" >"$tmp/eval.out"
		evalout=$(sed -n '/^on the ground truth/,$p' "$tmp/eval.out")
		evalsize=$samples
	fi
done

{
	echo "# steer build: map build time and peak RSS ($(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3))"
	echo
	echo "Worlds: \`steer sim --measured 1 --beacons $BEACONS --seed $SEED\` (every network measured, ~21 samples a beacon),"
	echo "ingested with \`steer ingest\`; \`steer build --store DIR --out MAP.json --bgp bgp.txt --geoip geoip.mmdb\`,"
	echo "$REPEAT runs (GNU time): the fastest run's wall time, CPU and phases, and the highest peak RSS of all runs."
	echo "samples/s = samples in the store / wall."
	echo
	echo "| samples in store | networks | samples used (train split, cleaned) | store MB | wall s | samples/s | peak RSS MiB | CPU s (user + sys) | builder phases, s |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Every run:"
	printf -- '- %s\n' "${runs[@]}"
	echo
	echo "Floor: $FLOOR_SAMPLES samples in < $FLOOR_S s and < $FLOOR_MIB MiB. Command: \`bench/build.sh\`."
	if [ -n "$evalout" ]; then
		echo
		echo "\`steer eval --truth truth.tsv.gz --geoip geoip.mmdb\` of the $evalsize-sample world's map:"
		echo
		echo '```'
		echo "$evalout"
		echo '```'
	fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
if [ -n "$fail" ]; then
	echo "bench/build.sh: FLOOR NOT MET: ${fail%; }" >&2
	exit 1
fi
