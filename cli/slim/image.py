"""The slim image around its layer: the base's config with one layer, a history entry saying what made
it, and labels and annotations naming the base and the evidence; written as an OCI layout, an archive
of one, or imported into containerd under a tag. Nothing reaches the tag until the image is whole."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snoop.cli.slim.layer import EPOCH, Written
from snoop.cli.slim.source import Base
from snoop.common.oci import BASE_DIGEST, BASE_NAME, SLIM_EVIDENCE
from snoop.common.version import VERSION

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class OutputError(Exception):
    """The slim image cannot be written where asked; the message says why."""


@dataclass(frozen=True)
class Slim:
    layout: Path        # an OCI layout directory holding the image
    digest: str         # its manifest's


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _put(layout: Path, data: bytes, media_type: str) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def build(base: Base, base_name: str, layer: Written, evidence: dict[str, Any], tag: str, work: Path) -> Slim:
    """An OCI layout under ``work`` holding the slim image, named ``tag`` in its index."""
    layout = work / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    shutil.move(layer.blob, layout / "blobs" / "sha256" / layer.digest.split(":", 1)[1])
    config = copy.deepcopy(base.config)
    config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id]}
    summary = json.dumps({"base": base.digest, **evidence}, sort_keys=True)
    config["history"] = [{"created": base.config.get("created", "1970-01-01T00:00:00Z"),
                          "created_by": f"snoop slim {VERSION}: {layer.entries} paths of {base.digest} kept",
                          "comment": summary}]
    runtime = config.setdefault("config", {}) or {}
    config["config"] = runtime
    runtime["Labels"] = {**(runtime.get("Labels") or {}), BASE_DIGEST: base.digest, BASE_NAME: base_name,
                         SLIM_EVIDENCE: summary}
    config_desc = _put(layout, _canonical(config), CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "config": config_desc,
                "layers": [{"mediaType": LAYER_GZIP, "digest": layer.digest, "size": layer.size}],
                "annotations": {BASE_DIGEST: base.digest, BASE_NAME: base_name}}
    manifest_desc = _put(layout, _canonical(manifest), MANIFEST)
    ref = tag.rsplit(":", 1)[1] if ":" in tag.rsplit("/", 1)[-1] else "latest"
    index = {"schemaVersion": 2, "manifests": [{**manifest_desc, "annotations": {
        "org.opencontainers.image.ref.name": ref, "io.containerd.image.name": tag}}]}
    (layout / "index.json").write_bytes(_canonical(index))
    return Slim(layout, manifest_desc["digest"])


def archive(slim: Slim, out: Path) -> None:
    """The layout as one tar (what ``ctr images import`` and ``skopeo copy oci-archive:`` take), written
    beside ``out`` and renamed into place: a failed write leaves nothing half-made."""
    partial = out.with_name(out.name + ".partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(slim.layout.rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(slim.layout)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
                if path.is_file():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        partial.rename(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc


def copy_layout(slim: Slim, out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out} is not empty: give a new or empty directory for --oci-layout")
    try:
        shutil.copytree(slim.layout, out, dirs_exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc}") from exc


def import_into_containerd(slim: Slim, tag: str, endpoint: str, namespace: str, work: Path) -> None:
    """``ctr images import`` of the archive (the tag appears only once the image is whole), also named by
    its digest as a registry pull names an image, so that the CRI reports the manifest's digest."""
    if shutil.which("ctr") is None:
        raise OutputError("ctr (containerd's client) is not installed: write the image with --oci-layout DIR or "
                          "--output FILE.tar instead")
    tar = work / "slim.tar"
    archive(slim, tar)
    address = endpoint.removeprefix("unix://")
    ctr = ["ctr", "--address", address, "-n", namespace, "images"]
    repository = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
    for step in (["import", str(tar)], ["tag", "--force", tag, f"{repository}@{slim.digest}"]):
        done = subprocess.run(ctr + step, capture_output=True, text=True)
        if done.returncode != 0:
            raise OutputError(f"ctr images {step[0]} in {endpoint} ({namespace}): {done.stderr.strip()}")

