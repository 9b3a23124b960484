#!/usr/bin/env bash
# bench/worlds.sh: the builder across worlds (issue #20, "extrapolation
# judged fairly"). For each world and seed: `steer sim`, `steer ingest`,
# `steer build`, `steer eval --truth`; then one table with, per world, the
# p75 gap to the perfect map and the share of its p75 gain over geo in both
# of eval's views (per network, as served), the measured networks' regret,
# and the regret of the networks without beacons that the map answers
# against the equal oracle's on the same networks (one PoP per GeoIP block,
# every network counted alike, knowing the truth). Each floor is marked per
# world: p75 gap <= 2 % and >= 90 % of the perfect map's gain over geo in
# both views, measured regret < 0.75 ms (issue #7), extrapolated regret
# <= 1.2x the equal oracle's, traffic-weighted (issue #20).
#
# Quality is deterministic for a seed: nothing is repeated; other seeds are
# other worlds. Everything lives in a mktemp -d directory under BENCH_DIR
# (default /tmp), removed on exit unless KEEP=1 (~300 MB a world while it is
# ingested, ~100 MB after). Writes bench/results/worlds.md.
#
#   bench/worlds.sh                              7 worlds x 2 seeds, 100k networks (~4 min here)
#   SEEDS=1 NETWORKS=50000 bench/worlds.sh       quicker
#   ONLY="default,scatter" bench/worlds.sh       some worlds (names as in WORLDS below, up to the first space)
#   STRICT=1 bench/worlds.sh                     exit 1 when a floor fails anywhere (default: report it, exit 0)
set -euo pipefail
cd "$(dirname "$0")/.."
NETWORKS=${NETWORKS:-100000}
SEEDS=${SEEDS:-"1 2"}
ONLY=${ONLY:-}
OUT=${OUT:-bench/results/worlds.md}
BENCH_DIR=${BENCH_DIR:-/tmp}

# name|description|steer sim flags|steer build: geo (with --geoip) or nogeo
WORLDS=(
	"default|the default world: 30 % measured, GeoIP puts 5 % of blocks in a wrong city and 2 % in a wrong country, scatter 0.15 (at 100k networks, 18–19 % of networks are not in their block's GeoIP city)||geo"
	"measured-5|5 % of networks measured|--measured 0.05|geo"
	"measured-50|50 % of networks measured|--measured 0.5|geo"
	"geoip-error|GeoIP error x4: 20 % of blocks in a wrong city, 8 % in a wrong country (35–36 % of networks not in their block's GeoIP city)|--geo-wrong-city 0.2 --geo-wrong-country 0.08|geo"
	"scatter|scatter 0.4: each network after a block's first drawn elsewhere in the country with a probability of 0.4 on average (33–34 % of networks away from their block's home city, 37–38 % not in its GeoIP city)|--scatter 0.4|geo"
	"exact|no scatter and no GeoIP error: every network where GeoIP puts its block|--scatter 0 --geo-wrong-city 0 --geo-wrong-country 0|geo"
	"no-mmdb|the default world, built without --geoip (no GeoIP model); eval still falls back to GeoIP||nogeo"
)

log() { printf '== %s\n' "$*" >&2; }
tmp=$(mktemp -d "$BENCH_DIR/steer-bench-worlds.XXXXXX")
if [ -n "${KEEP:-}" ]; then
	log "keeping $tmp"
else
	trap 'rm -rf "$tmp"' EXIT
fi
log "building $tmp/steer"
go build -o "$tmp/steer" ./cmd/steer
STEER=$tmp/steer
t0=$(date +%s)

: >"$tmp/rows.jsonl"
for spec in "${WORLDS[@]}"; do
	IFS='|' read -r name desc simflags build <<<"$spec"
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then
		continue
	fi
	for seed in $SEEDS; do
		# worlds with the same sim flags and seed share one store
		key=$(printf '%s' "$NETWORKS $seed $simflags" | sha256sum | cut -c1-12)
		w=$tmp/world-$key
		if [ ! -f "$w/done" ]; then
			log "$name, seed $seed: steer sim --networks $NETWORKS --seed $seed $simflags"
			# shellcheck disable=SC2086 # simflags is a list of flags
			"$STEER" sim --out "$w" --networks "$NETWORKS" --seed "$seed" $simflags --quiet >"$w.sim.out"
			log "$name, seed $seed: steer ingest"
			"$STEER" ingest --store "$w/store" "$w/beacons.ndjson" "$w/dnslog.ndjson" >"$w.ingest.out"
			rm -f "$w/beacons.ndjson" "$w/dnslog.ndjson" "$w/edge.ndjson" "$w/bgp.mrt"
			touch "$w/done"
		fi
		run=$tmp/$name-$seed
		mkdir -p "$run"
		geoflag=()
		if [ "$build" = geo ]; then
			geoflag=(--geoip "$w/geoip.mmdb")
		fi
		log "$name, seed $seed: steer build ${geoflag[*]:+--geoip}"
		"$STEER" build --store "$w/store" --out "$run/map.json" --bgp "$w/bgp.txt" "${geoflag[@]}" >"$run/build.out"
		log "$name, seed $seed: steer eval --truth"
		"$STEER" eval --map "$run/map.json" --truth "$w/truth.tsv.gz" --geoip "$w/geoip.mmdb" --json "$run/eval.json" >"$run/eval.out"
		python3 - "$name" "$desc" "$seed" "$simflags" "$build" "$w/world.json" "$run/eval.json" "$run/eval.out" >>"$tmp/rows.jsonl" <<'EOF'
import json, sys
name, desc, seed, simflags, build, world, evalj, evalout = sys.argv[1:]
counts = json.load(open(world))["counts"]
rows = {r["name"]: r for r in json.load(open(evalj))["strategies"]}
cand, geo, perfect = rows["latency map"], rows["geo"], rows["perfect"]
out = {"world": name, "desc": desc, "seed": int(seed), "sim": simflags, "build": build,
       "networks": counts["networks"], "measured_networks": counts["measured_networks"],
       "blocks": counts["address_blocks"], "geoip_wrong_blocks": counts["geoip_wrong_blocks"]}
for view in ("per_network", "served"):
    c, g, p = (r["truth"][view]["p75_ms"] for r in (cand, geo, perfect))
    out[view + "_gap"] = 100 * (c / p - 1)
    out[view + "_gain"] = 100 * (g - c) / (g - p) if g > p else None
out["measured_regret"] = cand["truth_measured"]["regret_ms"]
x = cand.get("truth_extrapolation") or {}
out["extra_networks"] = x.get("networks", 0)
for k in ("regret_ms", "oracle_regret_ms", "oracle_equal_regret_ms", "regret_once_ms", "oracle_equal_regret_once_ms"):
    out["extra_" + k] = x.get(k)
total = sum(c["Map"]["traffic"] for c in cand["truth_classes"])
out["extra_traffic"] = 100 * x.get("traffic", 0) / total
fb = [c for c in cand["truth_classes"] if c["Name"] == "no entry (fallback)"]
out["fallback_traffic"] = 100 * fb[0]["Map"]["traffic"] / total if fb else 0
out["fallback_regret"] = fb[0]["Map"]["regret_ms"] if fb else None
# the eval's class table and closing lines, for the appendix
lines = open(evalout).read().splitlines()
i = next(k for k, l in enumerate(lines) if l.startswith("per network  p75"))
out["eval"] = "\n".join(l for l in lines[i:] if l.strip())
print(json.dumps(out))
EOF
		tail -n1 "$tmp/rows.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("== %s, seed %d: p75 %+.2f%% / %+.2f%%, gain %.1f%% / %.1f%%, measured %.2f ms, extrapolated %.2f ms vs equal %.2f ms" % (r["world"], r["seed"], r["per_network_gap"], r["served_gap"], r["per_network_gain"] or 0, r["served_gain"] or 0, r["measured_regret"], r["extra_regret_ms"] or 0, r["extra_oracle_equal_regret_ms"] or 0))' >&2
	done
done
elapsed=$(($(date +%s) - t0))

python3 - "$tmp/rows.jsonl" "$NETWORKS" "$SEEDS" "$elapsed" "$(date -u +%Y-%m-%d)" "$(nproc)" "$(go version | cut -d' ' -f3)" >"$OUT.tmp" 2>"$tmp/fails" <<'EOF'
import json, sys
path, networks, seeds, elapsed, day, cores, gover = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
GAP, GAIN, MEAS, RATIO = 2.0, 90.0, 0.75, 1.2

TINY = 0.005  # an oracle regret that prints as 0.00 ms: no ratio means anything

def ratio(r, once=False):
    a = r["extra_regret_once_ms" if once else "extra_regret_ms"]
    b = r["extra_oracle_equal_regret_once_ms" if once else "extra_oracle_equal_regret_ms"]
    return a / b if a is not None and b is not None and b >= TINY else None

def floors(r):
    f = {
        "gap": max(r["per_network_gap"], r["served_gap"]) <= GAP,
        "gain": min(r["per_network_gain"] or 0, r["served_gain"] or 0) >= GAIN,
        "measured": r["measured_regret"] < MEAS,
    }
    q = ratio(r)
    # with the oracle at ~0, any regret at all is over 1.2x of it
    f["ratio"] = q <= RATIO if q is not None else (r["extra_regret_ms"] or 0) < TINY
    return f

def mark(ok):
    return "pass" if ok else "**FAIL**"

def fmt(v, spec):
    return "—" if v is None else format(v, spec)

print(f"# steer build across worlds ({day}, {cores} cores, {gover})")
print()
print(f"Each world: `steer sim --networks {networks} --seed SEED FLAGS`, `steer ingest` (beacons and DNS log),")
print("`steer build --store STORE --out MAP.json --bgp bgp.txt [--geoip geoip.mmdb]`,")
print("`steer eval --map MAP.json --truth truth.tsv.gz --geoip geoip.mmdb --json` (GeoIP is the fallback for networks")
print("without an entry in every world). Quality is deterministic per seed; each seed is another world.")
print(f"Command: `bench/worlds.sh` ({len(rows)} runs in {elapsed} s).")
print()
print("Columns: p75 against the perfect map and share of the perfect map's p75 gain over geo, per network / as served;")
print("mean regret (ms, traffic-weighted) of networks with beacons; of networks without beacons that a map entry")
print("answers (\"extrapolated\"), of the equal oracle on the same networks (one PoP per GeoIP block, every network")
print("counted alike, knowing the truth) and their ratio, traffic-weighted and with every network counted once;")
print("the traffic no entry answers (GeoIP fallback). Floors: p75 gap <= 2 % and gain >= 90 % in both views,")
print("measured regret < 0.75 ms (issue #7), extrapolated <= 1.2x the equal oracle, traffic-weighted (issue #20).")
print("Where the equal oracle leaves ~0 ms (every block's networks share their best PoP), no ratio is defined and")
print("any regret fails that bar.")
print()
print("| world | seed | p75 vs perfect | gain over geo | measured ms | extrapolated: traffic, ms | equal oracle ms | ratio (once) | no entry | gap | gain | measured | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|:-:|:-:|")
fails = []
for r in rows:
    f = floors(r)
    for k, ok in f.items():
        if not ok:
            fails.append(f"{r['world']} seed {r['seed']}: {k}")
    q, qo = ratio(r), ratio(r, True)
    print(f"| {r['world']} | {r['seed']} | {r['per_network_gap']:+.2f} % / {r['served_gap']:+.2f} % "
          f"| {fmt(r['per_network_gain'], '.1f')} % / {fmt(r['served_gain'], '.1f')} % | {r['measured_regret']:.2f} "
          f"| {r['extra_traffic']:.1f} %, {fmt(r['extra_regret_ms'], '.2f')} | {fmt(r['extra_oracle_equal_regret_ms'], '.2f')} "
          f"| {fmt(q, '.2f') + '×' if q is not None else 'none (oracle ~0)'} ({fmt(qo, '.2f') + '×' if qo is not None else '—'}) | {r['fallback_traffic']:.1f} % "
          f"| {mark(f['gap'])} | {mark(f['gain'])} | {mark(f['measured'])} | {mark(f['ratio'])} |")
print()
print("Across seeds (min–max over the seeds of each world; floors: seeds passing / seeds):")
print()
print("| world | p75 vs perfect, per network | as served | gain per network | as served | measured ms | extrapolated ratio | gap | gain | measured | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|:-:|:-:|:-:|:-:|")
order = []
for r in rows:
    if r["world"] not in order:
        order.append(r["world"])
def rng(vals, spec, unit=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "—"
    lo, hi = min(vals), max(vals)
    return f"{lo:{spec}}{unit}" if len(vals) == 1 or format(lo, spec) == format(hi, spec) else f"{lo:{spec}}–{hi:{spec}}{unit}"
for w in order:
    rs = [r for r in rows if r["world"] == w]
    fs = [floors(r) for r in rs]
    cnt = lambda k: f"{sum(f[k] for f in fs)}/{len(fs)}"
    print(f"| {w} | {rng([r['per_network_gap'] for r in rs], '+.2f', ' %')} | {rng([r['served_gap'] for r in rs], '+.2f', ' %')} "
          f"| {rng([r['per_network_gain'] for r in rs], '.1f', ' %')} | {rng([r['served_gain'] for r in rs], '.1f', ' %')} "
          f"| {rng([r['measured_regret'] for r in rs], '.2f')} | {rng([ratio(r) for r in rs], '.2f', '×')} "
          f"| {cnt('gap')} | {cnt('gain')} | {cnt('measured')} | {cnt('ratio')} |")
print()
print("Worlds:")
print()
for w in order:
    r = next(r for r in rows if r["world"] == w)
    flags = f"`{r['sim']}`" if r["sim"] else "no flags"
    build = "" if r["build"] == "geo" else "; `steer build` without `--geoip`"
    print(f"- **{w}**: {r['desc']} ({flags}{build}); {r['networks']} networks, {r['measured_networks']} measured; {r['geoip_wrong_blocks']} of {r['blocks']} address blocks wrong in GeoIP (seed {r['seed']}).")
print()
print("## steer eval's per-class tables")
print()
for r in rows:
    print(f"{r['world']}, seed {r['seed']}:")
    print()
    print("```")
    print(r["eval"])
    print("```")
    print()
for f in fails:
    print(f, file=sys.stderr)
EOF
mv "$OUT.tmp" "$OUT"
sed -n '1,/^## steer eval/p' "$OUT" | head -n -1
if [ -s "$tmp/fails" ]; then
	echo "bench/worlds.sh: floors not met: $(paste -sd';' "$tmp/fails" | sed 's/;/; /g')" >&2
	if [ -n "${STRICT:-}" ]; then
		exit 1
	fi
fi
