"""One image's inventory, walked and sent in a process of its own: ``python -m snoop.agent.inventory.upload``.

The walk is Python from start to end, and in the agent's process it would take the interpreter's lock
from the ring reader, which must pin a new container's root within milliseconds. Here it competes
only for the CPU, at the lowest priority. The job comes as JSON on stdin; the result goes to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc

from snoop.agent.inventory.build import Upload, inventory_chunks
from snoop.agent.inventory.content import NAMESPACES, ContentError, ContentStore, image_layers
from snoop.agent.inventory.layer_tree import LayerError, LayerTree
from snoop.agent.inventory.layers import Located, locate
from snoop.common.channels import TlsFiles, open_channel, token_metadata
from snoop.v1 import snoop_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class Job:
    target: str
    tls: tuple[str | None, str | None, str | None]  # CA, certificate, key
    agent_id: str
    image_digest: str
    image_reference: str
    pids: list[int]           # live processes of the image's containers, tried in turn
    proc_root: str
    host_roots: list[str]
    exact_layers: bool
    chunk_files: int
    containerd: str = ""      # containerd's socket, whose content store holds the image's layers; "" for none


@dataclass(frozen=True)
class Result:
    complete: bool            # the collector holds the image's inventory
    source: str = ""
    files: int = 0
    seconds: float = 0.0
    error: str = ""
    note: str = ""            # how the image was read, where it was not the exact way


def from_content_store(job: Job) -> tuple[LayerTree | None, str]:
    """The image's tree from its layers in containerd's content store; (None, why) where it cannot be."""
    if not job.containerd:
        return None, "no containerd socket"
    why = ""
    for namespace in NAMESPACES:
        try:
            with ContentStore(job.containerd, namespace) as store:
                layers = image_layers(store, job.image_digest, job.image_reference)
                tree = LayerTree()
                for layer in layers:
                    tree.apply(store.stream(layer.digest), layer.digest)
                return tree, ""
        except (ContentError, LayerError) as exc:
            why = str(exc)
        except grpc.RpcError as exc:
            return None, f"containerd {job.containerd}: {exc.code()}"  # not containerd, or not reachable
    return None, why


def best_source(job: Job, located: Located) -> tuple[Located, str]:
    """An exact walk of the layer directories where it can be had; else the layers from the content
    store; else the container's root at first sight, minus what it wrote (with why, for the log)."""
    if located.source == "layers":
        return located, ""
    tree, why = from_content_store(job)
    if tree is None:
        return located, f"from the container's root at first sight: its layers could not be read ({why})"
    return Located(tree, "layers", frozenset()), ""


def run(job: Job, token: str | None) -> Result:
    ca, cert, key = (Path(p) if p else None for p in job.tls)
    tls = TlsFiles(ca, cert, key)
    metadata = token_metadata(token)
    errors = []
    with open_channel(job.target, tls) as channel:
        stub = pb_grpc.InventoryStub(channel)
        for pid in job.pids:
            found = locate(pid, proc_root=job.proc_root, host_roots=tuple(job.host_roots),
                           exact_layers=job.exact_layers)
            if found is None:
                continue
            located, note = best_source(job, found)
            started = time.monotonic()
            upload = Upload(job.agent_id, job.image_digest, job.image_reference, located.source)
            sent = 0
            try:
                for chunk in inventory_chunks(located.tree, upload, chunk_files=job.chunk_files, prune=located.prune):
                    ack = stub.Put(chunk, metadata=metadata, timeout=60)
                    sent += len(chunk.files)
                    if ack.error or ack.complete:
                        return Result(ack.complete, located.source, sent, time.monotonic() - started, ack.error,
                                      note)
            except OSError as exc:  # the container or its layers went away under the walk
                errors.append(f"pid {pid}: {exc}")
                continue
            return Result(False, located.source, sent, time.monotonic() - started, "the collector did not complete it")
    return Result(False, error="; ".join(errors) or "no live process of the image")


def main() -> int:
    os.nice(19)  # the node's workloads and the agent's tracing come first
    job = Job(**json.load(sys.stdin))
    try:
        result = run(job, os.environ.get("SNOOP_TOKEN"))
    except grpc.RpcError as exc:
        result = Result(False, error=f"collector {job.target}: {exc.code()}")
    json.dump(asdict(result), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
