#!/usr/bin/env bash
# Attribute a Go proxy's CPU profile (bench/edge.sh with CPUPROFILE or
# BARE_CPUPROFILE, TESTS=h1-1k) to components, in µs per request:
#
#   bench/edge-profile.sh PROFILE REQUESTS
#
# REQUESTS is the number of requests the profiled process served (wrk's
# "requests in" over every run plus the warm-up; bench/edge.sh prints the
# total as "requests served"). Each sample's stack is given to one
# component, tried in this order:
#
#   GC (background)   runtime.gcBgMarkWorker / bgsweep / bgscavenge
#   scheduler         goroutine parking and wake-ups: runtime.schedule,
#                     findRunnable, netpoll, futex, park_m, wakep
#   syscalls client   read/write syscalls beneath crypto/tls (the client's
#                     connection), accept
#   syscalls upstream read/write syscalls beneath the transport (the
#                     origin's connection)
#   then the innermost frame of a known layer, so that an allocation or a
#   helper (bufio, textproto, strconv) counts for the layer that called it:
#   steer             steer's own code: package edge and the packages it
#                     calls per request (prometheus, steertoken, tcpinfo,
#                     accesslog), except thin pass-through wrappers
#                     (respWriter, retryTransport) and the Rewrite hook,
#                     which the bare proxy has too
#   TLS records       crypto/* (AES-GCM, record framing; handshakes)
#   ReverseProxy      net/http/httputil and the Rewrite hooks
#   transport         net/http's client: Transport, persistConn, writing the
#                     request, reading the response
#   server            net/http's server: conn.serve, reading the request,
#                     the response writer, chunkWriter, timers
#   other             what matches none (runtime housekeeping, signals)
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 PROFILE REQUESTS" >&2; exit 2; }
# DETAIL=COMPONENT also lists where that component's time goes: the
# frame that placed a sample there, or its leaf function.
go tool pprof -traces "$1" 2>/dev/null | awk -v reqs="$2" -v detail="${DETAIL:-}" '
function known(f) {
	if (f ~ /^github\.com\/steer-gslb\/steer\/edge\.\(\*respWriter\)/ || f ~ /retryTransport/ || f ~ /edge\.\(\*countingBody\)/) return ""
	if (f ~ /newUpstream\.func1$/ || f ~ /bareproxy\.New\.func1$/) return "ReverseProxy"
	if (f ~ /^github\.com\/steer-gslb\/steer\/(edge|steertoken|probe)/ || f ~ /^github\.com\/prometheus\//) return "steer"
	if (f ~ /^crypto\//) return "TLS records"
	if (f ~ /^net\/http\/httputil\./) return "ReverseProxy"
	if (f ~ /^net\/http\.\(\*(Transport|persistConn|persistConnWriter|bodyEOFSignal|transportRequest|wantConn|Request)\)/ ||
	    f ~ /^net\/http\.(ReadResponse|\(\*transferWriter\)|\(\*Response\)|setRequestCancel|send|\(\*Client\))/) return "transport"
	if (f ~ /^net\/http\.\(\*(conn|response|chunkWriter|connReader|Server|expectContinueReader|body|checkConnErrorWriter)\)/ ||
	    f ~ /^net\/http\.(readRequest|serverHandler|\(serverHandler\)|newBufioReader|newBufioWriterSize|putBufioReader|putBufioWriter)/) return "server"
	return ""
}
function classify(n,   i, f, all, k) {
	all = ""; via = ""
	for (i = 1; i <= n; i++) all = all " " fr[i]
	if (all ~ / runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)/) return "GC (background)"
	if (all ~ / runtime\.(schedule|findRunnable|park_m|mcall|netpoll|wakep|startm|stopm|notesleep|futexsleep|futexwakeup|goready|ready)( |$)/ && fr[1] !~ /^runtime\.(mallocgc|memclr|memmove)/) return "scheduler"
	if (fr[1] ~ /^(syscall\.|internal\/runtime\/syscall|runtime\/internal\/syscall|internal\/poll\.ignoringEINTR|syscall)/ || all ~ / (syscall\.Syscall|syscall\.RawSyscall|internal\/runtime\/syscall\.Syscall6)/) {
		if (all ~ / crypto\/tls\./ || all ~ /Accept/) return "syscalls client"
		if (all ~ / net\/http\.\(\*persistConn/) return "syscalls upstream"
		return "syscalls other"
	}
	for (i = 1; i <= n; i++) { k = known(fr[i]); if (k != "") { via = fr[i]; return k } }
	if (all ~ / net\/http\.\(\*persistConn\)\.(readLoop|writeLoop)/) return "transport"
	if (all ~ / net\/http\.\(\*conn\)\.serve/) return "server"
	return "other"
}
function ms(v) {
	if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
	if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
	if (v ~ /ns$/) { sub(/ns$/, "", v); return v / 1e6 }
	if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
	return v + 0
}
function flush() {
	if (n > 0) {
		c = classify(n); tot[c] += val; total += val
		if (c == detail) { j = 1; while (j < n && fr[j] ~ /^(runtime\.|internal\/runtime|aeshash|memeqbody|indexbyte)/) j++; leaf[(via != "" ? "in " via : fr[1] " < " fr[j])] += val }
	}
	n = 0
}
/^-+\+-+/ { flush(); intrace = 1; next }
!intrace { next }
/^ *[0-9.]+(ms|us|ns|s) +[^ ]/ { flush(); val = ms($1); n = 1; fr[1] = $2; next }
/^ +[^ ]/ && n > 0 { fr[++n] = $1; next }
END {
	flush()
	printf "%-20s %8s %8s %6s\n", "component", "ms", "us/req", "share"
	for (c in tot) printf "%-20s %8.0f %8.2f %5.1f%%\n", c, tot[c], tot[c] * 1000 / reqs, 100 * tot[c] / total | "sort -k3 -gr"
	close("sort -k3 -gr")
	printf "%-20s %8.0f %8.2f\n", "total", total, total * 1000 / reqs
	if (detail != "") {
		print "\nheaviest frames of " detail " (the frame that placed it, or leaf < first non-runtime caller), us/req:"
		for (l in leaf) printf "%8.2f  %s\n", leaf[l] * 1000 / reqs, l | "sort -gr | head -20"
		close("sort -gr | head -20")
	}
}'
