"""``snoop images|files|summary|packages|vulns|sbom|diff|workloads|harden``: questions to a collector's REST API,
answered as a table, JSON, YAML, CSV or plain text (``-o``), the way kubectl and Trivy answer."""

from __future__ import annotations

import csv
import io
import json
import os
import ssl
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from snoop.common.settings import duration
from snoop.common.units import count, human_bytes

FORMATS = ["table", "json", "yaml", "csv", "text"]


class QueryError(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    url: str
    token: str | None = None
    verify: bool | ssl.SSLContext = True  # or a context trusting --tls-ca, for an https:// URL

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.request("GET", path, params)

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                body: bytes | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            r = httpx.request(method, self.url.rstrip("/") + path, params=params, headers=headers, timeout=120,
                              verify=self.verify, content=body)
        except httpx.HTTPError as exc:
            raise QueryError(f"cannot reach the collector at {self.url}: {exc}") from exc
        if r.status_code != 200:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise QueryError(f"{r.status_code}: {detail}")
        return r


def since_param(text: str | None) -> str | None:
    """``1h``, ``2d``, ``30m`` ago, or an ISO 8601 time as it is."""
    if not text:
        return None
    try:
        ago = duration(text)
    except ValueError:
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"--since {text!r}: give a duration ago or a time: 1h, 2d, 2026-01-31T00:00") from None
        return text
    return (datetime.now(UTC) - timedelta(seconds=ago)).isoformat()


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), *(fmt(r) for r in rows)]) + "\n"


def as_csv(headers: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


def structured(body: Any, fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(body, indent=2, ensure_ascii=True) + "\n").encode()
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=False).encode()


def tabular(fmt: str, headers: list[str], rows: list[list[str]], raw: list[list[Any]] | None = None) -> bytes:
    """A table for people; for ``csv``, snake_case headers and ``raw`` values (bytes and counts as numbers,
    times as ISO 8601) where the table shows them rounded."""
    if fmt == "csv":
        keys = [h.lower().replace(" ", "_") for h in headers]
        text = as_csv(keys, [["" if v is None else v for v in r] for r in (raw if raw is not None else rows)])
    else:
        text = table(headers, rows)
    return text.encode("utf-8", "surrogateescape")


def flattened(body: Any, prefix: str = "") -> list[list[Any]]:
    """(dotted key, value) rows of a JSON answer: a CSV of it keeps every raw figure."""
    if isinstance(body, dict):
        return [row for k, v in body.items() for row in flattened(v, f"{prefix}{k}.")]
    if isinstance(body, list) and body and all(isinstance(v, (dict, list)) for v in body):
        return [row for i, v in enumerate(body) for row in flattened(v, f"{prefix}{i}.")]
    value = ";".join(map(str, body)) if isinstance(body, list) else body
    return [[prefix.rstrip("."), value]]


def images(server: Server, fmt: str, namespace: str | None, since: str | None, limit: int | None) -> bytes:
    params = {k: v for k, v in {"namespace": namespace, "since": since_param(since), "limit": limit}.items() if v}
    body = server.get("/api/v1/images", params).json()
    if fmt in ("json", "yaml"):
        return structured(body, fmt)
    if fmt == "text":
        return "".join(i["digest"] + "\n" for i in body["images"]).encode()
    rows = [[i["digest"], ", ".join(i["references"]) or "-", str(i["containers"]), str(i["files"]),
             human_bytes(i["used_bytes"]), human_bytes(i["bytes"]), i["last_seen"] or "-"] for i in body["images"]]
    raw = [[i["digest"], ";".join(i["references"]), i["containers"], i["files"], i["used_bytes"], i["bytes"],
            i["last_seen"]] for i in body["images"]]
    return tabular(fmt, ["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "USED BYTES", "BYTES", "LAST SEEN"]
                   if fmt == "csv" else ["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "USED", "SIZE", "LAST SEEN"],
                   rows, raw)


def files(server: Server, image: str, fmt: str, prefix: str | None, kinds: list[str], since: str | None,
          limit: int | None, unused: bool = False) -> bytes:
    """The files an image's containers used; ``unused``: those the image holds that none used."""
    params: dict[str, Any] = {"format": fmt if fmt in ("text", "csv") else "json", "kind": kinds}
    params |= {k: v for k, v in {"prefix": prefix, "since": since_param(since), "limit": limit}.items() if v}
    if unused:
        params["used"] = "false"
    r = server.get(f"/api/v1/images/{image}/files", params)
    if fmt in ("text", "csv"):  # the keep-list (or remove list) and the CSV come from the collector as they are
        return r.content
    if fmt in ("json", "yaml"):
        return structured(r.json(), fmt)
    if unused:
        rows = [[f["path"], f["type"], human_bytes(f["size"]), f["package"] or "-"] for f in r.json()["files"]]
        return tabular(fmt, ["PATH", "TYPE", "SIZE", "PACKAGE"], rows)
    listed = r.json()["files"]
    paged = bool(listed) and "nodes" in listed[0]  # the collector counts nodes for pages (--limit)
    rows = [[f["path"], f["type"], str(f["containers"]), *([str(f["nodes"])] if paged else []),
             ",".join(f["kinds"]), human_bytes(f.get("size")), f.get("package") or "-"] for f in listed]
    return tabular(fmt, ["PATH", "TYPE", "CONTAINERS", *(["NODES"] if paged else []), "KINDS", "SIZE", "PACKAGE"],
                   rows)


def summary(server: Server, image: str, fmt: str) -> bytes:
    body = server.get(f"/api/v1/images/{image}/summary").json()
    if fmt in ("json", "yaml"):
        return structured(body, fmt)
    inv, used, unused, pk, cov = (body[k] for k in ("inventory", "used", "unused", "packages", "coverage"))
    refs = ", ".join(body["image"]["references"]) or "-"
    rows = [["IMAGE", f"{refs} ({body['image']['digest']})"]]
    if inv["files"] is None:
        rows.append(["INVENTORY", "none yet: an agent records it when it first runs a container of the image"])
    else:
        share = lambda part, whole: f" ({100 * part / whole:.0f}%)" if whole else ""  # noqa: E731
        rows += [
            ["INVENTORY", f"{count(inv['files'], 'file')}, {human_bytes(inv['bytes'])} (from {inv['source']})"],
            ["USED", f"{count(used['files'], 'file')}, {human_bytes(used['bytes'])}"
                     f"{share(used['bytes'], inv['bytes'])}"],
            ["UNUSED", f"{count(unused['files'], 'file')}, {human_bytes(unused['bytes'])}"
                       f"{share(unused['bytes'], inv['bytes'])}"],
            ["PACKAGES", f"{pk['total']:,}: {pk['used']:,} used, {pk['unused']:,} unused"],
        ]
        rows += [["UNREADABLE", f"{e['type']} {e['path']}: {e['reason']}"] for e in body["package_errors"]]
    created = body["runtime_created"]
    rows += [
        ["CREATED", f"{count(created['files'], 'file')} used at run time that the image does not hold"
                    if created is not None else "unknown until the inventory is recorded"],
        ["COVERAGE", f"{count(cov['instances'], 'container')} on {count(cov['nodes'], 'node')}, "
                     f"{cov['observed_seconds']:,}s observed ({cov['container_seconds']:,}s of container time)"],
        ["STABLE", stable_line(body["discovery"])],
    ]
    if fmt == "csv":
        return tabular(fmt, ["FIELD", "VALUE"], rows, flattened(body))
    return "".join(f"{k:<11}{v}\n" for k, v in rows).encode("utf-8", "surrogateescape")


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    return "".join(SPARKS[min(len(SPARKS) - 1, v * len(SPARKS) // (top + 1))] for v in values) if top else ""


def stable_line(found: dict[str, Any]) -> str:
    """When the last new file appeared, what ran since, and the discovery curve as a sparkline."""
    if found["stable_since"] is None:
        return "no file used yet"
    curve = sparkline([p["files"] for p in found["curve"]])
    return (f"no new file since {found['stable_since']}: {found['container_hours_since']:,} container-hours "
            f"on {count(found['nodes_since'], 'node')} since  {curve}")


def packages(server: Server, image: str, fmt: str, used: bool | None) -> bytes:
    params: dict[str, Any] = {"format": fmt if fmt in ("text", "csv") else "json"}
    if used is not None:
        params["used"] = str(used).lower()
    r = server.get(f"/api/v1/images/{image}/packages", params)
    if fmt in ("text", "csv"):
        return r.content
    if fmt in ("json", "yaml"):
        return structured(r.json(), fmt)
    rows = [[p["type"], p["name"], p["version"], str(p["files"]), human_bytes(p["bytes"]), str(p["used_files"]),
             human_bytes(p["used_bytes"])] for p in r.json()["packages"]]
    return tabular(fmt, ["TYPE", "NAME", "VERSION", "FILES", "BYTES", "USED FILES", "USED BYTES"], rows)


def diff(server: Server, base: str, head: str, fmt: str) -> tuple[bytes, int]:
    """The diff as asked, and how many files head uses that base does not (a gate for CI)."""
    if fmt == "text":
        text = server.get("/api/v1/diff", {"base": base, "head": head, "format": "text"}).content
        return text, sum(1 for line in text.splitlines() if line.startswith(b"+ "))
    body = server.get("/api/v1/diff", {"base": base, "head": head}).json()
    added = len(body["added"])
    if fmt in ("json", "yaml"):
        return structured(body, fmt), added
    if fmt == "csv":
        rows = [[change, p] for change in ("added", "removed") for p in body[change]]
        return tabular(fmt, ["CHANGE", "PATH"], rows), added
    lines = [f"base {body['base']}", f"head {body['head']}"]
    lines += [f"+ {p}" for p in body["added"]] + [f"- {p}" for p in body["removed"]]
    lines.append(f"{added} added, {len(body['removed'])} removed, {len(body['common'])} common")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"), added


VULN_FORMATS = ["table", "json", "yaml", "openvex"]
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


def vulns(server: Server, image: str, fmt: str, report: str | None, scanner: str | None) -> bytes:
    """Uploads ``report`` when given; prints the verdicts: by severity, then what is in use and why."""
    path = f"/api/v1/images/{image}/vulnerabilities"
    params = {"format": "openvex" if fmt == "openvex" else "json"} | ({"scanner": scanner} if scanner else {})
    if report is not None:
        try:
            body = Path(report).read_bytes()
        except OSError as exc:
            raise QueryError(f"cannot read {report}: {exc}") from exc
        answer = server.request("POST", path, params, body).json()
    else:
        answer = server.get(path, params).json()
    for warning in answer.get("warnings", []):
        print(f"snoop vulns: warning: {warning}", file=sys.stderr)
    if fmt in ("json", "yaml", "openvex"):
        return structured(answer, "json" if fmt == "openvex" else fmt)
    counts = answer["counts"]
    total = sum(sum(c.values()) for c in counts.values())
    in_use = sum(counts["in_use"].values())
    rows = [[sev, *(str(counts[v].get(sev, 0)) for v in ("in_use", "not_in_use", "unknown"))] for sev in SEVERITIES]
    lines = [f"{answer['image']['digest']}, scanned by {answer['scanner']}: {total} vulnerabilities, "
             f"{in_use} in use", "", table(["SEVERITY", "IN USE", "NOT IN USE", "UNKNOWN"], rows)]
    if answer.get("inventory") == "pending":
        lines.insert(1, "inventory pending: every verdict is unknown until an agent has recorded the image's files")
    if answer["in_use"]:
        used = [[e["id"], e["severity"], e["package"], e["version"], ", ".join(e["evidence"]["files"][:2])]
                for e in answer["in_use"]]
        lines.append(table(["IN USE", "SEVERITY", "PACKAGE", "VERSION", "USED FILES"], used))
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def verify(server: Server, image: str, fmt: str) -> tuple[bytes, bool]:
    """Whether a slim image ran on what it kept; True as the second value when it is broken."""
    body = server.get(f"/api/v1/images/{image}/verification").json()
    broken = body["status"] == "broken"
    if fmt in ("json", "yaml"):
        return structured(body, fmt), broken
    if fmt == "text":
        return "".join(m["path"] + "\n" for m in body["missing"]).encode("utf-8", "surrogateescape"), broken
    cov = body["coverage"]
    lines = [f"{body['image']}: {body['status'].upper()}, slimmed from {body['base']}",
             f"observed: {count(cov['instances'], 'container')} on {count(cov['nodes'], 'node')}, "
             f"{cov['observed_seconds']:,}s"]
    if not body["base_inventory"]:
        lines.append("the base's inventory is not recorded: misses cannot be told from optional probes yet")
    if body["missing"]:
        lines += ["", table(["MISSING", "IN THE BASE AT", "CONTAINERS", "LAST SEEN"],
                            [[m["path"], m["held_at"], str(m["containers"]), m["last_seen"] or "-"]
                             for m in body["missing"]]),
                  "", "snoop slim of the base keeps these from now on."]
    return "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n", broken


def sbom(server: Server, image: str, used: str) -> bytes:
    return server.get(f"/api/v1/images/{image}/sbom", {"used": used}).content


def workloads(server: Server, fmt: str, namespace: str | None) -> bytes:
    body = server.get("/api/v1/workloads", {"namespace": namespace} if namespace else None).json()
    if fmt in ("json", "yaml"):
        return structured(body, fmt)
    if fmt == "text":
        return "".join(f"{w['namespace']}/{w['name']}\n" for w in body["workloads"]).encode()
    rows = [[w["namespace"], w["name"], w["kind"], str(w["pods"]), str(w["containers"]), " ".join(w["images"]),
             w["last_seen"] or ("" if fmt == "csv" else "-")] for w in body["workloads"]]
    return tabular(fmt, ["NAMESPACE", "NAME", "KIND", "PODS", "CONTAINERS", "IMAGES", "LAST SEEN"], rows)


def harden(server: Server, workload: str, fmt: str) -> bytes:
    namespace, slash, name = workload.partition("/")
    if not slash or not namespace or not name:
        raise QueryError(f"a workload is NAMESPACE/NAME, not {workload!r}")
    path = f"/api/v1/workloads/{namespace}/{name}/hardening"
    if fmt == "yaml":
        return server.get(path, {"format": "yaml"}).content
    body = server.get(path).json()
    if fmt == "json":
        return structured(body, fmt)
    rows = [[c["name"], w["path"], str(w["files_written"]), "-" if w["image_files"] is None else str(w["image_files"])]
            for c in body["containers"] for w in c["writable"]]
    notes = "".join(f"note: {n}\n" for n in body["notes"])
    return tabular(fmt, ["CONTAINER", "WRITABLE", "FILES WRITTEN", "IMAGE FILES THERE"], rows) + notes.encode()


def write(out: bytes) -> None:
    """Every answer ends with a newline (an SBOM's JSON comes without one)."""
    sys.stdout.buffer.write(out if not out or out.endswith(b"\n") else out + b"\n")
    sys.stdout.flush()


def tls_context(ca: os.PathLike[str] | None) -> bool | ssl.SSLContext:
    return ssl.create_default_context(cafile=ca) if ca else True
