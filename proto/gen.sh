#!/usr/bin/env bash
# Generates the Go code of proto/**/*.proto into OUT (default: gen/) with
# protoc and the plugins pinned in tools/go.mod (protoc-gen-go,
# protoc-gen-connect-go). `make proto` runs it; test/proto_test.go runs it
# into a temporary directory and checks the committed code is what it makes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/gen}
command -v protoc >/dev/null || { echo "proto/gen.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root/tools" && go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go &&
	go build -o "$bin/protoc-gen-connect-go" connectrpc.com/connect/cmd/protoc-gen-connect-go)
mkdir -p "$out"
cd "$root/proto"
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-connect-go="$bin/protoc-gen-connect-go" \
	-I . --go_out="$out" --go_opt=paths=source_relative \
	--connect-go_out="$out" --connect-go_opt=paths=source_relative \
	$(find . -name '*.proto' | sort)
