#!/usr/bin/env bash
# Regenerates the Go code of the connector protocol. Needs protoc (Debian:
# apt-get install protobuf-compiler); the Go generators are installed at the
# pinned versions below. CI runs this and fails if the result differs from
# what is committed.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.5.1

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
GOBIN=$bin go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"

PATH="$bin:$PATH" protoc -I plugins/proto \
  --go_out=plugins/proto --go_opt=paths=source_relative \
  --go-grpc_out=plugins/proto --go-grpc_opt=paths=source_relative \
  plugins/proto/snodo/connector/v1/connector.proto
