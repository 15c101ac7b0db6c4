"""Package databases as images hold them: a real Debian (debootstrap), real Python dist-info, and
Alpine, egg-info, npm and broken databases as fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from snoop.agent.inventory.packages import Package, read_packages
from snoop.agent.inventory.tree import ImageTree

SITE = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages"


def by_name(packages: list[Package]) -> dict[str, Package]:
    return {p.name: p for p in packages}


def tree_of(root: Path) -> ImageTree:
    return ImageTree([os.fsencode(root)])


def write(root: Path, rel: str, data: str = "") -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def test_debian_packages_own_their_files_in_a_merged_usr_image(debian_rootfs: Path) -> None:
    packages, errors = read_packages(tree_of(debian_rootfs), [])
    assert errors == []
    found = by_name(packages)
    sqlite = found["libsqlite3-0"]
    assert sqlite.type == "deb" and sqlite.purl.startswith("pkg:deb/debian/libsqlite3-0@3.40")
    assert "arch=amd64" in sqlite.purl and "distro=debian-12" in sqlite.purl
    assert b"/usr/lib/x86_64-linux-gnu/libsqlite3.so.0" in sqlite.files
    # dpkg lists /bin/ls; in a merged-/usr image the file is /usr/bin/ls, /bin a link to usr/bin
    assert (debian_rootfs / "bin").is_symlink()
    assert b"/usr/bin/ls" in found["coreutils"].files and b"/bin/ls" not in found["coreutils"].files
    assert b"/bin" not in found["base-files"].files  # a listed directory that is a link: no file
    assert len(packages) > 80 and "python3.11-minimal" in found


def test_a_corrupt_status_file_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path, "var/lib/dpkg/status", "Package: ok\nVersion: 1\n\nthis line is no field\n")
    write(tmp_path, "var/lib/dpkg/status.d/base", "Package: base\nVersion: 2\nArchitecture: amd64\n")
    write(tmp_path, "var/lib/dpkg/status.d/base.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/base\n")
    write(tmp_path, "var/lib/dpkg/status.d/nameless", "Version: 3\n")
    write(tmp_path, "etc/base")
    packages, errors = read_packages(tree_of(tmp_path), [])
    assert [(e.type, e.path, e.reason) for e in errors] == [
        ("deb", "/var/lib/dpkg/status", "unreadable: line 4: not a 'Field: value' line"),
        ("deb", "/var/lib/dpkg/status.d/nameless", "a stanza without Package or Version: skipped"),
    ]
    assert by_name(packages)["base"].files == [b"/etc/base"]  # distroless: status.d and its md5sums


def test_alpine_installed_database(tmp_path: Path) -> None:
    write(tmp_path, "etc/os-release", 'ID=alpine\nVERSION_ID=3.20.3\n')
    write(tmp_path, "lib/apk/db/installed", "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nF:lib\nR:ld-musl-x86_64.so.1\n"
          "R:libc.musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\nF:bin\nR:busybox\nF:etc\nR:securetty\n\n"
          "P:broken\n")
    packages, errors = read_packages(tree_of(tmp_path), [])
    found = by_name(packages)
    assert found["musl"].files == [b"/lib/ld-musl-x86_64.so.1", b"/lib/libc.musl-x86_64.so.1"]
    assert found["busybox"].files == [b"/bin/busybox", b"/etc/securetty"]
    assert found["musl"].purl == "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=3.20.3"
    assert [e.reason for e in errors] == ["a record without P or V: skipped"]


def test_python_dist_info_record_and_egg_info(tmp_path: Path) -> None:
    real = next(SITE.glob("fastapi-*.dist-info"))
    site = tmp_path / "usr/lib/python3/site-packages"
    site.mkdir(parents=True)
    shutil.copytree(real, site / real.name)  # a real RECORD
    egg = write(site, "legacy.egg-info/installed-files.txt", "../legacy/__init__.py\nPKG-INFO\n")
    write(site, "legacy.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: Legacy_Pkg\nVersion: 0.9\n")
    record = Path("/usr/lib/python3/site-packages") / real.name / "RECORD"
    packages, errors = read_packages(tree_of(tmp_path), [os.fsencode(record),
                                                         b"/" + os.fsencode(egg.relative_to(tmp_path))])
    assert errors == []
    found = by_name(packages)
    fastapi = found["fastapi"]
    assert fastapi.type == "python" and fastapi.purl.startswith("pkg:pypi/fastapi@")
    assert b"/usr/lib/python3/site-packages/fastapi/__init__.py" in fastapi.files
    legacy = found["Legacy_Pkg"]
    assert legacy.purl == "pkg:pypi/legacy-pkg@0.9"
    assert legacy.files == [b"/usr/lib/python3/site-packages/legacy/__init__.py",
                            b"/usr/lib/python3/site-packages/legacy.egg-info/PKG-INFO"]


def test_npm_packages_own_their_directory_but_not_nested_packages(tmp_path: Path) -> None:
    app = "app/node_modules"
    write(tmp_path, f"{app}/express/package.json", '{"name": "express", "version": "4.19.2"}')
    write(tmp_path, f"{app}/express/index.js")
    write(tmp_path, f"{app}/express/node_modules/@types/node/package.json", '{"name": "@types/node", "version": "20"}')
    write(tmp_path, f"{app}/express/node_modules/@types/node/index.d.ts")
    write(tmp_path, f"{app}/bad/package.json", "{not json")
    found = [b"/" + os.fsencode(p.relative_to(tmp_path)) for p in tmp_path.rglob("package.json")]
    packages, errors = read_packages(tree_of(tmp_path), found)
    by = by_name(packages)
    assert sorted(by["express"].files) == [b"/app/node_modules/express/index.js",
                                           b"/app/node_modules/express/package.json"]
    assert by["@types/node"].purl == "pkg:npm/%40types/node@20"
    assert [(e.type, e.path.endswith("bad/package.json")) for e in errors] == [("npm", True)]


def test_rpm_databases_are_named_not_read(tmp_path: Path) -> None:
    write(tmp_path, "var/lib/rpm/rpmdb.sqlite", "SQLite format 3")
    packages, errors = read_packages(tree_of(tmp_path), [])
    assert packages == [] and [(e.type, e.path) for e in errors] == [("rpm", "/var/lib/rpm/rpmdb.sqlite")]
