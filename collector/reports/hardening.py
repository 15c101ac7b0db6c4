"""Least privilege from the evidence: can a workload's containers run with a read-only root filesystem, and
which directories must stay writable?

Every file a container of the workload wrote (opened for writing or created) outside the runtime's mounts is
grouped under its directory; directories below another chosen one are dropped, so each write is covered by the
narrowest mount that covers it and no mount widens another. A directory the image itself fills is named: an
``emptyDir`` there would hide what the image put there. Writes to volumes the pod already mounts never reach
the collector (the agent leaves them out), so they need nothing here.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from snoop.collector.reports.filters import fetch_all
from snoop.collector.storage.models import ContainerInstance, InstanceFile, Inventory, InventoryDirectory, Path
from snoop.collector.storage.write import path_digest
from snoop.collector.storage.write_inventory import parent_of
from snoop.common.file_types import KEEP
from snoop.common.kinds import bits_of

WRITE = bits_of(["write"])

# Where each kind keeps its pod template, as a path of keys in a strategic-merge patch.
TEMPLATE_SPEC = {
    "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
API_VERSION = {"Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}
LIMITS = [
    "A directory written only by a code path that never ran while snoop watched is not in the list: check the "
    "coverage (pods, first and last seen) before applying the patch.",
    "Writes to volumes the pod already mounts are not seen by snoop and need nothing here.",
    "emptyDir volumes have no size limit in the patch: snoop records which files were written, not how much.",
]


@dataclass(frozen=True)
class Writable:
    path: bytes
    files: int              # distinct files written below it
    image_files: int | None  # files the image holds below it (an emptyDir would hide them); None: no inventory


def writable_directories(written: set[bytes]) -> list[bytes]:
    """The directories of the written files, none below another: the fewest mounts that cover every write,
    each as narrow as the writes allow."""
    kept: set[bytes] = set()
    for directory in sorted({parent_of(p) for p in written}, key=lambda d: (d.count(b"/"), d)):
        above = directory  # the directory itself, then each one above it up to /
        while above not in kept and above != b"/":
            above = parent_of(above)
        if above not in kept:
            kept.add(directory)
    return sorted(kept)


def _under(path: bytes, directory: bytes) -> bool:
    return directory == b"/" or path.startswith(directory + b"/")


def _written(session: Session, namespace: str, name: str) -> dict[str, tuple[set[bytes], set[int]]]:
    """container name -> (paths written, image ids of its instances)."""
    ci, inf = ContainerInstance, InstanceFile
    rows = fetch_all(session, select(ci.name, ci.image_id, Path.path)
                     .join(inf, and_(inf.of(ci), inf.kinds.op("&")(WRITE) != 0,
                                     inf.file_type.in_(KEEP)), isouter=True)
                     .join(Path, Path.id == inf.path_id, isouter=True)
                     .where(ci.namespace == namespace, ci.workload_name == name))
    out: dict[str, tuple[set[bytes], set[int]]] = defaultdict(lambda: (set(), set()))
    for container, image_id, path in rows:
        paths, images = out[container]
        images.add(image_id)
        if path is not None:
            paths.add(path)
    return dict(out)


def _image_files(session: Session, image_ids: set[int], directory: bytes) -> int | None:
    """Files the image holds below ``directory`` (the most of the container's images), from the sums kept
    per directory; None when no image of the container has a complete inventory."""
    inventoried = list(session.scalars(select(Inventory.image_id).where(Inventory.image_id.in_(image_ids),
                                                                       Inventory.complete.is_(True))))
    if not inventoried:
        return None
    found = session.scalars(select(InventoryDirectory.files)
                            .join(Path, Path.id == InventoryDirectory.path_id)
                            .where(InventoryDirectory.image_id.in_(inventoried),
                                   Path.digest == path_digest(directory))).all()
    return max(found, default=0)


def volume_name(directory: bytes) -> str:
    """A DNS label for the directory's volume: readable, and unique through a short hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", directory.decode("utf-8", "replace").lower()).strip("-") or "root"
    return f"snoop-{slug[:40]}-{hashlib.sha256(directory).hexdigest()[:8]}"


def patch(kind: str, namespace: str, name: str, containers: dict[str, list[Writable]]) -> dict[str, Any] | None:
    """A strategic-merge patch (kustomize ``patches:``, ``kubectl patch --type strategic``) that makes each
    container's root read-only and mounts an emptyDir on each writable directory; None for a kind without a
    known pod template."""
    spec_path = TEMPLATE_SPEC.get(kind)
    if spec_path is None:
        return None
    volumes: dict[str, dict[str, Any]] = {}
    entries = []
    for container, writable in sorted(containers.items()):
        mounts = []
        for w in writable:
            path = os.fsdecode(w.path)
            volumes.setdefault(volume_name(w.path), {"name": volume_name(w.path), "emptyDir": {}})
            mounts.append({"name": volume_name(w.path), "mountPath": path})
        entry: dict[str, Any] = {"name": container, "securityContext": {"readOnlyRootFilesystem": True}}
        if mounts:
            entry["volumeMounts"] = mounts
        entries.append(entry)
    pod_spec: dict[str, Any] = {"containers": entries}
    if volumes:
        pod_spec["volumes"] = list(volumes.values())
    body: dict[str, Any] = pod_spec
    for key in reversed(spec_path):
        body = {key: body}
    return {"apiVersion": API_VERSION.get(kind, "apps/v1"), "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, **body}


def hardening(session: Session, namespace: str, name: str, kind: str) -> dict[str, Any]:
    """The answer of /workloads/{namespace}/{name}/hardening."""
    containers: dict[str, list[Writable]] = {}
    notes: list[str] = []
    for container, (written, image_ids) in sorted(_written(session, namespace, name).items()):
        found = []
        for directory in writable_directories(written):
            files = sum(1 for p in written if _under(p, directory))
            image_files = _image_files(session, image_ids, directory)
            found.append(Writable(directory, files, image_files))
            if directory == b"/":
                notes.append(f"container {container} writes files directly in /: its root cannot be read-only "
                             "without moving those files")
            elif image_files:
                notes.append(f"container {container}: {directory.decode('utf-8', 'replace')} holds {image_files} "
                             "files of the image, which an emptyDir would hide: copy them in with an init "
                             "container, or mount only the written files (subPath)")
        containers[container] = found
    bare_kind = kind.rstrip("?")
    if kind.endswith("?"):
        notes.append(f"the kind ({bare_kind}) was guessed from the pod names; the agent names it exactly with "
                     "--kube-api")
    return {
        "namespace": namespace, "name": name, "kind": bare_kind,
        "containers": [{"name": c, "writable": [{"path": os.fsdecode(w.path), "files_written": w.files,
                                                   "image_files": w.image_files} for w in ws]}
                       for c, ws in containers.items()],
        "patch": patch(bare_kind, namespace, name, containers),
        "notes": notes,
        "limits": LIMITS,
    }
