#!/usr/bin/env bash
# vendor-ui.sh fetches the UI's front-end libraries from the npm registry at
# pinned versions and copies their built files into ui/assets/vendor, with
# their licences. The files are committed: `steer ui` embeds them and works
# with no internet access. Rerun after changing a version below; the test
# TestVendoredAssets checks that every file listed in VERSIONS is present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=ui/assets/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# package@version  file-in-package  name-in-vendor
files=(
	"d3@7.9.2 dist/d3.min.js d3.min.js"
	"@observablehq/plot@0.6.17 dist/plot.umd.min.js plot.umd.min.js"
	"topojson-client@3.1.0 dist/topojson-client.min.js topojson-client.min.js"
	"world-atlas@2.0.2 countries-110m.json countries-110m.json"
)
mkdir -p "$out"
{
	echo "# Vendored by scripts/vendor-ui.sh from the npm registry: package@version, file, sha256, licence"
	for f in "${files[@]}"; do
		read -r pkg src dst <<<"$f"
		dir=$tmp/$(echo "$pkg" | tr '/@' '__')
		if [ ! -d "$dir" ]; then
			mkdir -p "$dir"
			(cd "$dir" && npm pack "$pkg" --silent >/dev/null && tar xzf ./*.tgz)
		fi
		cp "$dir/package/$src" "$out/$dst"
		lic=$(echo "${pkg%@*}" | tr '/@' '__').LICENSE
		cp "$dir/package/LICENSE" "$out/$lic"
		echo "$pkg $dst $(sha256sum "$out/$dst" | cut -d' ' -f1) $lic"
	done
} >"$out/VERSIONS"
cat "$out/VERSIONS"
