"""The agent's metrics are declared once (``Counters``, ``Gauges``) and each is served as it was published."""

from __future__ import annotations

import urllib.request
from dataclasses import fields

from snoop.agent.metrics import AgentMetrics, Counters, Gauges, Snapshot, serve
from snoop.agent.pipeline import PipelineCounters
from tests.conftest import free_port


def test_the_pipelines_counters_are_declared_metrics() -> None:
    """The main loop passes them on by name: each must be a declared counter."""
    assert {f.name for f in fields(PipelineCounters)} <= {f.name for f in fields(Counters)}


def test_every_declared_metric_is_served_with_its_help_and_value() -> None:
    counters = Counters(**{f.name: i + 1 for i, f in enumerate(fields(Counters))})
    gauges = Gauges(**{f.name: i + 0.5 for i, f in enumerate(fields(Gauges))})
    metrics = AgentMetrics()
    metrics.publish(Snapshot(syscalls={"openat": 7}, counters=counters, gauges=gauges, refused={"nul-in-path": 2}))
    port = free_port()
    server = serve(metrics, "127.0.0.1", port)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    lines = set(text.splitlines())
    for i, f in enumerate(fields(Counters)):
        assert f"# HELP snoop_{f.name}_total {f.metadata['doc']}" in lines
        assert f"snoop_{f.name}_total {float(i + 1)}" in lines
    for i, f in enumerate(fields(Gauges)):
        assert f"# HELP snoop_{f.name} {f.metadata['doc']}" in lines
        assert f"snoop_{f.name} {i + 0.5}" in lines
    assert 'snoop_events_total{syscall="openat"} 7.0' in lines
    assert 'snoop_files_refused_total{reason="nul-in-path"} 2.0' in lines
