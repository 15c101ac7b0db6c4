"""The deploy/ Dockerfiles built as a user builds them, by buildah (no daemon), into OCI archives.

Facts of this machine, and how the builds meet them without touching the Dockerfiles:
- base images cannot be pulled: the ``FROM`` image is made here by debootstrap and tagged with the name the
  Dockerfile asks for; the build runs with ``--pull=never``.
- PyPI is reached through a proxy whose CA only the host's bundle holds: each build mounts that bundle and a
  pip.conf naming it, read-only, for its RUN steps; neither ends up in an image.
Storage (overlay: about twice as fast as vfs here) and layers are cached under the test cache, so a rebuild
redoes only the steps after a changed COPY. The images build in parallel: most of their time is apt and pip.
"""

from __future__ import annotations

import fcntl
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.harness.debian import CACHE, debian_rootfs

STORE = CACHE / "buildah"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def buildah(*args: str) -> str:
    done = subprocess.run(["buildah", "--root", str(STORE / "root"), "--runroot", str(STORE / "run"),
                           "--storage-driver", "overlay", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args[:2])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


# As in Debian's official images: apt deletes the packages it downloaded once they are installed.
REMOVE_DEBS = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"'
APT_CLEAN = (f"DPkg::Post-Invoke {{ {REMOVE_DEBS}; }};\nAPT::Update::Post-Invoke {{ {REMOVE_DEBS}; }};\n"
             'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n')
# What Debian's official -slim images leave out (their /etc/dpkg/dpkg.cfg.d/docker): sizes measured on this base
# are those of a real bookworm-slim build, and apt inside the Dockerfiles keeps leaving them out.
SLIM = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/groff/*", "/usr/share/info/*", "/usr/share/lintian/*",
        "/usr/share/linda/*", "/usr/share/locale/*"]


def base_image(dockerfile: Path) -> str:
    """Makes the Dockerfile's FROM image (a Debian minbase, cleaned and slimmed as the official one) unless it is
    already in the store."""
    (base,) = {line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")}
    qualified = base if "/" in base else f"docker.io/library/{base}"
    if buildah("images", "--quiet", "--filter", f"reference={qualified}").strip():
        return qualified
    rootfs = debian_rootfs("bookworm-minbase", include="")
    container = buildah("from", "scratch").strip()
    try:
        mount = Path(buildah("mount", container).strip())
        subprocess.run(["cp", "-a", f"{rootfs}/.", str(mount)], check=True)
        subprocess.run(f"rm -rf {' '.join(str(mount) + p for p in SLIM)} {mount}/var/lib/apt/lists/* "
                       f"{mount}/var/cache/apt/*.bin", shell=True, check=True)
        (mount / "etc/dpkg/dpkg.cfg.d/docker").write_text("".join(f"path-exclude {p}\n" for p in SLIM))
        (mount / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
        subprocess.run(f"rm -rf {mount}/var/cache/apt/archives/*.deb", shell=True, check=True)
        buildah("config", "--cmd", '["bash"]', "--env", f"PATH={SYSTEM_PATH}", container)
        buildah("commit", "--quiet", container, qualified)
    finally:
        buildah("rm", container)
    return qualified


def build_images(repo: Path, dockerfiles: dict[str, Path]) -> dict[str, Path]:
    """``buildah bud`` of the repository per Dockerfile, tagged as the key says: each tag's OCI archive."""
    STORE.mkdir(parents=True, exist_ok=True)
    pip_conf = STORE / "pip.conf"
    pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
    with open(STORE / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for dockerfile in dockerfiles.values():
            base_image(dockerfile)
        with ThreadPoolExecutor(len(dockerfiles)) as pool:
            archives = pool.map(lambda item: build(repo, item[1], item[0], pip_conf), dockerfiles.items())
            return dict(zip(dockerfiles, archives, strict=True))


def build(repo: Path, dockerfile: Path, tag: str, pip_conf: Path) -> Path:
    archive = STORE / f"{tag.rsplit('/', 1)[-1].replace(':', '_')}.tar"
    buildah("bud", "--quiet", "--layers", "--pull=never", "--isolation", "chroot", "--network", "host",
            "--volume", f"{HOST_CA}:/run/host-ca.crt:ro", "--volume", f"{pip_conf}:/etc/pip.conf:ro",
            "--file", str(dockerfile), "--tag", tag, str(repo))
    archive.unlink(missing_ok=True)
    buildah("push", "--quiet", tag, f"oci-archive:{archive}:{tag}")
    return archive

