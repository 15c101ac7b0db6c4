#!/usr/bin/env bash
# Fails when the committed protobuf stubs differ from what proto/generate.sh makes of the .proto files.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files="proto/snoop/v1/snoop_pb2.py proto/snoop/v1/snoop_pb2.pyi proto/snoop/v1/snoop_pb2_grpc.py
agent/cri/cri_api_pb2.py agent/cri/cri_api_pb2.pyi agent/cri/cri_api_pb2_grpc.py
agent/containerd/containers_pb2.py agent/containerd/containers_pb2.pyi agent/containerd/containers_pb2_grpc.py
agent/containerd/images_pb2.py agent/containerd/images_pb2.pyi agent/containerd/images_pb2_grpc.py"
for f in $files; do mkdir -p "$tmp/$(dirname "$f")"; cp "$f" "$tmp/$f"; done
./proto/generate.sh
status=0
for f in $files; do
    if ! cmp -s "$f" "$tmp/$f"; then echo "check-proto: $f drifted from its .proto (run make proto)" >&2; status=1; fi
done
exit $status
