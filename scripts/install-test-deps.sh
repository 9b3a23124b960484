#!/usr/bin/env bash
# install-test-deps.sh makes sure the programs the integration tests drive are
# installed: gcc (go test -race needs cgo), g++ (DuckDB links libstdc++), unbound, dig (dnsutils), dnsperf,
# gdnsd, knotd (knot), chromium (headless, for web/'s test of rum.js), logrotate
# (the fault suite rotates the DNS query log with it, in both of its modes) and
# clickhouse-server (store/chstore's tests start clusters of it, internal/chtest).
#
# It installs with apt-get only when one of them is missing, we are root and
# apt-get exists, and then only the missing packages; a second run installs
# nothing. It keeps the servers it installs from starting, and stops and
# disables them afterwards, so nothing is left listening on port 53. When it
# cannot install, it says which integration tests will be skipped and exits 0.
set -euo pipefail

# binary:package pairs. The servers live in /usr/sbin, which is not in the PATH
# of every user, so look there too. systemd-analyze (package systemd) verifies
# packaging/systemd's units (test/packaging_test.go).
# testssl (package testssl.sh) checks the edge's TLS (make conformance); wrk,
# nginx and h2load (nghttp2-client) drive bench/edge.sh. h2spec is a Go tool
# pinned in tools/go.mod (test/edge_conformance_test.go builds it).
deps=(gcc:gcc g++:g++ protoc:protobuf-compiler unbound:unbound dig:dnsutils dnsperf:dnsperf gdnsd:gdnsd knotd:knot chromium:chromium logrotate:logrotate zsh:zsh systemd-analyze:systemd testssl:testssl.sh wrk:wrk nginx:nginx h2load:nghttp2-client clickhouse-server:clickhouse-server)
search_path="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing_bins=()
missing_pkgs=()
find_missing() {
	missing_bins=()
	missing_pkgs=()
	local dep
	for dep in "${deps[@]}"; do
		if ! PATH="$search_path" command -v "${dep%%:*}" >/dev/null 2>&1; then
			missing_bins+=("${dep%%:*}")
			missing_pkgs+=("${dep#*:}")
		fi
	done
}

find_missing
if [ "${#missing_bins[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: missing ${missing_bins[*]}; integration tests that need them will be skipped." >&2
	echo "install-test-deps: to run them, as root: apt-get install --no-install-recommends ${missing_pkgs[*]}" >&2
	exit 0
fi

echo "install-test-deps: installing ${missing_pkgs[*]}" >&2

# Keep maintainer scripts from starting the servers (unbound, gdnsd and knot
# start themselves on install, nginx too), the way Debian's container images do: a
# policy-rc.d that forbids every action. Leave an existing one alone.
policy=/usr/sbin/policy-rc.d
log=$(mktemp)
cleanup() {
	rm -f "$log"
	if [ -n "${own_policy:-}" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
	own_policy=1
	printf '#!/bin/sh\n# written by steer scripts/install-test-deps.sh during apt-get install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi

if ! { apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-test-deps: apt-get failed" >&2
	exit 1
fi

# Belt and braces: should a server have started anyway, or been enabled to
# start at boot, undo that for the packages installed here.
services=()
for pkg in "${missing_pkgs[@]}"; do
	case $pkg in unbound | gdnsd | knot | nginx | clickhouse-server) services+=("$pkg") ;; esac
done
if [ "${#services[@]}" -gt 0 ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now "${services[@]}" >/dev/null 2>&1 || true
fi

find_missing
if [ "${#missing_bins[@]}" -gt 0 ]; then
	echo "install-test-deps: still missing after install: ${missing_bins[*]}; integration tests that need them will be skipped." >&2
fi
