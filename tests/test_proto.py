"""The committed stubs are exactly what grpc_tools makes of the .proto files today."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

STUBS = [
    "proto/snoop/v1/snoop_pb2.py", "proto/snoop/v1/snoop_pb2.pyi", "proto/snoop/v1/snoop_pb2_grpc.py",
    "agent/cri/cri_api_pb2.py", "agent/cri/cri_api_pb2.pyi", "agent/cri/cri_api_pb2_grpc.py",
]


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for rel in ["proto/generate.sh", "proto/snoop/v1/snoop.proto", "agent/cri/proto/cri_api.proto"]:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, copy / rel)
    subprocess.run(
        ["bash", str(copy / "proto/generate.sh")], check=True, env={"PYTHON": str(REPO / ".venv/bin/python"),
                                                                    "PATH": "/usr/bin:/bin"},
    )
    for rel in STUBS:
        assert (copy / rel).read_bytes() == (REPO / rel).read_bytes(), f"{rel} drifted: run make proto"
