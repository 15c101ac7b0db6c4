"""The committed stubs are exactly what grpc_tools makes of the .proto files today."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

STUBS = [
    "proto/snoop/v1/snoop_pb2.py", "proto/snoop/v1/snoop_pb2.pyi", "proto/snoop/v1/snoop_pb2_grpc.py",
    "agent/cri/cri_api_pb2.py", "agent/cri/cri_api_pb2.pyi", "agent/cri/cri_api_pb2_grpc.py",
    *(f"agent/containerd/{name}_pb2{ext}" for name in ("containers", "images", "content")
      for ext in (".py", ".pyi", "_grpc.py")),
]


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for rel in ["proto/generate.sh", "proto/snoop/v1/snoop.proto", "agent/cri/proto/cri_api.proto",
                "agent/containerd/proto/containers.proto", "agent/containerd/proto/images.proto",
                "agent/containerd/proto/content.proto"]:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, copy / rel)
    subprocess.run(
        ["bash", str(copy / "proto/generate.sh")], check=True, env={"PYTHON": str(REPO / ".venv/bin/python"),
                                                                    "PATH": "/usr/bin:/bin"},
    )
    for rel in STUBS:
        assert (copy / rel).read_bytes() == (REPO / rel).read_bytes(), f"{rel} drifted: run make proto"


def test_file_types_agree_across_layers() -> None:
    """snoop.v1.FileType, the agent's FileType and the collector's names: one set of values."""
    from snoop.agent.events import FileType
    from snoop.common.file_types import NAMES
    from snoop.v1 import snoop_pb2 as pb

    wire = {v.number: v.name.removeprefix("FILE_TYPE_") for v in pb.FileType.DESCRIPTOR.values}
    assert {t.value: t.name for t in FileType} == {**wire, 0: "UNKNOWN"}
    assert {i: n.upper() for i, n in enumerate(NAMES)} == {**wire, 0: "UNKNOWN"}
