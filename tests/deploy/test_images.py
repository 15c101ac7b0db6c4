"""The translation of pod templates into CRI calls (tests/deploy/kubelet.py), which bench/images.py uses to measure the
images as the manifests run them, without a cluster's own processes in the figures. That the images run as the
manifests say on a real kubelet is tests/cluster's; what stays here is that the translation cannot silently skip a
field: a manifest field it does not know fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.kubelet import Node, UnknownField, plan
from tests.deploy.manifests import template


def test_a_field_the_translation_does_not_know_fails(tmp_path: Path) -> None:
    pod = template("Deployment", "snoop-collector")
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    with pytest.raises(UnknownField, match="lifecycle"):
        plan(pod, "x", "snoop-system", "uid", Node(name="n", scratch=tmp_path))
