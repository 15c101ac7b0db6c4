"""Where an image's bytes go: its files grouped by directory, laid out as a squarified treemap.

The nodes come from the sums kept per directory (collector.reports.directories), never from the whole
inventory. Bruls, Huizing and van Wijk's squarified layout keeps rectangles close to squares, so that small
directories stay visible and clickable. Each rectangle is shaded by the share of its bytes that some
container used. Only the largest ``MAX_TILES`` children are drawn; the rest are summed into one tile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snoop.collector.reports.directories import Subtree

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


def nodes(sub: Subtree) -> list[Node]:
    """The shown directory's nodes, two levels deep: each directory in it with its own directories inside
    (and its own files as one tile that opens it), its largest files and the rest of its files as one
    tile. Sizes come from the inventory's sums; the used bytes and files from the used files below."""
    base = sub.shown.path.rstrip(b"/") + b"/"
    top: dict[bytes, Node] = {}
    inner: dict[bytes, dict[bytes, Node]] = {}  # first component -> second component (b"": own files) -> node
    for child in sub.children:
        first = child.path[len(base):]
        top[first] = Node(_name(first), child.path, child.bytes, 0, child.files, 0, True)
        kids = inner[first] = {}
        for grandchild in sub.grandchildren[child.path]:
            second = grandchild.path[len(child.path) + 1:]
            kids[second] = Node(_name(second), grandchild.path, grandchild.bytes, 0, grandchild.files, 0, True)
        if child.own_files:
            kids[b""] = Node(f"{child.own_files} files", child.path, child.own_bytes, 0, child.own_files, 0, True)
    for path, size in sub.largest_files:
        top[path[len(base):]] = Node(_name(path[len(base):]), path, size, 0, 1, 0)
    rest = Node(f"{sub.shown.own_files - len(sub.largest_files)} more files", base,
                sub.shown.own_bytes - sum(size for _, size in sub.largest_files),
                files=sub.shown.own_files - len(sub.largest_files))
    for path, size in sub.used:
        below = path[len(base):]
        cut = below.find(b"/")
        if cut < 0:
            _use(top.get(below, rest), size)
            continue
        first = below[:cut]
        deeper = below.find(b"/", cut + 1)
        _use(top[first], size)
        _use(inner[first][below[cut + 1 : deeper] if deeper >= 0 else b""], size)
    for first, kids in inner.items():
        top[first].inner = _top(list(kids.values()))
    return _top([*top.values(), *([rest] if rest.files else [])])


def _name(component: bytes) -> str:
    return component.decode("utf-8", "replace")


def _use(node: Node, size: int) -> None:
    node.used_bytes += size
    node.used_files += 1


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
