"""Image contents through the real wire: an inventory over snoop.v1.Inventory (lease, chunks) to a real
collector process, used files by ``snoop push``, and the answers of ``snoop summary|packages|files``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.tree import ImageTree
from snoop.v1 import snoop_pb2 as pb
from snoop.v1 import snoop_pb2_grpc as pb_grpc
from tests.collector.test_inventory import small_image
from tests.conftest import Process
from tests.test_push_and_query import report, snoop

C1, OTHER = "sha256:" + "c1" * 32, "sha256:" + "0f" * 32


def test_inventory_over_grpc_then_summary_packages_and_remove_list(collector_proc: tuple[Process, str, str],
                                                                   tmp_path: Path) -> None:
    _, base, grpc_addr = collector_proc
    push = tmp_path / "r.json"
    push.write_text(json.dumps(report("web-1", C1, ["/usr/bin/tool", "/var/run/app.pid"])))
    assert snoop("push", "--collector", grpc_addr, str(push)).returncode == 0
    assert snoop("summary", "app:1", "--server", base).stdout.decode().splitlines()[1].startswith(
        "INVENTORY  none yet")

    with grpc.insecure_channel(grpc_addr) as channel:
        stub = pb_grpc.InventoryStub(channel)
        asked = pb.WantedRequest(agent_id="node-1/inventory", image_digests=[C1, OTHER])
        assert list(stub.Wanted(asked).image_digests) == [C1, OTHER]
        other = pb.WantedRequest(agent_id="node-2/inventory", image_digests=[C1])
        assert list(stub.Wanted(other).image_digests) == []  # leased to node-1 meanwhile
        upload = Upload("node-1/inventory", C1, "app:1", "layers")
        acks = [stub.Put(c) for c in inventory_chunks(ImageTree([os.fsencode(small_image(tmp_path / "img"))]),
                                                      upload, chunk_files=4)]
        assert [a.error for a in acks] == [""] * len(acks) and acks[-1].complete
        assert list(stub.Wanted(other).image_digests) == []  # complete: nobody needs to walk it again

    lines = snoop("summary", "app:1", "--server", base).stdout.decode().splitlines()
    assert lines[1].startswith("INVENTORY  9 files, 1.") and lines[1].endswith(" kB (from layers)")
    assert lines[2].startswith("USED       1 file, 100 B")
    assert "PACKAGES   2: 1 used, 1 unused" in lines
    assert any(line.startswith("CREATED    1 file used") for line in lines)  # /var/run/app.pid
    assert snoop("packages", "app:1", "--unused", "-o", "text", "--server", base).stdout == b"docs\n"
    table = snoop("packages", "app:1", "--server", base).stdout.decode().splitlines()
    assert table[0].split() == ["TYPE", "NAME", "VERSION", "FILES", "BYTES", "USED", "FILES", "USED", "BYTES"]
    remove = snoop("files", "app:1", "--unused", "-o", "text", "--server", base).stdout.decode().splitlines()
    assert "/usr/share/doc/a" in remove and "/usr/bin/tool" not in remove and len(remove) == 8
    assert snoop("sbom", "app:1", "--all", "--server", base).stdout.endswith(b"}\n")  # a newline after the JSON
    as_json = json.loads(snoop("summary", "app:1", "-o", "json", "--server", base).stdout)
    assert as_json["unused"]["files"] == 8 and as_json["inventory"]["source"] == "layers"
