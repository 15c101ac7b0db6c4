"""The verdicts as documents other tools read: OpenVEX 0.2.0 and a CycloneDX 1.5 SBOM.

The product of every statement, and the subject of the SBOM, is the image as an ``oci`` package URL
(``pkg:oci/app@sha256%3A…?repository_url=registry/app``). The SBOM is built with cyclonedx-python-lib,
so it is valid by construction; filtered to the used packages it is what a scanner can re-scan.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from snoop.common.references import normalise
from snoop.common.seed_report import format_time
from snoop.common.version import VERSION

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"
STATUS = {"in_use": "affected", "not_in_use": "not_affected", "unknown": "under_investigation"}


def oci_purl(digest: str, reference: str | None) -> str:
    """``pkg:oci/NAME@DIGEST?repository_url=REPOSITORY`` (the purl spec's type for OCI images)."""
    repository = normalise(reference).rsplit("@", 1)[0] if reference else ""
    if repository.rsplit("/", 1)[-1].count(":"):
        repository = repository.rsplit(":", 1)[0]
    name = repository.rsplit("/", 1)[-1].lower() if repository else "image"
    out = f"pkg:oci/{quote(name, safe='')}@{quote(digest, safe='')}"  # the spec's own examples: sha256%3A…
    return out + (f"?repository_url={quote(repository, safe='/')}" if repository else "")


def _evidence_text(entry: dict[str, Any]) -> str:
    ev = entry["evidence"]
    return (f"In use: {ev['containers']} container(s) of the image used {', '.join(ev['files'])} "
            f"(last seen {ev['last_seen']}). Update {entry['package']} {entry['version']}, or remove it if "
            "those files are not needed.")


def openvex(digest: str, reference: str | None, verdicts: dict[str, list[dict]], coverage: dict[str, Any],
            now_ns: int) -> dict[str, Any]:
    product_id = oci_purl(digest, reference)
    observed = (f"{coverage['instances']} container(s) on {coverage['nodes']} node(s), "
                f"{coverage['observed_seconds']}s observed")
    statements = []
    for verdict, status in STATUS.items():
        for entry in verdicts[verdict]:
            product: dict[str, Any] = {"@id": product_id}
            if entry["purl"]:
                product["subcomponents"] = [{"@id": entry["purl"]}]
            statement: dict[str, Any] = {"vulnerability": {"name": entry["id"]}, "products": [product],
                                         "status": status}
            if status == "affected":
                statement["action_statement"] = _evidence_text(entry)
            elif status == "not_affected":
                statement["justification"] = "vulnerable_code_not_in_execute_path"
                statement["impact_statement"] = (f"No container of the image used a file of {entry['package']} "
                                                 f"{entry['version']} ({observed}).")
            else:
                statement["status_notes"] = entry["reason"][0].upper() + entry["reason"][1:] + "."
            statements.append(statement)
    body = json.dumps(statements, sort_keys=True).encode()
    return {
        "@context": OPENVEX_CONTEXT,
        "@id": f"https://openvex.dev/docs/snoop/{hashlib.sha256(product_id.encode() + body).hexdigest()[:32]}",
        "author": "snoop",
        "role": "tool",
        "timestamp": format_time(now_ns),
        "version": 1,
        "tooling": f"snoop {VERSION}",
        "statements": statements,
    }


def sbom(digest: str, reference: str | None, packages: list[dict[str, Any]]) -> str:
    """CycloneDX 1.5 JSON of ``packages`` (each marked ``snoop:used``), for the image as its subject."""
    bom = Bom()
    subject = Component(name=(normalise(reference) if reference else digest), version=digest,
                        type=ComponentType.CONTAINER, purl=PackageURL.from_string(oci_purl(digest, reference)),
                        bom_ref=BomRef("image"))
    bom.metadata.component = subject
    parts = []
    for n, p in enumerate(packages):
        parts.append(Component(
            name=p["name"], version=p["version"], type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(p["purl"]) if p["purl"] else None, bom_ref=BomRef(f"package-{n}"),
            properties=[Property(name="snoop:used", value=str(p["used"]).lower()),
                        Property(name="snoop:used_files", value=str(p["used_files"])),
                        Property(name="snoop:type", value=p["type"])]))
    bom.components.update(parts)
    bom.register_dependency(subject, parts)
    return JsonV1Dot5(bom).output_as_string()
