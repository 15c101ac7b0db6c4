"""``snoop slim IMAGE``: ask the collector what the image's containers used, read the base's layers
(containerd or an OCI layout), keep what is needed, and write the slim image. Progress and warnings go
to stderr; the last line on stdout is the slim image's manifest digest."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from snoop.agent.inventory.layer_tree import LayerError, LayerTree
from snoop.cli.query import QueryError, Server
from snoop.cli.slim import image
from snoop.cli.slim.keep import Wanted, keep_set
from snoop.cli.slim.layer import write_layer
from snoop.cli.slim.source import ContainerdSource, LayoutSource, Source, SourceError


@dataclass(frozen=True)
class Request:
    image: str                  # digest, digest prefix or reference, as the other commands take it
    server: Server
    containerd: str
    namespace: str
    from_oci_layout: Path | None
    tag: str | None
    oci_layout: Path | None
    output: Path | None
    include: list[str]
    include_file: Path | None
    exclude: list[str]
    coherent_packages: bool


def _say(text: str) -> None:
    print(f"snoop slim: {text}", file=sys.stderr, flush=True)


def _includes(req: Request) -> list[bytes]:
    paths = [os.fsencode(p) for p in req.include]
    if req.include_file is not None:
        try:
            lines = req.include_file.read_bytes().splitlines()
        except OSError as exc:
            raise QueryError(f"--include-file {req.include_file}: {exc.strerror}") from exc
        paths += [line.strip() for line in lines if line.strip() and not line.startswith(b"#")]
    bad = [p for p in paths if not p.startswith(b"/")]
    if bad:
        raise QueryError(f"--include {os.fsdecode(bad[0])}: not an absolute path")
    return paths


def default_tag(reference: str, digest: str) -> str:
    """``<repository>:<tag>-slim`` of the base's reference, or ``snoop/slim:<digest prefix>``."""
    repository, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "")
    repository = repository.split("@", 1)[0]
    if not repository:
        return f"snoop/slim:{digest.split(':', 1)[-1][:12]}"
    return f"{repository}:{tag or 'latest'}-slim"


def run(req: Request) -> str:
    plan = req.server.get(f"/api/v1/images/{req.image}/slim").json()
    digest = plan["digest"]
    summary = req.server.get(f"/api/v1/images/{digest}/summary").json()
    reference = next(iter(summary["image"]["references"]), "")
    wanted = Wanted([(os.fsencode(p["path"]), p["type"]) for p in plan["paths"]], _includes(req),
                    [os.fsencode(p) for p in req.exclude], req.coherent_packages)
    source: Source = LayoutSource(req.from_oci_layout, digest) if req.from_oci_layout else \
        ContainerdSource(req.containerd, req.namespace, digest, reference)
    base = source.base()
    _say(f"{reference or digest}: {len(base.layers)} layers, {len(plan['paths'])} paths used "
         f"({plan['evidence']['instances']} containers on {plan['evidence']['nodes']} nodes)")
    tree = LayerTree()
    for layer in base.layers:
        tree.apply(source.stream(layer.digest), layer.digest)
    keep = keep_set(tree, wanted, base.config)
    tag = req.tag or default_tag(reference, digest)
    with tempfile.TemporaryDirectory(prefix="snoop-slim-") as tmp:
        work = Path(tmp)
        written = write_layer([layer.digest for layer in base.layers], source.stream, tree, keep, work)
        for warning in keep.warnings:
            _say(f"warning: {warning}")
        slim = image.build(base, reference or digest, written, plan["evidence"], tag, work)
        if req.oci_layout is not None:
            image.copy_layout(slim, req.oci_layout)
        if req.output is not None:
            image.archive(slim, req.output)
        if req.oci_layout is None and req.output is None:
            image.import_into_containerd(slim, tag, req.containerd, req.namespace, work)
            _say(f"imported as {tag}")
    _say(f"kept {written.entries:,} paths, {written.bytes:,} bytes; {len(keep.packages)} packages left, "
         f"{keep.dropped_packages} dropped")
    return slim.digest


def main(req: Request) -> int:
    try:
        print(run(req))
    except (QueryError, SourceError, LayerError, image.OutputError) as exc:
        print(f"snoop slim: {exc}", file=sys.stderr)
        return 1
    return 0
