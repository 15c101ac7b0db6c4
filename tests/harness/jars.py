"""Real jar files, as Maven builds them (a manifest and pom.properties), and a Spring-Boot-style fat jar
holding one: what scanners identify by their metadata, not by name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def jar(group: str, artifact: str, version: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nImplementation-Title: {artifact}\n"
                                           f"Implementation-Version: {version}\n")
        z.writestr(f"META-INF/maven/{group}/{artifact}/pom.properties",
                   f"groupId={group}\nartifactId={artifact}\nversion={version}\n")
        z.writestr(f"{group.replace('.', '/')}/Main.class", b"\xca\xfe\xba\xbe")
    return buf.getvalue()


def fat_jar(path: Path, nested: dict[str, bytes]) -> None:
    """``path``: an application jar with ``nested`` jars under BOOT-INF/lib/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: app.Main\n")
        for name, data in nested.items():
            z.writestr(f"BOOT-INF/lib/{name}", data)
