#!/usr/bin/env bash
# Edge proxy benchmark (issue 17): steer-edge, nginx and a bare Go reverse
# proxy (edge-origin --bare-proxy: net/http + httputil.ReverseProxy with
# steer-edge's TLS settings and pool, none of its features), in the same
# run, configured the same way: TLS termination with the same certificate
# (ECDSA P-256, TLS 1.2/1.3, clients negotiate 1.3), HTTP/1.1 and HTTP/2,
# X-Forwarded-* headers (and X-Edge-PoP / X-Request-ID, except on the bare
# proxy), keep-alive upstream to the same lean origin (cmd/edge-origin:
# fixed 1 KiB and 64 KiB bodies). The proxies run side by side and the runs
# are interleaved.
# Only 127.0.0.1 ports; everything lives in a mktemp dir removed on exit.
#
#   bench/edge.sh                          # the three proxies, 3 runs x 10 s each
#   DURATION=20 bench/edge.sh
#   PROXIES=steer REPEAT=1 bench/edge.sh   # steer-edge alone
#   PROXIES="steer bare" TESTS=h1-1k CPUPROFILE=/tmp/steer.pprof BARE_CPUPROFILE=/tmp/bare.pprof bench/edge.sh
#
# Figures: requests/s and p99 (wrk --latency) for HTTP/1.1 keep-alive 1 KiB
# and 64 KiB; HTTP/2 1 KiB requests/s and mean latency (h2load); CPU per
# full TLS handshake (wrk with 'Connection: close', one handshake per
# request, session resumption off on every server: the proxy's CPU time
# over the requests served); and the proxy's CPU per request, with its
# kernel (stime) part. Each is the
# median of REPEAT runs with the range. The proxy is pinned to SERVER_CPU,
# wrk/h2load and the origin to LOAD_CPU (taskset).
#
# Environment: PROXIES ("steer bare nginx"), TESTS ("h1-1k h1-64k h2-1k hs"),
# DURATION (10), REPEAT (3), CONNS (64 wrk connections), H2_CONNS (16) and H2_STREAMS (16 per connection),
# HS_CONNS (16 for the handshake runs), SERVER_CPU (0), LOAD_CPU (1),
# STEER_EDGE (a binary to measure instead of building ./cmd/steer-edge),
# CPUPROFILE (write steer-edge's CPU profile of the whole run there; with
# TESTS=h1-1k it is the profile of that load alone), BARE_CPUPROFILE (the
# same for the bare proxy; bench/edge-profile.sh splits a profile into
# components), ACCESS_LOG=1 (steer-edge writes its NDJSON access log with
# TCP_INFO to the temp dir; nginx keeps access_log off: the log's cost),
# SYSCALLS=1 (after the runs, one more HTTP/1.1 1 KiB run of each proxy
# under `perf stat`: system calls and context switches per request), OUT
# (bench/results/edge.md), KEEP=1 keeps the temp dir.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PROXIES=${PROXIES:-"steer bare nginx"}
TESTS=${TESTS:-"h1-1k h1-64k h2-1k hs"}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-64}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-16}
HS_CONNS=${HS_CONNS:-16}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$ROOT/bench/results/edge.md}
PORT_BASE=${PORT_BASE:-18500}

for tool in wrk h2load openssl taskset; do
	command -v "$tool" >/dev/null || { echo "edge.sh: $tool is missing (make test-deps installs wrk, nginx, nghttp2-client)" >&2; exit 1; }
done
if [[ $PROXIES == *nginx* ]] && ! PATH="$PATH:/usr/sbin" command -v nginx >/dev/null; then
	echo "edge.sh: nginx is missing (make test-deps, or PROXIES=steer)" >&2
	exit 1
fi
NGINX=$(PATH="$PATH:/usr/sbin" command -v nginx || true)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/steer-edge-bench.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [[ ${KEEP:-0} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ORIGIN_PORT=$PORT_BASE
STEER_PORT=$((PORT_BASE + 1))
STEER_ADMIN=$((PORT_BASE + 2))
NGINX_PORT=$((PORT_BASE + 3))
BARE_PORT=$((PORT_BASE + 4))

echo "edge.sh: building steer-edge and edge-origin (origin and bare proxy)" >&2
go build -trimpath -o "$TMP/edge-origin" ./cmd/edge-origin
if [[ -n ${STEER_EDGE:-} ]]; then cp "$STEER_EDGE" "$TMP/steer-edge"; else CGO_ENABLED=0 go build -trimpath -o "$TMP/steer-edge" ./cmd/steer-edge; fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/edge.key" -out "$TMP/edge.crt" \
	-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

taskset -c "$LOAD_CPU" "$TMP/edge-origin" --listen "127.0.0.1:$ORIGIN_PORT" >"$TMP/origin.log" 2>&1 &
PIDS+=($!)

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "edge.sh: nothing listens on 127.0.0.1:$1" >&2
	exit 1
}
wait_port "$ORIGIN_PORT"

# cpu_ticks PID...: user+system clock ticks of the processes, then the
# system (kernel) ticks alone.
cpu_ticks() {
	local t=0 k=0 p f
	for p in "$@"; do
		f=$(cut -d')' -f2 "/proc/$p/stat")
		t=$((t + $(awk '{ print $12 + $13 }' <<<"$f")))
		k=$((k + $(awk '{ print $13 }' <<<"$f")))
	done
	echo "$t $k"
}
# per_req TICKS REQUESTS: µs of CPU per request.
per_req() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "nan" }'; }
HZ=$(getconf CLK_TCK)

start_steer() {
	cat >"$TMP/edge.yaml" <<EOF
pop: fra
listen: 127.0.0.1:$STEER_PORT
admin: 127.0.0.1:$STEER_ADMIN
tls:
  certificates:
    - {cert: edge.crt, key: edge.key}
  session_tickets: false
upstreams:
  - {name: dc1, url: "http://127.0.0.1:$ORIGIN_PORT", max_conns: 1024, idle_conns: 1024, prewarm: 8, retries: 1}
routes:
  - {path_prefix: /, upstream: dc1, token: "off"}
timeouts: {idle: 120s}
drain_grace: 10ms
drain_timeout: 5s
forwarded_for: network
EOF
	if [[ ${ACCESS_LOG:-0} == 1 ]]; then echo "access_log: {path: access.ndjson}" >>"$TMP/edge.yaml"; fi
	local prof=()
	if [[ -n ${CPUPROFILE:-} ]]; then prof=(--cpuprofile "$CPUPROFILE"); fi
	taskset -c "$SERVER_CPU" "$TMP/steer-edge" --config "$TMP/edge.yaml" --log-level warn "${prof[@]}" >"$TMP/steer.log" 2>&1 &
	SERVER_PIDS=($!)
	PIDS+=("${SERVER_PIDS[0]}")
	wait_port "$STEER_PORT"
	PORT=$STEER_PORT
}

# The bare Go proxy: the same certificate, TLS settings, timeouts, pool
# size and forwarding headers as steer-edge; nothing else.
start_bare() {
	local prof=()
	if [[ -n ${BARE_CPUPROFILE:-} ]]; then prof=(--cpuprofile "$BARE_CPUPROFILE"); fi
	taskset -c "$SERVER_CPU" "$TMP/edge-origin" --bare-proxy --listen "127.0.0.1:$BARE_PORT" \
		--upstream "http://127.0.0.1:$ORIGIN_PORT" --cert "$TMP/edge.crt" --key "$TMP/edge.key" --max-conns 1024 \
		"${prof[@]}" >"$TMP/bare.log" 2>&1 &
	SERVER_PIDS=($!)
	PIDS+=("${SERVER_PIDS[0]}")
	wait_port "$BARE_PORT"
	PORT=$BARE_PORT
}

start_nginx() {
	mkdir -p "$TMP/nginx"
	cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	http2_max_requests 1000000;
	upstream dc1 {
		server 127.0.0.1:$ORIGIN_PORT;
		keepalive 1024;
		keepalive_requests 1000000;
		keepalive_timeout 90s;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT ssl http2 reuseport;
		ssl_certificate $TMP/edge.crt;
		ssl_certificate_key $TMP/edge.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
		ssl_session_cache off;
		ssl_session_tickets off;
		location / {
			proxy_pass http://dc1;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Request-ID \$request_id;
			proxy_set_header X-Forwarded-For \$remote_addr;
			proxy_set_header X-Forwarded-Proto https;
			proxy_set_header X-Forwarded-Host \$host;
			add_header X-Edge-PoP fra;
			add_header X-Request-ID \$request_id;
		}
	}
}
EOF
	taskset -c "$SERVER_CPU" "$NGINX" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
	local master=$!
	PIDS+=("$master")
	wait_port "$NGINX_PORT"
	SERVER_PIDS=("$master" $(pgrep -P "$master"))
	PORT=$NGINX_PORT
}

stop_server() {
	local p
	for p in "${SERVER_PIDS[@]:0:1}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# to_ms VALUE: wrk's "1.23ms" / "850.00us" / "1.02s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "%s", v }'
}

# run_wrk NAME ARGS...: one wrk run; appends "rps p99ms cpu_us_per_req errors
# kernel_us_per_req" to $TMP/NAME.runs.
run_wrk() {
	local name=$1
	shift
	local t0 t1 k0 k1 out rps p99 reqs errs
	read -r t0 k0 <<<"$(cpu_ticks "${SERVER_PIDS[@]}")"
	out=$(taskset -c "$LOAD_CPU" wrk -t1 --latency -d "${DURATION}s" "$@")
	read -r t1 k1 <<<"$(cpu_ticks "${SERVER_PIDS[@]}")"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ { s = s $0 "; " } END { print (s == "" ? "0" : s) }' <<<"$out")
	echo "$reqs" >>"$TMP/${name%%-*}.served"
	echo "$rps $p99 $(per_req $((t1 - t0)) "$reqs") ${errs// /_} $(per_req $((k1 - k0)) "$reqs")" >>"$TMP/$name.runs"
	echo "  $name: $rps req/s, p99 $p99 ms, errors: $errs" >&2
}

# run_h2 NAME: one h2load run (HTTP/2 1 KiB); appends "rps mean_ms
# cpu_us_per_req errors kernel_us_per_req".
run_h2() {
	local name=$1 t0 t1 k0 k1 out rps mean reqs fails
	read -r t0 k0 <<<"$(cpu_ticks "${SERVER_PIDS[@]}")"
	out=$(taskset -c "$LOAD_CPU" h2load -t1 -c "$H2_CONNS" -m "$H2_STREAMS" -D "$DURATION" --warm-up-time=1 "https://127.0.0.1:$PORT/" 2>&1)
	read -r t1 k1 <<<"$(cpu_ticks "${SERVER_PIDS[@]}")"
	rps=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' <<<"$out")
	mean=$(to_ms "$(awk '/^time for request:/ { print $6 }' <<<"$out")")
	reqs=$(awk '/^requests:/ { print $8 }' <<<"$out")
	fails=$(awk '/^requests:/ { print $10 }' <<<"$out")
	echo "$reqs" >>"$TMP/${name%%-*}.served"
	echo "$rps $mean $(per_req $((t1 - t0)) "$reqs") failed=$fails $(per_req $((k1 - k0)) "$reqs")" >>"$TMP/$name.runs"
	echo "  $name: $rps req/s, mean $mean ms, failed $fails" >&2
}

# median FILE COL: "median (min–max)" of column COL.
median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { printf "%s (%s–%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
med() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# All proxies run side by side (idle ones cost nothing) and the runs are
# interleaved: run r of every proxy comes before run r+1 of any, so a
# change in the machine's background load falls on all of them alike.
declare -A PIDS_OF PORT_OF
for proxy in $PROXIES; do
	echo "edge.sh: starting $proxy" >&2
	"start_$proxy"
	PIDS_OF[$proxy]="${SERVER_PIDS[*]}"
	PORT_OF[$proxy]=$PORT
	# Warm up: connections to the origin, TLS, the Go runtime's heap.
	taskset -c "$LOAD_CPU" wrk -t1 -c "$CONNS" -d 2s "https://127.0.0.1:$PORT/" | awk '/requests in/ { print $1 }' >>"$TMP/$proxy.served"
done
for r in $(seq "$REPEAT"); do
	for proxy in $PROXIES; do
		echo "edge.sh: run $r, $proxy" >&2
		read -ra SERVER_PIDS <<<"${PIDS_OF[$proxy]}"
		PORT=${PORT_OF[$proxy]}
		url="https://127.0.0.1:$PORT"
		for t in $TESTS; do
			case $t in
			h1-1k) run_wrk "$proxy-h1-1k" -c "$CONNS" "$url/" ;;
			h1-64k) run_wrk "$proxy-h1-64k" -c "$CONNS" "$url/64k" ;;
			h2-1k) run_h2 "$proxy-h2-1k" ;;
			hs) run_wrk "$proxy-hs" -c "$HS_CONNS" -H 'Connection: close' "$url/" ;;
			*) echo "edge.sh: unknown test $t in TESTS" >&2; exit 1 ;;
			esac
		done
	done
done
# syscall_run PROXY: a 5 s HTTP/1.1 1 KiB wrk run with perf stat counting the
# proxy's system calls by kind and its context switches; appends
# "proxy event per_request" lines to $TMP/syscalls.
SYSCALL_EVENTS=raw_syscalls:sys_enter,context-switches
for sc in read write readv writev recvfrom sendto epoll_wait epoll_pwait futex getsockopt setsockopt nanosleep sched_yield tgkill rt_sigreturn madvise; do
	SYSCALL_EVENTS+=",syscalls:sys_enter_$sc"
done
syscall_run() {
	local proxy=$1 out reqs pids
	read -ra SERVER_PIDS <<<"${PIDS_OF[$proxy]}"
	pids=$(IFS=,; echo "${SERVER_PIDS[*]}")
	perf stat -x, -e "$SYSCALL_EVENTS" -p "$pids" -o "$TMP/$proxy.perf" -- sleep 6 &
	local perf=$!
	sleep 0.5
	out=$(taskset -c "$LOAD_CPU" wrk -t1 -c "$CONNS" -d 5s "https://127.0.0.1:${PORT_OF[$proxy]}/")
	wait "$perf" || true
	reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
	awk -F, -v p="$proxy" -v n="$reqs" '$1 ~ /^[0-9]+$/ && $1 > 0 { e = $3; sub(/^(syscalls:sys_enter_|raw_syscalls:sys_enter)/, "", e); if (e == "") e = "syscalls(all)"; printf "%s %s %.2f\n", p, e, $1 / n }' "$TMP/$proxy.perf" >>"$TMP/syscalls"
	echo "  $proxy: syscalls per request measured over $reqs requests" >&2
}
if [[ ${SYSCALLS:-0} == 1 ]]; then
	command -v perf >/dev/null || { echo "edge.sh: SYSCALLS=1 needs perf (linux-perf)" >&2; exit 1; }
	for proxy in $PROXIES; do syscall_run "$proxy"; done
fi
if [[ " $PROXIES " == *" steer "* ]]; then
	curl -s "http://127.0.0.1:$STEER_ADMIN/metrics" | grep '^steer_edge_tls_handshakes_total' >"$TMP/steer-handshakes.txt" || true
fi
# Stop them (the Go proxies write their CPU profiles as they exit).
for proxy in $PROXIES; do
	read -ra SERVER_PIDS <<<"${PIDS_OF[$proxy]}"
	stop_server
done

# Report.
{
	echo "# Edge proxy: steer-edge vs nginx and a bare Go proxy ($(date -u +%Y-%m-%d))"
	echo
	echo "bench/edge.sh: DURATION=$DURATION s x REPEAT=$REPEAT, wrk -t1 -c$CONNS, h2load -t1 -c$H2_CONNS -m$H2_STREAMS,"
	echo "handshakes: wrk -t1 -c$HS_CONNS -H 'Connection: close' (resumption off on every server). Proxy on CPU $SERVER_CPU,"
	echo "load generator and lean origin (cmd/edge-origin) on CPU $LOAD_CPU; runs interleaved. $(nproc) CPUs, $(go version | awk '{ print $3 }'),"
	echo "$("$NGINX" -v 2>&1 | sed 's/nginx version: //'), load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg). Median (min–max)."
	echo
	echo "| proxy | test | req/s | p99 ms (h2: mean) | proxy CPU µs/req | of which kernel | errors |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for proxy in $PROXIES; do
		for t in h1-1k h1-64k h2-1k hs; do
			f="$TMP/$proxy-$t.runs"
			[[ -f $f ]] || continue
			echo "| $proxy | $t | $(median "$f" 1) | $(median "$f" 2) | $(median "$f" 3) | $(median "$f" 5) | $(awk '{ print $4 }' "$f" | sort -u | paste -sd' ') |"
		done
	done
	for pair in steer/nginx bare/nginx steer/bare; do
		a=${pair%/*} b=${pair#*/}
		[[ " $PROXIES " == *" $a "* && " $PROXIES " == *" $b "* ]] || continue
		echo
		echo "$pair ratios of the medians (req/s; p99; CPU per request or per handshake):"
		echo
		for t in h1-1k h1-64k h2-1k hs; do
			s="$TMP/$a-$t.runs" n="$TMP/$b-$t.runs"
			[[ -f $s && -f $n ]] || continue
			echo "- $t: req/s $(awk -v a="$(med "$s" 1)" -v b="$(med "$n" 1)" 'BEGIN { printf "%.2f", a / b }')x," \
				"latency $(awk -v a="$(med "$s" 2)" -v b="$(med "$n" 2)" 'BEGIN { printf "%.2f", a / b }')x," \
				"CPU $(awk -v a="$(med "$s" 3)" -v b="$(med "$n" 3)" 'BEGIN { printf "%.2f", a / b }')x"
		done
	done
	echo
	echo "Requests each proxy served, warm-up included (to divide a CPU profile by; bench/edge-profile.sh):"
	for proxy in $PROXIES; do
		echo "$proxy $(awk '{ n += $1 } END { print n }' "$TMP/$proxy.served")"
	done | sed 's/^/    /'
	if [[ -s $TMP/syscalls ]]; then
		echo
		echo "Per HTTP/1.1 1 KiB request under perf stat (one 5 s wrk -c$CONNS run each, after the runs above):"
		echo
		echo "| event | $(sed 's/ /, /g; s/, / | /g' <<<"$PROXIES") |"
		echo "|---$(for _ in $PROXIES; do printf '|---'; done)|"
		for e in $(awk '!seen[$2]++ { print $2 }' "$TMP/syscalls"); do
			row="| $e" any=0 v=""
			for proxy in $PROXIES; do
				v=$(awk -v p="$proxy" -v e="$e" '$1 == p && $2 == e { print $3 }' "$TMP/syscalls")
				if [[ -n $v && $v != 0.00 ]]; then any=1; fi
				row+=" | ${v:-0}"
			done
			if [[ $any == 1 ]]; then echo "$row |"; fi
		done
	fi
	if [[ -s $TMP/steer-handshakes.txt ]]; then
		echo
		echo "steer-edge handshake counters after the run (resumed=true must be 0 for the hs figure to be full handshakes):"
		echo
		sed 's/^/    /' "$TMP/steer-handshakes.txt"
	fi
} | tee "$OUT"
