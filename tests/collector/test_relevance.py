"""How a finding is placed in an image, looked at from inside: the keys it is matched by, the locations that
may prove it, and the packages and files it lands on (classify, through the API, is in test_vulnerabilities)."""

from __future__ import annotations

from snoop.collector.vulns.relevance import ImagePackages, image_path, name_key, place, proving_paths, purl_key
from snoop.collector.vulns.scans import Finding

PACKAGES = ImagePackages(
    by_purl={"pkg:pypi/pyyaml@6.0.1": {1}, "pkg:deb/debian/openssl@3.0.11-1": {2}},
    by_name={("python", "pyyaml", "6.0.1"): {1}, ("deb", "openssl", "3.0.11-1"): {2},
             ("java", "log4j-core", "2.14"): {3}},
    by_bare_name={("pyyaml", "6.0.1"): {1}, ("openssl", "3.0.11-1"): {2}, ("log4j-core", "2.14"): {3}},
)


def test_purls_compare_as_their_ecosystem_does() -> None:
    assert purl_key("pkg:pypi/PyYAML@6.0.1?arch=x86_64#sub") == "pkg:pypi/pyyaml@6.0.1"
    assert purl_key("pkg:pypi/zope_interface@6.1") == purl_key("pkg:pypi/zope.interface@6.1")
    assert purl_key("pkg:pypi/torch@2.1.0%2Bcpu") == "pkg:pypi/torch@2.1.0+cpu"
    assert purl_key("pkg:pypi/a@1.0") != purl_key("pkg:pypi/a@1-0")  # a version keeps its dots
    assert purl_key("pkg:deb/debian/OpenSSL@3.0.11-1?distro=bookworm") == "pkg:deb/debian/openssl@3.0.11-1"
    assert name_key("pip", "Zope_Interface", "6.1") == ("python", "zope-interface", "6.1")
    assert name_key("debian", "libssl3", "3.0.11-1") == ("deb", "libssl3", "3.0.11-1")


def test_locations_are_the_images_paths_and_metadata_proves_nothing() -> None:
    assert image_path("usr/lib/app.jar!/BOOT-INF/lib/log4j-core-2.14.jar") == b"/usr/lib/app.jar"
    assert image_path("/opt/outer.jar:inner.jar") == b"/opt/outer.jar"
    finding = Finding("CVE-1", "HIGH", "pip", "pyyaml", "6.0.1", paths=(
        "usr/lib/python3/dist-packages/yaml/__init__.py", "app/requirements.txt", "app/poetry.lock"))
    assert proving_paths(finding) == [b"/usr/lib/python3/dist-packages/yaml/__init__.py"]


def test_a_finding_lands_on_its_package_by_purl_then_name_then_bare_name() -> None:
    by_purl = Finding("CVE-1", "HIGH", "pip", "PyYAML", "6.0.1", purl="pkg:pypi/PyYAML@6.0.1")
    by_name = Finding("CVE-2", "HIGH", "debian", "openssl", "3.0.11-1")
    by_bare_name = Finding("CVE-3", "HIGH", "", "log4j-core", "2.14")
    nowhere = Finding("CVE-4", "LOW", "debian", "openssl", "1.1.1")
    assert place(by_purl, PACKAGES, {}).packages == {1}
    assert place(by_name, PACKAGES, {}).packages == {2}
    assert place(by_bare_name, PACKAGES, {}).packages == {3}
    assert place(nowhere, PACKAGES, {}).packages == set()


def test_a_named_file_places_the_finding_on_it_and_on_its_owners() -> None:
    finding = Finding("CVE-5", "CRITICAL", "jar", "log4j-core", "9.9", paths=("opt/app.jar!/lib/log4j.jar",))
    located = {b"/opt/app.jar": {-40, 3}}  # the file (path id 40), owned by package 3
    placed = place(finding, PACKAGES, located)
    assert (placed.files, placed.packages) == ({40}, {3})
