"""The treemap's layout without a browser: tiles fill their rectangle in proportion to bytes, never overlap,
stay close to squares, and a directory's children are laid inside it below its label."""

from __future__ import annotations

import itertools

import pytest

from snoop.collector.web.treemap import Node, Tile, nested, shade, squarify


def node(name: str, size: int, inner: list[Node] | None = None) -> Node:
    return Node(name, b"/" + name.encode(), bytes=size, is_dir=inner is not None, inner=inner or [])


SIZES = [5000, 3000, 1200, 800, 400, 300, 200, 50, 30, 20]


def inside(t: Tile, x: float, y: float, w: float, h: float, eps: float = 1e-9) -> bool:
    return t.x >= x - eps and t.y >= y - eps and t.x + t.w <= x + w + eps and t.y + t.h <= y + h + eps


def overlap(a: Tile, b: Tile) -> float:
    dx = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    dy = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(dx, 0) * max(dy, 0)


@pytest.mark.parametrize(("w", "h"), [(800, 500), (300, 900), (100, 100)])
def test_tiles_fill_the_rectangle_in_proportion_to_bytes(w: float, h: float) -> None:
    tiles = squarify([node(f"n{i}", s) for i, s in enumerate(SIZES)], 10, 20, w, h)
    assert [t.node.bytes for t in tiles] == SIZES
    total = sum(SIZES)
    for t in tiles:
        assert t.w * t.h == pytest.approx(w * h * t.node.bytes / total)
        assert inside(t, 10, 20, w, h)
    assert all(overlap(a, b) < 1e-6 for a, b in itertools.combinations(tiles, 2))


def test_tiles_stay_closer_to_squares_than_slices() -> None:
    """The point of squarifying: the worst aspect ratio beats slicing the strip in one direction."""
    tiles = squarify([node(f"n{i}", s) for i, s in enumerate(SIZES)], 0, 0, 800, 500)
    worst = max(max(t.w / t.h, t.h / t.w) for t in tiles)
    sliced = max(max(800 * s / sum(SIZES) / 500, 500 / (800 * s / sum(SIZES))) for s in SIZES)
    assert worst < sliced / 10


def test_nothing_to_draw_gives_no_tiles() -> None:
    assert squarify([node("empty", 0), node("also", 0)], 0, 0, 100, 100) == []
    assert squarify([node("a", 10)], 0, 0, 0, 100) == []
    assert [t.node.name for t in squarify([node("empty", 0), node("a", 10)], 0, 0, 100, 100)] == ["a"]


def test_a_directory_holds_its_children_below_its_label() -> None:
    usr = node("usr", 9000, [node("lib", 6000), node("bin", 3000)])
    tiles = squarify([usr, node("etc", 1000)], 0, 0, 600, 400)
    inner = nested(tiles, header=16, pad=2)
    outer = tiles[0]
    assert [t.node.name for t in inner] == ["lib", "bin"]
    assert all(inside(t, outer.x + 2, outer.y + 16, outer.w - 4, outer.h - 18) for t in inner)
    small = squarify([node("tiny", 10, [node("x", 10)])], 0, 0, 60, 30)  # too small to open
    assert nested(small) == []


def test_the_more_used_the_deeper_the_green() -> None:
    def lightness(share: float) -> int:
        return int(shade(share).split(",")[2].strip(" %)"))

    shares = [0.0, 0.01, 0.1, 0.5, 1.0]
    assert [lightness(s) for s in shares] == sorted((lightness(s) for s in shares), reverse=True)
    assert lightness(0.01) < lightness(0.0) - 3  # a few percent used still shows (square-root scale)
    assert shade(-1) == shade(0) and shade(2) == shade(1)
