"""`make cluster` / `make cluster-down`: python -m tests.harness.cluster up|down DIR."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.harness.cluster import Cluster, binaries


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: python -m tests.harness.cluster up|down DIR", file=sys.stderr)
        return 2
    cluster = Cluster(Path(argv[1]).resolve(), binaries())
    if argv[0] == "down":
        cluster.down()
        print(f"cluster stopped (logs kept in {cluster.root}/logs)")
        return 0
    started = time.monotonic()
    try:
        cluster.up()
    except BaseException as exc:
        print(f"cluster did not come up: {exc}", file=sys.stderr)
        cluster.down()
        raise SystemExit(1) from exc
    print(f"cluster ready in {time.monotonic() - started:.0f} s; to use it:\n"
          f"  export KUBECONFIG={cluster.kubeconfig} PATH={cluster.root / 'bin'}:$PATH\n"
          f"  kubectl get nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
