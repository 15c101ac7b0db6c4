"""Slim images from the evidence, proven by running them: each workload runs through the CRI under the real
agent, ``snoop slim`` builds from what it used, and the slim image runs the same command to the same output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from snoop.agent.inventory.packages import paragraphs
from snoop.common.oci import layout_tar, manifest_digest
from tests.conftest import SNOOP
from tests.e2e.conftest import Stack
from tests.e2e.test_inventory import wait_summary
from tests.harness.containerd import Containerd, Image, Pod
from tests.harness.images import busybox_rootfs

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]

DLOPEN_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
    void *z = dlopen("libz.so.1", RTLD_NOW);
    if (!z) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    const char *(*version)(void) = (const char *(*)(void))dlsym(z, "zlibVersion");
    printf("zlib %s\n", version());
    return 0;
}
"""
ENTRYPOINT = """#!/bin/sh
set -e
echo "as $(id -un) in $(pwd)"
python3 -c 'import json, sqlite3, zoneinfo, datetime, hashlib
print(sqlite3.connect(":memory:").execute("select 6*7").fetchone()[0])
print(datetime.datetime(2026, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")).utcoffset())
print(hashlib.sha256(b"snoop").hexdigest()[:12], json.dumps({"ok": True}))'
sort data.txt | head -n 2 | tr a-z A-Z
/app/dl
"""


def snoop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SNOOP), *args], capture_output=True, text=True, timeout=600)


def output(containerd: Containerd, pod: Pod, name: str = "app") -> str:
    """What the container wrote to stdout, from the CRI log (``<time> <stream> <tag> <text>`` lines)."""
    log = containerd.root / "logs" / pod.uid / f"{name}.log"
    return "".join(line.split(" ", 3)[3] + "\n" for line in log.read_text().splitlines()
                   if line.split(" ", 3)[1] == "stdout")


def run_to_end(containerd: Containerd, image: Image, command: list[str], name: str,
               seen: Callable[[], object] = lambda: None) -> tuple[int, str]:
    """Runs ``command`` to its end; the pod stays until ``seen`` returns (the agent names a container
    through the CRI, which forgets a removed one)."""
    pod = containerd.run_pod(name, {"app": (image, command)})
    try:
        code = containerd.wait_exited(pod.containers["app"], timeout_s=60)
        seen()
        return code, output(containerd, pod)
    finally:
        containerd.remove_pod(pod)


def slim(stack: Stack, containerd: Containerd, image: Image, tag: str, *extra: str) -> Image:
    done = snoop("slim", image.digest, "--server", stack.base, "--containerd", containerd.endpoint, "--tag", tag,
                 *extra)
    assert done.returncode == 0, done.stderr
    digest = done.stdout.strip().splitlines()[-1]
    assert digest.startswith("sha256:"), done.stdout
    return Image(tag, digest, f"{tag.rsplit(':', 1)[0]}@{digest}")


def layer_of(archive: Path) -> tarfile.TarFile:
    """The one layer of a slim image's OCI archive, opened."""
    with tarfile.open(archive) as outer:
        def blob(digest: str) -> bytes:
            member = outer.extractfile("blobs/sha256/" + digest.split(":", 1)[1])
            assert member is not None
            return member.read()
        index = json.loads(blob_of_index(outer))
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        layer = blob(manifest["layers"][0]["digest"])
    return tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz")


def blob_of_index(outer: tarfile.TarFile) -> bytes:
    member = outer.extractfile("index.json")
    assert member is not None
    return member.read()


def test_busybox_image_slimmed_runs_alike(stack: Stack, containerd: Containerd, tmp_path: Path) -> None:
    root = busybox_rootfs(tmp_path / "rootfs")
    (root / "etc/greeting").write_text("hello from the base\n")
    (root / "srv").mkdir()
    for name in ("a", "b"):
        (root / "srv" / name).write_text(name)
    (root / "opt").mkdir()
    (root / "opt/unused.bin").write_bytes(os.urandom(1 << 20))
    image = containerd.import_image("slim-bb", rootfs=root)
    command = ["/bin/sh", "-c", "cat /etc/greeting; ls /srv; echo done"]
    code, before = run_to_end(containerd, image, command, "slim-bb-1",
                              lambda: stack.wait_files(image.digest, {"/etc/greeting", "/srv"}))
    assert code == 0 and before == "hello from the base\na\nb\ndone\n"

    slimmed = slim(stack, containerd, image, "localhost/slim-bb:slim")
    code, after = run_to_end(containerd, slimmed, command, "slim-bb-2")
    assert (code, after) == (0, before)

    archive = tmp_path / "slim.tar"
    again = snoop("slim", image.digest, "--server", stack.base, "--containerd", containerd.endpoint,
                  "--output", str(archive))
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == slimmed.digest  # reproducible
    names = set(layer_of(archive).getnames())
    assert {"etc/greeting", "bin/busybox", "bin/sh", "srv"} <= names  # busybox sh runs cat as an applet
    assert "opt/unused.bin" not in names and "opt" not in names

    layout, out = tmp_path / "base-layout", tmp_path / "slim-layout"
    with tarfile.open(containerd.root / "build" / "slim-bb" / "image.tar") as tar:
        tar.extractall(layout)
    offline = snoop("slim", image.digest, "--server", stack.base, "--from-oci-layout", str(layout),
                    "--oci-layout", str(out))
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.strip().splitlines()[-1] == slimmed.digest  # the same image without containerd
    assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == slimmed.digest


def python_app_image(debian_rootfs: Path, tmp_path: Path) -> Path:
    """The Debian image with python3 and an app layer: a User named in the config, a WorkingDir, a
    #!/bin/sh entrypoint running coreutils, Python modules with C extensions, a zoneinfo file, and a C
    program that dlopens libz by its soname. Its OCI layout tar."""
    app = tmp_path / "app-layer"
    (app / "app").mkdir(parents=True)
    (app / "app/data.txt").write_text("pear\napple\nfig\n")
    (app / "app/run.sh").write_text(ENTRYPOINT)
    (app / "app/run.sh").chmod(0o755)
    source = tmp_path / "dl.c"
    source.write_text(DLOPEN_C)
    subprocess.run(["gcc", "-O2", "-o", str(app / "app/dl"), str(source), "-ldl"], check=True)
    (app / "etc").mkdir()
    (app / "etc/passwd").write_text((debian_rootfs / "etc/passwd").read_text() + "app:x:1000:1000::/app:/bin/sh\n")
    (app / "etc/group").write_text((debian_rootfs / "etc/group").read_text() + "app:x:1000:\n")
    return layout_tar([debian_rootfs, app], tmp_path, cmd=[],
                      runtime={"Entrypoint": ["/app/run.sh"], "User": "app", "WorkingDir": "/app"})


def test_debian_python_and_dlopen_slimmed_runs_alike(stack: Stack, containerd: Containerd, debian_rootfs: Path,
                                                     tmp_path: Path) -> None:
    tar = python_app_image(debian_rootfs, tmp_path)
    image = containerd.import_image("slim-py", tar=tar)
    assert manifest_digest(tar) == image.digest
    code, before = run_to_end(containerd, image, [], "slim-py-1",
                              lambda: stack.wait_files(image.digest, {"/app/dl", "/usr/bin/sort"}))
    assert code == 0 and before.startswith("as app in /app\n42\n2:00:00\n") and "zlib 1." in before

    slimmed = slim(stack, containerd, image, "localhost/slim-py:slim")
    code, after = run_to_end(containerd, slimmed, [], "slim-py-2")
    assert (code, after) == (0, before)

    archive = tmp_path / "slim.tar"
    assert snoop("slim", image.digest, "--server", stack.base, "--containerd", containerd.endpoint,
                 "--output", str(archive)).returncode == 0
    layer = layer_of(archive)
    members = layer.getmembers()
    kept = sum(m.size for m in members if m.isreg())
    base = sum(f.stat().st_size for f in debian_rootfs.rglob("*") if f.is_file() and not f.is_symlink())
    assert kept < base / 4, (kept, base)
    status = layer.extractfile("var/lib/dpkg/status").read().decode()  # type: ignore[union-attr]
    left = {fields["Package"] for _, fields in paragraphs(status)}
    assert {"python3.11-minimal", "libc6", "zlib1g", "coreutils"} <= left and "apt" not in left
    names = set(layer.getnames())
    for package in left:  # every package left owns a kept file
        listed = layer.extractfile(next(n for n in names if n.startswith(f"var/lib/dpkg/info/{package}")
                                        and n.endswith(".list"))).read().decode()  # type: ignore[union-attr]
        assert any(line.lstrip("/") in names for line in listed.splitlines()), package


def test_bad_input_is_a_clear_error_and_no_image(stack: Stack, containerd: Containerd, tmp_path: Path) -> None:
    unknown = snoop("slim", "nosuch/image:1", "--server", stack.base, "--containerd", containerd.endpoint)
    assert unknown.returncode == 1 and "nosuch/image:1" in unknown.stderr and "Traceback" not in unknown.stderr
    unused = containerd.import_image("slim-unused", rootfs=busybox_rootfs(tmp_path / "rootfs"))
    never = snoop("slim", unused.digest, "--server", stack.base, "--containerd", containerd.endpoint)
    assert never.returncode == 1 and "no image with digest or reference" in never.stderr  # never run: unknown
    image = containerd.import_image("slim-bad", rootfs=busybox_rootfs(tmp_path / "used"))
    assert run_to_end(containerd, image, ["/bin/cat", "/etc/passwd"], "slim-bad-1",
                      lambda: stack.wait_files(image.digest, {"/etc/passwd"}))[0] == 0
    unwritable = snoop("slim", image.digest, "--server", stack.base, "--containerd", containerd.endpoint,
                       "--output", "/proc/nope/slim.tar")
    assert unwritable.returncode == 1 and "/proc/nope/slim.tar" in unwritable.stderr
    missing = snoop("slim", image.digest, "--server", stack.base, "--containerd", containerd.endpoint,
                    "--include", "/not/in/the/image", "--output", str(tmp_path / "ok.tar"))
    assert missing.returncode == 0 and "warning: /not/in/the/image (--include) is not in the image" in missing.stderr
    layout = tmp_path / "layout"
    with tarfile.open(containerd.root / "build" / "slim-bad" / "image.tar") as tar:
        tar.extractall(layout)
    for blob in (layout / "blobs" / "sha256").iterdir():
        if blob.stat().st_size > 100_000:
            blob.unlink()  # a layer the store no longer has
    gone = snoop("slim", image.digest, "--server", stack.base, "--from-oci-layout", str(layout),
                 "--output", str(tmp_path / "never.tar"))
    assert gone.returncode == 1 and "no blob" in gone.stderr and not (tmp_path / "never.tar").exists()


def test_the_closed_loop_names_what_the_slim_image_lacks(stack: Stack, containerd: Containerd,
                                                         tmp_path: Path) -> None:
    """A second workload reads a file the first never did: it fails on the slim image, ``snoop verify``
    names exactly that file of the base (not the optional probe the base lacks too) and exits with
    --exit-code's code, and ``snoop slim`` again gives an image that runs it."""
    root = busybox_rootfs(tmp_path / "rootfs")
    (root / "etc/greeting").write_text("hello\n")
    (root / "etc/extra.conf").write_text("extra\n")
    base = containerd.import_image("loop-base", rootfs=root)
    pod = containerd.run_pod("loop-1", {"app": (base, ["/bin/sh", "-c", "cat /etc/greeting; sleep 600"])})
    try:  # the base's inventory tells a miss from an optional probe: it is taken while a container runs
        wait_summary(stack, base.digest)
        stack.wait_files(base.digest, {"/etc/greeting"})
    finally:
        containerd.remove_pod(pod)
    slimmed = slim(stack, containerd, base, "localhost/loop-base:slim")

    second = ["/bin/sh", "-c", "sleep 1; test -e /etc/optional.conf || true; cat /etc/greeting /etc/extra.conf"]
    code, _ = run_to_end(containerd, slimmed, second, "loop-2",
                         lambda: stack.wait_files(slimmed.digest, {"/etc/extra.conf"}))
    assert code != 0
    verdict = snoop("verify", slimmed.digest, "--server", stack.base, "--exit-code", "3", "-o", "json")
    assert verdict.returncode == 3, verdict.stderr
    body = json.loads(verdict.stdout)
    assert body["status"] == "broken" and body["base"] == base.digest
    assert [m["path"] for m in body["missing"]] == ["/etc/extra.conf"]  # /etc/optional.conf: not in the base
    table = snoop("verify", slimmed.digest, "--server", stack.base)
    assert table.returncode == 0 and "BROKEN" in table.stdout and "/etc/extra.conf" in table.stdout
    page = httpx.get(f"{stack.base}/images/{slimmed.digest}", timeout=10).text
    assert 'id="slim-status">broken<' in page and "/etc/extra.conf" in page
    assert slimmed.digest in httpx.get(f"{stack.base}/images/{base.digest}", timeout=10).text.split('id="slims"')[1]

    fixed = slim(stack, containerd, base, "localhost/loop-base:slim2")
    code, out = run_to_end(containerd, fixed, second, "loop-3")
    assert (code, out) == (0, "hello\nextra\n")
