"""Which scanner locations can place a finding: the conventions Trivy and Grype (syft) really write for
deb, apk, rpm, Python, npm, jar and Go binaries, from their documentation and their own test outputs."""

from __future__ import annotations

import pytest

from snoop.collector.vulns.locations import shared_metadata


@pytest.mark.parametrize("location", [
    "/var/lib/dpkg/status",                        # Grype: every deb package (primary evidence)
    "/var/lib/dpkg/status.d/libssl3",              # Grype: distroless images' per-package status files
    "/var/lib/dpkg/info/libssl3:amd64.md5sums",    # Grype: supporting evidence
    "/lib/apk/db/installed",                       # Grype: every apk package
    "/var/lib/rpm/rpmdb.sqlite",                   # Grype: every rpm package
    "/usr/lib/sysimage/rpm/Packages.db",
    "app/package-lock.json",                       # Trivy: a lock file's packages (its result's Target)
    "/app/yarn.lock", "srv/poetry.lock", "srv/Pipfile.lock", "srv/requirements.txt", "srv/requirements-dev.txt",
    "src/go.mod", "src/go.sum", "app/Gemfile.lock", "app/Cargo.lock", "app/pom.xml", "app/composer.lock",
    "app/MyApp.deps.json",
])
def test_shared_metadata_places_nothing(location: str) -> None:
    assert shared_metadata(location)


@pytest.mark.parametrize("location", [
    "/usr/share/doc/libssl3/copyright",                                        # Grype: a deb's own file
    "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",        # Trivy and Grype: Python
    "/usr/local/lib/python3.11/site-packages/idna-3.4.dist-info/RECORD",
    "/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
    "usr/local/lib/node_modules/npm/node_modules/semver/package.json",         # Trivy: npm's own manifest
    "/app/package.json",                                                        # the application itself
    "opt/app/app.jar", "/opt/app/app.jar:BOOT-INF/lib/jackson-databind-2.9.0.jar",  # Trivy, Grype: jars
    "usr/local/bin/coredns", "/usr/bin/kubectl",                                # Go binaries
])
def test_a_package_s_own_file_places_it(location: str) -> None:
    assert not shared_metadata(location)
