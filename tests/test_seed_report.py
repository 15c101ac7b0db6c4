"""The seed report is written and read in one module: what the writer puts down, the reader gives back."""

from __future__ import annotations

import json

import pytest

from snoop.common.file_types import DIR, MISSING, RUNTIME, UNKNOWN
from snoop.common.seed_report import ReportError, container_entry, pod_report, read_report

T0, T1 = 1_764_000_000_000_000_000, 1_764_000_300_000_000_000  # whole seconds: the format keeps no less


def test_what_is_written_reads_back() -> None:
    paths = [(b"/bin/sh", UNKNOWN), (b"/caf\xe9", UNKNOWN), (b"/etc", DIR), (b"/etc/hosts", RUNTIME),
             (b"/usr/lib/libgone.so", MISSING)]
    entry = container_entry(name="app", container_id="c1", image="shop/web:1", image_digest="sha256:" + "a" * 64,
                            cgroup_id=42, cgroup_path="/k8s.io/c1", paths=paths, total_events=9)
    doc = json.loads(json.dumps(pod_report(pod="web-0", namespace="shop", node="n1", started_at_ns=T0,
                                           last_updated_at_ns=T1, containers=[entry], dropped_events=3)))
    report = read_report(doc)
    assert (report.pod, report.namespace, report.node) == ("web-0", "shop", "n1")
    assert (report.started_at_ns, report.last_updated_at_ns, report.dropped_events) == (T0, T1, 3)
    [c] = report.containers
    assert (c.name, c.container_id, c.image, c.cgroup_id, c.cgroup_path, c.total_events) == (
        "app", "c1", "shop/web:1", 42, "/k8s.io/c1", 9)
    assert sorted(c.paths) == sorted(paths)


def test_the_original_sidecars_report_takes_node_and_digest_from_the_caller() -> None:
    doc = {"pod_name": "p", "namespace": "ns", "containers": [{"name": "app", "files": ["/bin/sh"]}]}
    with pytest.raises(ReportError, match="node: missing"):
        read_report(doc)
    with pytest.raises(ReportError, match=r"containers\[0\] \(app\): no image_digest"):
        read_report(doc, node="n1")
    report = read_report(doc, node="n1", image_digest="sha256:" + "b" * 64)
    assert report.containers[0].container_id == "report:ns/p/app"
    assert report.containers[0].paths == [(b"/bin/sh", UNKNOWN)]


def test_a_fault_is_named_by_its_place() -> None:
    doc = {"pod_name": "p", "namespace": "ns", "node": "n1",
           "containers": [{"name": "app", "image_digest": "sha256:x", "files": ["/ok", "relative"]}]}
    with pytest.raises(ReportError, match=r"containers\[0\]\.files\[1\]: not an absolute path"):
        read_report(doc)
