"""The cluster's certificates, made by openssl: one CA, the API server's serving certificate, a client certificate
per component (its user and groups are what RBAC sees), and the key that signs service-account tokens."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _key(path: Path) -> Path:
    if not path.exists():
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    return path


class Authority:
    """A CA under ``root``: issues certificates once, keeps them across restarts of the cluster."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.ca = Pair(root / "ca.crt", _key(root / "ca.key"))
        if not self.ca.cert.exists():
            _openssl("req", "-x509", "-new", "-key", str(self.ca.key), "-subj", "/CN=snoop-cluster-ca", "-days",
                     "3650", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(self.ca.cert))

    def issue(self, name: str, common_name: str, *, groups: tuple[str, ...] = (), hosts: tuple[str, ...] = ()) -> Pair:
        """A certificate for ``common_name`` (the user), ``groups`` (its organisations) and, for a server,
        ``hosts`` (DNS names and IP addresses)."""
        pair = Pair(self.root / f"{name}.crt", _key(self.root / f"{name}.key"))
        if pair.cert.exists():
            return pair
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={common_name}"
        csr = self.root / f"{name}.csr"
        _openssl("req", "-new", "-key", str(pair.key), "-subj", subject, "-out", str(csr))
        extensions = self.root / f"{name}.ext"
        usage = "serverAuth,clientAuth" if hosts else "clientAuth"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage}"]
        if hosts:
            names = [f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}" for h in hosts]
            lines.append("subjectAltName=" + ",".join(names))
        extensions.write_text("\n".join(lines) + "\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca.cert), "-CAkey", str(self.ca.key),
                 "-CAcreateserial", "-days", "3650", "-extfile", str(extensions), "-out", str(pair.cert))
        csr.unlink()
        extensions.unlink()
        return pair

    def signing_key(self) -> Pair:
        """The service-account token signing key: the API server signs with the key, verifies with the public half."""
        key = _key(self.root / "sa.key")
        public = self.root / "sa.pub"
        if not public.exists():
            _openssl("pkey", "-in", str(key), "-pubout", "-out", str(public))
        return Pair(public, key)
