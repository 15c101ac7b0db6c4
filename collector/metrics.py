"""The collector's Prometheus metrics, one registry per app instance (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from snoop.common.version import VERSION


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        Gauge("snoop_build_info", "The snoop version this collector runs", ["version"],
              registry=self.registry).labels(version=VERSION).set(1)
        self.ingest_batches = Counter(
            "snoop_ingest_batches", "Batches committed", registry=self.registry
        )
        self.ingest_rows = Counter(
            "snoop_ingest_file_rows", "New (container instance, file) rows stored", registry=self.registry
        )
        self.ingest_errors = Counter(
            "snoop_ingest_errors", "Batches not stored", ["reason"], registry=self.registry
        )
        self.files_refused = Counter(
            "snoop_ingest_files_refused", "Files refused (alone, or with their container), by reason", ["reason"],
            registry=self.registry,
        )
        self.streams_idle_closed = Counter(
            "snoop_ingest_streams_idle_closed", "Agent streams ended after sending nothing for the idle timeout",
            registry=self.registry,
        )
        self.inventory_chunks = Counter(
            "snoop_inventory_chunks", "Image inventory chunks stored", registry=self.registry
        )
        self.inventories_completed = Counter(
            "snoop_inventories_completed", "Image inventories completed", ["source"], registry=self.registry
        )
        self.inventory_errors = Counter(
            "snoop_inventory_errors", "Inventory chunks not taken, by reason", ["reason"], registry=self.registry
        )
        self.retention_removed = Counter(
            "snoop_retention_removed", "Rows deleted by retention: container instances, their file rows, images",
            ["what"], registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "snoop_ingest_batch_seconds", "Time to commit one batch", registry=self.registry
        )
        self.request_seconds = Histogram(
            "snoop_http_request_seconds", "REST request latency", ["route", "status"], registry=self.registry
        )
