"""Scanner locations that prove nothing about one package: databases and lock files shared by many.

Grype locates every deb package at ``/var/lib/dpkg/status`` and every apk at ``/lib/apk/db/installed``;
Trivy names a lock file as the place of every package it lists. Such a file is in the image whether or
not the package is, and nobody runs it: placing a finding there would turn "we cannot find this
package" into "not in use". A package's own files (a ``.dist-info/METADATA``, a ``package.json`` under
``node_modules``, a jar, a Go binary, a copyright file under ``/usr/share/doc/<package>``) do place it.
"""

from __future__ import annotations

import fnmatch
import os

# Package managers' databases, shared by every package they hold.
_DATABASE_GLOBS = (
    "/var/lib/dpkg/status", "/var/lib/dpkg/status-old", "/var/lib/dpkg/available", "/var/lib/dpkg/status.d/*",
    "/var/lib/dpkg/info/*", "/lib/apk/db/*", "/var/lib/apk/db/*", "/var/lib/rpm/*", "/usr/lib/sysimage/rpm/*",
    "/usr/share/rpm/*", "/var/lib/pacman/local/*", "/var/lib/opkg/status", "/usr/lib/opkg/status",
)
# Lock files and manifests that list the packages of a whole project.
_LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "Pipfile.lock",
    "poetry.lock", "uv.lock", "pdm.lock", "conda-lock.yml", "go.mod", "go.sum", "Gemfile.lock", "Cargo.lock",
    "composer.lock", "packages.lock.json", "pom.xml", "gradle.lockfile", "mix.lock", "pubspec.lock",
    "Podfile.lock", "Package.resolved", "conan.lock", "deps.json",
})


def shared_metadata(location: str) -> bool:
    """Whether a scanner's location is a package database or a lock file (``/`` prefix optional)."""
    path = "/" + location.lstrip("/")
    name = os.path.basename(path)
    if name in _LOCK_FILES or name.endswith(".deps.json"):
        return True
    if name.startswith("requirements") and name.endswith((".txt", ".in")):
        return True
    return any(fnmatch.fnmatchcase(path, glob) for glob in _DATABASE_GLOBS)
