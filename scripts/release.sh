#!/usr/bin/env bash
# release.sh builds steer's release archives into DIST (default dist/), named
# as goreleaser names them:
#
#   dist/steer-dns_<version>_<os>_<arch>.tar.gz   static (CGO_ENABLED=0), every platform of PLATFORMS
#   dist/steer_<version>_linux_amd64.tar.gz       cgo (DuckDB): only when built on linux/amd64 with a C compiler
#   dist/SHA256SUMS                               cd dist && sha256sum -c SHA256SUMS
#
# Each archive holds one directory, <name>_<version>_<os>_<arch>/, with the
# binary, LICENSE, README.md and, on Linux, the systemd units of
# packaging/systemd/ that run that binary. Binaries are built with -trimpath,
# -ldflags "-s -w" and -buildvcs=auto (so that `steer version` and
# `steer-dns --version` name the commit); archives are reproducible (sorted,
# owned by root, mtimes from the commit, no name or time in the gzip header).
#
# Environment:
#   VERSION     the version in the file names (default: git describe --tags --always --dirty, without a leading v)
#   DIST        the output directory (default: dist); its archives and SHA256SUMS are replaced
#   PLATFORMS   the static binaries' platforms (default: linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
#   SKIP_CGO=1  leave out the cgo binaries (steer)
#   GO          the go command (default: go)
set -euo pipefail

# What is released. A static binary is built for every platform of
# PLATFORMS; a cgo binary only for linux/amd64, on a linux/amd64 host.
static_bins=(steer-dns steer-edge)
cgo_bins=(steer)

cd "$(dirname "$0")/.."
GO=${GO:-go}
DIST=${DIST:-dist}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null) ||
		{ echo "release: not a git checkout: set VERSION" >&2; exit 2; }
fi
VERSION=${VERSION#v}
case $VERSION in
*/* | *' '* | '') echo "release: bad VERSION \"$VERSION\": no slashes or spaces" >&2; exit 2 ;;
esac

# GNU tar (for --sort and --owner; gtar on macOS) and a sha256sum.
tar=tar
if ! tar --version 2>/dev/null | grep -q GNU; then
	command -v gtar >/dev/null 2>&1 && tar=gtar ||
		{ echo "release: needs GNU tar (on macOS: brew install gnu-tar)" >&2; exit 2; }
fi
sha256=(sha256sum)
command -v sha256sum >/dev/null 2>&1 || sha256=(shasum -a 256)

# Reproducible archives: every file gets the commit's time.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

mkdir -p "$DIST"
rm -f "$DIST"/*.tar.gz "$DIST/SHA256SUMS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The documents every archive carries, read once so that all archives agree.
mkdir "$work/docs"
cp LICENSE README.md "$work/docs/"

# build NAME OS ARCH CGO: compiles ./cmd/NAME and archives it.
build() {
	local name=$1 os=$2 arch=$3 cgo=$4
	local base="${name}_${VERSION}_${os}_${arch}"
	local dir="$work/$base" start=$SECONDS
	mkdir -p "$dir"
	CGO_ENABLED=$cgo GOOS=$os GOARCH=$arch "$GO" build -trimpath -buildvcs=auto -ldflags "-s -w" \
		-o "$dir/$name" "./cmd/$name"
	cp "$work/docs/LICENSE" "$work/docs/README.md" "$dir/"
	if [ "$os" = linux ]; then
		local unit
		for unit in packaging/systemd/*.service; do
			if grep -q "^ExecStart=[^ ]*/$name\( \|$\)" "$unit"; then
				mkdir -p "$dir/systemd"
				cp "$unit" "$dir/systemd/"
			fi
		done
	fi
	chmod -R u=rwX,go=rX "$dir"
	"$tar" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
		-C "$work" -cf - "$base" | gzip -n >"$DIST/$base.tar.gz"
	echo "release: $DIST/$base.tar.gz ($((SECONDS - start)) s)"
}

for name in "${static_bins[@]}"; do
	for platform in $PLATFORMS; do
		build "$name" "${platform%/*}" "${platform#*/}" 0
	done
done

if [ "${SKIP_CGO:-}" = 1 ]; then
	echo "release: SKIP_CGO=1: leaving out ${cgo_bins[*]}"
else
	host="$("$GO" env GOHOSTOS)/$("$GO" env GOHOSTARCH)"
	cc=$("$GO" env CC) cxx=$("$GO" env CXX)
	why=""
	if [ "$host" != linux/amd64 ]; then
		why="released for linux/amd64 only, and built there (this host is $host)"
	elif ! command -v "${cc%% *}" >/dev/null 2>&1 || ! command -v "${cxx%% *}" >/dev/null 2>&1; then
		why="needs a C and a C++ compiler ($cc, $cxx): apt-get install gcc g++"
	fi
	if [ -n "$why" ]; then
		echo "release: skipping ${cgo_bins[*]} (cgo, for DuckDB): $why" >&2
	else
		for name in "${cgo_bins[@]}"; do
			build "$name" linux amd64 1
		done
	fi
fi

(cd "$DIST" && "${sha256[@]}" -- *.tar.gz >SHA256SUMS)
echo "release: $DIST/SHA256SUMS ($(wc -l <"$DIST/SHA256SUMS") archives, version $VERSION)"
