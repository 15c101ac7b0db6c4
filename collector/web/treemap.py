"""Where an image's bytes go: its files grouped by directory, laid out as a squarified treemap.

Bruls, Huizing and van Wijk's squarified layout keeps rectangles close to squares, so that small
directories stay visible and clickable. Each rectangle is shaded by the share of its bytes that some
container used. Only the largest ``MAX_TILES`` children are drawn; the rest are summed into one tile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_TILES = 40


@dataclass
class Node:
    name: str
    path: bytes          # absolute path of the directory or file
    bytes: int = 0
    used_bytes: int = 0
    files: int = 0
    used_files: int = 0
    is_dir: bool = False
    inner: list[Node] = field(default_factory=list)  # its own children, one level down

    @property
    def used_share(self) -> float:
        return self.used_bytes / self.bytes if self.bytes else (1.0 if self.used_files else 0.0)


@dataclass(frozen=True)
class Tile:
    node: Node
    x: float
    y: float
    w: float
    h: float


def children(rows: Iterable[tuple[bytes, int, bool]], directory: bytes) -> list[Node]:
    """Files (path, size, used) under ``directory`` summed by their first component below it, and each
    directory's subdirectories one level down (``inner``; its own files as one tile): two levels in one
    pass over the rows, summed in plain lists (a Node per row would cost most of a 100,000-file page)."""
    base = directory.rstrip(b"/") + b"/"
    start = len(base)
    # (first, second or None) -> [bytes, used bytes, files, used files, deeper]
    sums: dict[tuple[bytes, bytes | None], list[int]] = {}
    for path, size, used in rows:
        if not path.startswith(base):
            continue
        cut = path.find(b"/", start)
        if cut < 0:
            key: tuple[bytes, bytes | None] = (path[start:], None)
            deeper = 0
        else:  # one level down, subdirectories by name and the files of the directory together (b"")
            below = path.find(b"/", cut + 1)
            key = (path[start:cut], path[cut + 1 : below] if below >= 0 else b"")
            deeper = 1 if below >= 0 else 0
        entry = sums.get(key)
        if entry is None:
            entry = sums[key] = [0, 0, 0, 0, 0]
        entry[0] += size
        entry[2] += 1
        if used:
            entry[1] += size
            entry[3] += 1
        entry[4] |= deeper
    nodes: dict[bytes, Node] = {}
    inner: dict[bytes, list[Node]] = {}
    for (first, second), (size, used_size, files, used_files, deeper) in sums.items():
        node = nodes.get(first)
        if node is None:
            node = nodes[first] = Node(first.decode("utf-8", "replace"), base + first)
        node.bytes += size
        node.used_bytes += used_size
        node.files += files
        node.used_files += used_files
        if second is not None:
            node.is_dir = True
            name = second.decode("utf-8", "replace") if second else f"{files} files"
            path = base + first + b"/" + second if second else base + first
            link = bool(deeper) or not second  # a directory's own files open that directory
            inner.setdefault(first, []).append(Node(name, path, size, used_size, files, used_files, link))
    for first, kids in inner.items():
        nodes[first].inner = _top(kids)
    return _top(list(nodes.values()))


def _top(nodes: list[Node]) -> list[Node]:
    """The largest ``MAX_TILES``, the rest summed into one."""
    ordered = sorted(nodes, key=lambda n: (-n.bytes, n.path))
    if len(ordered) <= MAX_TILES:
        return ordered
    rest = Node(f"{len(ordered) - MAX_TILES + 1} more", ordered[0].path.rsplit(b"/", 1)[0] + b"/")
    for n in ordered[MAX_TILES - 1:]:
        rest.bytes += n.bytes
        rest.used_bytes += n.used_bytes
        rest.files += n.files
        rest.used_files += n.used_files
    return [*ordered[: MAX_TILES - 1], rest]


def deepest_common_directory(rows: list[tuple[bytes, int, bool]], directory: bytes) -> bytes:
    """The deepest directory holding every row, at or below ``directory``: a treemap of ``/`` whose files
    all lie under ``/usr/lib`` starts there (min and max bound the common prefix of a sorted set)."""
    if not rows:
        return directory
    low, high = min(r[0] for r in rows), max(r[0] for r in rows)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    common = low[:n]
    if not (low[n : n + 1] == b"/" and high[n : n + 1] == b"/"):  # cut back to a whole directory name
        common = common[: common.rfind(b"/")]
    return common if common.startswith(directory.rstrip(b"/")) and len(common) > len(directory.rstrip(b"/")) \
        else directory


def _worst(row: list[float], side: float) -> float:
    total = sum(row)
    return max(max(side * side * r / (total * total), total * total / (side * side * r)) for r in row)


def squarify(nodes: list[Node], x: float, y: float, w: float, h: float) -> list[Tile]:
    """Tiles for ``nodes`` (largest first) filling the rectangle, in proportion to their bytes."""
    items = [n for n in nodes if n.bytes > 0]
    total = sum(n.bytes for n in items)
    if not items or w <= 0 or h <= 0:
        return []
    scale = w * h / total
    areas = [n.bytes * scale for n in items]
    tiles: list[Tile] = []
    start = 0
    while start < len(items):
        side = min(w, h)
        end = start + 1
        while end < len(items) and _worst(areas[start:end + 1], side) <= _worst(areas[start:end], side):
            end += 1
        row = areas[start:end]
        thickness = sum(row) / side
        offset = 0.0
        for node, area in zip(items[start:end], row, strict=True):
            length = area / thickness
            if w >= h:  # lay the row along the left edge, top to bottom
                tiles.append(Tile(node, x, y + offset, thickness, length))
            else:       # along the top edge, left to right
                tiles.append(Tile(node, x + offset, y, length, thickness))
            offset += length
        if w >= h:
            x, w = x + thickness, w - thickness
        else:
            y, h = y + thickness, h - thickness
        start = end
    return tiles


def nested(tiles: list[Tile], header: float = 16, pad: float = 2, min_side: float = 40) -> list[Tile]:
    """Each directory tile's own children, laid out inside it below its label: the second level."""
    out: list[Tile] = []
    for t in tiles:
        if t.node.inner and t.w > 2 * min_side and t.h > min_side + header:
            out += squarify(t.node.inner, t.x + pad, t.y + header, t.w - 2 * pad, t.h - header - pad)
    return out


def shade(share: float) -> str:
    """Unused: pale grey; the more of a tile was used, the deeper its green. On a square-root scale, so
    that the few percent an image typically uses still show."""
    share = max(0.0, min(1.0, share)) ** 0.5
    lightness = 90 - 50 * share
    saturation = 8 + 52 * share
    return f"hsl(140, {saturation:.0f}%, {lightness:.0f}%)"
