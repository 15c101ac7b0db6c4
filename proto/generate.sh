#!/usr/bin/env bash
# Regenerates the committed protobuf/gRPC stubs next to their .proto files. Pinned by pyproject's
# dev extra (grpcio-tools). CI runs this and fails if the committed output differs.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
rm -f proto/snoop/v1/*_pb2*.py* agent/cri/*_pb2*.py* agent/containerd/*_pb2*.py*
"$python" -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto \
    proto/snoop/v1/snoop.proto
"$python" -m grpc_tools.protoc -Iagent/cri/proto --python_out=agent/cri --pyi_out=agent/cri \
    --grpc_python_out=agent/cri agent/cri/proto/cri_api.proto
# grpc_tools emits absolute imports; the CRI stubs live inside the agent package.
sed -i 's/^import cri_api_pb2 as/from snoop.agent.cri import cri_api_pb2 as/' agent/cri/cri_api_pb2_grpc.py
"$python" -m grpc_tools.protoc -Iagent/containerd/proto --python_out=agent/containerd --pyi_out=agent/containerd \
    --grpc_python_out=agent/containerd agent/containerd/proto/containers.proto agent/containerd/proto/images.proto \
    agent/containerd/proto/content.proto
sed -i -E 's/^import (containers|images|content)_pb2 as/from snoop.agent.containerd import \1_pb2 as/' agent/containerd/*_pb2_grpc.py
