"""Which package owns which file, as the image's own databases say: dpkg, apk, Python and npm.

Each reader takes the image's tree and returns packages with the files they own, in canonical paths
(a dpkg list names ``/lib/x86_64-linux-gnu/libc.so.6``; in a merged-/usr image the file lives under
``/usr/lib``). A database that cannot be read, whole or in part, becomes a ``PackageError``: the
inventory never stops for it. RPM databases are found and named, not read (no maintained pure-Python
reader exists; librpm's bindings would tie the agent to one distribution's librpm).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from snoop.agent.inventory.tree import Tree, files_under

MAX_DB_BYTES = 256 * 2**20  # a package database larger than this is not read whole
MAX_META_BYTES = 2**20
RPM_DATABASES = (b"/var/lib/rpm/rpmdb.sqlite", b"/var/lib/rpm/Packages", b"/var/lib/rpm/Packages.db",
                 b"/usr/lib/sysimage/rpm/rpmdb.sqlite", b"/usr/lib/sysimage/rpm/Packages.db")


@dataclass
class Package:
    type: str
    name: str
    version: str
    purl: str
    files: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class PackageError:
    type: str
    path: str
    reason: str


Found = tuple[list[Package], list[PackageError]]


def purl(type_: str, namespace: str, name: str, version: str, qualifiers: dict[str, str] | None = None) -> str:
    """A package URL (github.com/package-url/purl-spec): segments percent-encoded, qualifiers sorted."""
    parts = f"pkg:{type_}/" + (quote(namespace, safe="") + "/" if namespace else "") + quote(name, safe="")
    if version:
        parts += "@" + quote(version, safe="")
    q = {k: v for k, v in (qualifiers or {}).items() if v}
    if q:
        parts += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(q.items()))
    return parts


def paragraphs(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Debian control-style stanzas: (first line number, fields); continuation lines are appended."""
    fields: dict[str, str] = {}
    start = 1
    last = ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                yield start, fields
            fields, start = {}, number + 1
            continue
        if line[0] in " \t" and last:
            fields[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"line {number}: not a 'Field: value' line")
        last = key.strip()
        fields[last] = value.strip()
    if fields:
        yield start, fields


class Canonical:
    """Paths as the image stores them, with the directories on the way resolved (cached per directory).
    A listed directory that the image holds as a link to one (``/bin`` -> ``usr/bin``) is no file of the
    package's: it becomes None."""

    def __init__(self, tree: Tree) -> None:
        self._tree = tree
        self._dirs: dict[bytes, bytes] = {}

    def __call__(self, path: bytes) -> bytes | None:
        directory, name = os.path.split(os.path.normpath(path))
        real = self._dirs.get(directory)
        if real is None:
            real = self._dirs[directory] = self._tree.resolve(directory)
        out = os.path.join(real, name)
        entry = self._tree.lookup(out)
        if entry is not None and stat.S_ISLNK(entry.st.st_mode) and self._tree.is_dir(out):
            return None
        return out

    def all(self, paths: Iterable[bytes]) -> list[bytes]:
        return [p for p in map(self, paths) if p is not None]


def _os_release(tree: Tree) -> dict[str, str]:
    raw = tree.read(b"/etc/os-release", MAX_META_BYTES) or tree.read(b"/usr/lib/os-release", MAX_META_BYTES) or b""
    out = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def _text(tree: Tree, path: bytes) -> str | None:
    raw = tree.read(path, MAX_DB_BYTES)
    return None if raw is None else raw.decode("utf-8", "replace")


def dpkg(tree: Tree, canonical: Canonical) -> Found:
    """/var/lib/dpkg/status with info/<name>[:arch].list, and distroless's status.d/ with its md5sums."""
    os_release = _os_release(tree)
    distro = os_release.get("ID", "debian")
    qualifier = f"{distro}-{os_release['VERSION_ID']}" if "VERSION_ID" in os_release else ""
    packages: list[Package] = []
    errors: list[PackageError] = []

    def add(fields: dict[str, str], where: str, lists: Iterable[tuple[bytes, bool]]) -> None:
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version:
            errors.append(PackageError("deb", where, "a stanza without Package or Version: skipped"))
            return
        arch = fields.get("Architecture", "")
        package = Package("deb", name, version, purl("deb", distro, name, version,
                                                      {"arch": arch, "distro": qualifier}))
        for list_path, md5sums in lists:
            text = _text(tree, list_path)
            if text is None:
                continue
            entries = (line.split(None, 1)[1] if md5sums and " " in line else line for line in text.splitlines())
            package.files = canonical.all(b"/" + os.fsencode(e.strip()).lstrip(b"/") for e in entries if e.strip())
            break
        packages.append(package)

    status = _text(tree, b"/var/lib/dpkg/status")
    if status is not None:
        try:
            for line, fields in paragraphs(status):
                if not fields.get("Status", "install ok installed").endswith(" installed"):
                    continue
                name, arch = fields.get("Package", ""), fields.get("Architecture", "")
                info = b"/var/lib/dpkg/info/"
                add(fields, f"/var/lib/dpkg/status:{line}",
                    [(info + os.fsencode(f"{name}:{arch}.list"), False), (info + os.fsencode(f"{name}.list"), False)])
        except ValueError as exc:
            errors.append(PackageError("deb", "/var/lib/dpkg/status", f"unreadable: {exc}"))
    status_d = b"/var/lib/dpkg/status.d"
    for entry in tree.listdir(status_d):
        if entry.endswith(b".md5sums"):
            continue
        where = os.fsdecode(status_d + b"/" + entry)
        try:
            stanzas = list(paragraphs(_text(tree, status_d + b"/" + entry) or ""))
        except ValueError as exc:
            errors.append(PackageError("deb", where, f"unreadable: {exc}"))
            continue
        for _line, fields in stanzas:
            add(fields, where, [(status_d + b"/" + entry + b".md5sums", True)])
    return packages, errors


def apk(tree: Tree, canonical: Canonical) -> Found:
    """/lib/apk/db/installed: P name, V version, A arch, F directory, R file in the last F."""
    text = _text(tree, b"/lib/apk/db/installed")
    if text is None:
        return [], []
    distro = _os_release(tree).get("VERSION_ID", "")
    packages: list[Package] = []
    errors: list[PackageError] = []
    fields: dict[str, str] = {}
    files: list[bytes] = []
    directory = b""

    def flush(line: int) -> None:
        if not fields:
            return
        if "P" not in fields or "V" not in fields:
            errors.append(PackageError("apk", f"/lib/apk/db/installed:{line}", "a record without P or V: skipped"))
            return
        packages.append(Package("apk", fields["P"], fields["V"],
                                purl("apk", "alpine", fields["P"], fields["V"],
                                     {"arch": fields.get("A", ""), "distro": distro}), canonical.all(files)))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            flush(number)
            fields, files, directory = {}, [], b""
            continue
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            errors.append(PackageError("apk", f"/lib/apk/db/installed:{number}", "not a 'X:value' line"))
            continue
        if key == "F":
            directory = os.fsencode(value)
        elif key == "R":
            files.append(b"/" + (directory + b"/" if directory else b"") + os.fsencode(value))
        else:
            fields.setdefault(key, value)
    flush(len(text.splitlines()))
    return packages, errors


def _metadata(tree: Tree, path: bytes) -> dict[str, str]:
    raw = tree.read(path, MAX_META_BYTES)
    if raw is None:
        return {}
    head = raw.decode("utf-8", "replace").split("\n\n", 1)[0]
    out: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            out.setdefault(key.strip(), value.strip())
    return out


def python(tree: Tree, canonical: Canonical, found: Iterable[bytes]) -> Found:
    """``*.dist-info/RECORD`` (paths relative to the directory holding the dist-info) and
    ``*.egg-info/installed-files.txt`` (relative to the egg-info)."""
    packages: list[Package] = []
    errors: list[PackageError] = []
    for path in found:
        meta_dir = os.path.dirname(path)
        egg = path.endswith(b"/installed-files.txt")
        meta = _metadata(tree, meta_dir + (b"/PKG-INFO" if egg else b"/METADATA"))
        stem = os.path.basename(meta_dir).rsplit(b".", 1)[0].decode("utf-8", "replace")
        name = meta.get("Name") or stem.split("-")[0]
        version = meta.get("Version") or (stem.split("-")[1] if "-" in stem else "")
        text = _text(tree, path)
        if text is None:
            errors.append(PackageError("python", os.fsdecode(path), "unreadable"))
            continue
        base = meta_dir if egg else os.path.dirname(meta_dir)
        package = Package("python", name, version,
                          purl("pypi", "", name.lower().replace("_", "-"), version))
        try:
            rows = [line.strip() for line in text.splitlines()] if egg \
                else [row[0] for row in csv.reader(io.StringIO(text)) if row]
        except csv.Error as exc:
            errors.append(PackageError("python", os.fsdecode(path), f"unreadable: {exc}"))
            continue
        package.files = canonical.all(base + b"/" + os.fsencode(r) for r in rows if r)
        packages.append(package)
    return packages, errors


def npm(tree: Tree, found: Iterable[bytes]) -> Found:
    """``node_modules/[@scope/]name/package.json``: the package owns its directory but for the packages
    nested in its own ``node_modules``."""
    packages: list[Package] = []
    errors: list[PackageError] = []
    for path in found:
        raw = tree.read(path, MAX_META_BYTES)
        try:
            meta = json.loads(raw or b"")
            name, version = meta["name"], meta.get("version", "")
            if not isinstance(name, str) or not isinstance(version, str):
                raise TypeError("name and version must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(PackageError("npm", os.fsdecode(path), f"unreadable package.json: {exc}"))
            continue
        scope, _, bare = name.rpartition("/")
        package = Package("npm", name, version, purl("npm", scope, bare, version))
        package.files = list(files_under(tree, os.path.dirname(path), skip=b"node_modules"))
        packages.append(package)
    return packages, errors


def rpm(tree: Tree) -> Found:
    """Named, not read: see the module's docstring."""
    for path in RPM_DATABASES:
        if tree.lookup(path) is not None:
            return [], [PackageError("rpm", os.fsdecode(path),
                                     "RPM databases are not read: its packages and their files are left out")]
    return [], []


def is_language_db(path: bytes) -> bool:
    """Whether the walk should hand ``path`` to ``python`` or ``npm`` once it is done."""
    if path.endswith((b".dist-info/RECORD", b".egg-info/installed-files.txt")):
        return True
    if not path.endswith(b"/package.json"):
        return False
    parts = path.split(b"/")
    return len(parts) >= 4 and (parts[-3] == b"node_modules" or
                                (len(parts) >= 5 and parts[-4] == b"node_modules" and parts[-3].startswith(b"@")))


def read_packages(tree: Tree, language_dbs: list[bytes]) -> Found:
    """Every package the image's databases name; language databases as the walk found them."""
    canonical = Canonical(tree)
    packages: list[Package] = []
    errors: list[PackageError] = []
    for found in (dpkg(tree, canonical), apk(tree, canonical), rpm(tree),
                  python(tree, canonical, [p for p in language_dbs if not p.endswith(b"package.json")]),
                  npm(tree, [p for p in language_dbs if p.endswith(b"package.json")])):
        packages += found[0]
        errors += found[1]
    return packages, errors
