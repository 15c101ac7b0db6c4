"""``snoop images|files|diff``: questions to a collector's REST API, answered as tables, JSON or text."""

from __future__ import annotations

import json
import ssl
import sys
from typing import Any

import httpx


class QueryError(RuntimeError):
    pass


VERIFY: bool | ssl.SSLContext = True  # or a context trusting --tls-ca, for an https:// --server


def get(server: str, path: str, params: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(server.rstrip("/") + path, params=params, headers=headers, timeout=60, verify=VERIFY)
    except httpx.HTTPError as exc:
        raise QueryError(f"cannot reach the collector at {server}: {exc}") from exc
    if r.status_code != 200:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        raise QueryError(f"{r.status_code}: {detail}")
    return r


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), *(fmt(r) for r in rows)]) + "\n"


def images(server: str, fmt: str, token: str | None) -> str:
    body = get(server, "/api/v1/images", token=token).json()
    if fmt == "json":
        return json.dumps(body, indent=2) + "\n"
    if fmt == "text":
        return "".join(i["digest"] + "\n" for i in body["images"])
    rows = [[i["digest"], ", ".join(i["references"]) or "-", str(i["containers"]), str(i["files"]),
             i["last_seen"] or "-"] for i in body["images"]]
    return table(["DIGEST", "REFERENCES", "CONTAINERS", "FILES", "LAST SEEN"], rows)


def files(server: str, image: str, fmt: str, token: str | None, prefix: str | None, kinds: list[str]) -> bytes:
    params: dict[str, Any] = {"format": "text" if fmt == "text" else "json", "kind": kinds}
    if prefix:
        params["prefix"] = prefix
    r = get(server, f"/api/v1/images/{image}/files", params, token)
    if fmt == "text":
        return r.content
    if fmt == "json":
        return (json.dumps(r.json(), indent=2, ensure_ascii=True) + "\n").encode()
    rows = [[f["path"], str(f["containers"]), ",".join(f["kinds"])] for f in r.json()["files"]]
    return table(["PATH", "CONTAINERS", "KINDS"], rows).encode("utf-8", "surrogateescape")


def diff(server: str, base: str, head: str, fmt: str, token: str | None) -> tuple[bytes, int]:
    """The diff as asked, and how many files head uses that base does not (a gate for CI)."""
    if fmt == "text":
        text = get(server, "/api/v1/diff", {"base": base, "head": head, "format": "text"}, token).content
        return text, sum(1 for line in text.splitlines() if line.startswith(b"+ "))
    body = get(server, "/api/v1/diff", {"base": base, "head": head}, token).json()
    if fmt == "json":
        return (json.dumps(body, indent=2, ensure_ascii=True) + "\n").encode(), len(body["added"])
    lines = [f"base {body['base']}", f"head {body['head']}"]
    lines += [f"+ {p}" for p in body["added"]] + [f"- {p}" for p in body["removed"]]
    lines.append(f"{len(body['added'])} added, {len(body['removed'])} removed, {len(body['common'])} common")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"), len(body["added"])


def write(out: str | bytes) -> None:
    sys.stdout.buffer.write(out.encode() if isinstance(out, str) else out)
    sys.stdout.flush()
