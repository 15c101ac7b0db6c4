"""Wires the agent together and runs its single-threaded main loop.

One thread owns the tracer, the pipeline and the file sets (no locks on the hot path); the streamer
and the metrics server run beside it and only see what the loop hands them.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from types import FrameType

from snoop.agent.config import AgentConfig
from snoop.agent.convert import container_files_to_pb, split_batches
from snoop.agent.dedup import FileSets
from snoop.agent.events import RawEvent
from snoop.agent.inventory.worker import InventoryWorker
from snoop.agent.metrics import AgentMetrics, Counters, Gauges, Snapshot, serve
from snoop.agent.namespaces import MountNamespaces
from snoop.agent.pipeline import Pipeline
from snoop.agent.processes import ProcessTable
from snoop.agent.reader import RingReader
from snoop.agent.report import pod_reports, write_reports
from snoop.agent.resolver.cgroup import CgroupPaths, cgroup2_mount
from snoop.agent.resolver.containerd import ContainerdClient
from snoop.agent.resolver.cri import CriClient
from snoop.agent.resolver.owners import KubeApiOwners
from snoop.agent.resolver.registry import ContainerRegistry
from snoop.agent.roots import ContainerRoots
from snoop.agent.schedule import GoneTwice, Schedule
from snoop.agent.spool import DiskSpool
from snoop.agent.streamer import Streamer
from snoop.agent.tracer import SYSCALL_STATS, Tracer
from snoop.common.channels import TlsFiles

log = logging.getLogger("snoop.agent")
POLL_MS = 100
CALIBRATION_S = 2.0


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.started_ns = time.time_ns()
        self.metrics = AgentMetrics()
        self.files = FileSets(max_unique_files=config.max_unique_files)
        self.cgroups = CgroupPaths(mount=config.cgroup_root or cgroup2_mount(), proc_root=config.proc_root)
        self.runtime = CriClient(config.cri_endpoint)
        self.owners = (
            KubeApiOwners(config.kube_api, node=config.node_name, token_file=config.kube_token_file,
                          ca_file=config.kube_ca_file)
            if config.kube_api
            else None
        )
        self.registry = ContainerRegistry(runtime=self.runtime, cgroups=self.cgroups, owners=self.owners,
                                          outside=ContainerdClient(config.cri_endpoint))
        self.namespaces = MountNamespaces(proc_root=config.proc_root)
        self.roots = ContainerRoots(namespaces=self.namespaces, members=self.cgroups.pids,
                                    proc_root=config.proc_root)
        self.tracer = Tracer(
            on_event=self._on_event, ringbuf_pages=config.ring_buffer_pages, seen_entries=config.seen_entries
        )
        self.pipeline = Pipeline(
            registry=self.registry,
            processes=ProcessTable(proc_root=config.proc_root),
            files=self.files,
            ignore_cgroup=self.tracer.ignore_cgroup,
            excludes=config.excludes,
            exclude_mounts=config.exclude_mounts,
            max_pending=config.max_pending_events,
            roots=self.roots,
            watch_missing=self.tracer.watch_missing,
            max_missing=config.max_missing,
        )
        self.streamer = (
            Streamer(
                config.collector,
                agent_id=f"{config.node_name}/{uuid.uuid4().hex[:12]}",
                max_spool_files=config.max_spool_files,
                tls=TlsFiles(config.tls_ca, config.tls_cert, config.tls_key),
                token=config.token,
            )
            if config.collector
            else None
        )
        self.inventory = (
            InventoryWorker(config.collector, agent_id=f"{config.node_name}/inventory", pids=self.cgroups.pids,
                            proc_root=config.proc_root, host_roots=(config.host_root, "/"),
                            tls=TlsFiles(config.tls_ca, config.tls_cert, config.tls_key), token=config.token,
                            containerd=config.cri_endpoint)
            if config.collector and config.inventory
            else None
        )
        self.disk: DiskSpool | None = None
        self._gone: GoneTwice[str] = GoneTwice()  # container ids
        self.forgotten_containers = 0
        self.report_writes = 0
        self.report_write_errors = 0
        self.event_errors = 0
        self._stopping = False
        self._held: list[RawEvent] | None = None  # events read while the agent looks for its own cgroup
        self._own_cgroup = 0
        self.reader = RingReader(self.tracer.poll)

    def _ignore_own_cgroup(self) -> None:
        """The agent's own file accesses must never be traced: they would feed on themselves. Sharing
        the host's cgroup namespace, /proc/self/cgroup names the agent's cgroup; in a pod's private
        cgroup namespace it does not, so the agent creates a marker file and takes the cgroup the
        kernel reports for it. Events read meanwhile are held, then replayed without the agent's."""
        own = self.cgroups.own_cgroup_id()
        if own is None:
            self._held = []
            with tempfile.NamedTemporaryFile(prefix="snoop-self-") as marker:
                name = os.fsencode(marker.name)
                deadline = time.monotonic() + CALIBRATION_S
                while own is None and time.monotonic() < deadline:
                    self.tracer.poll(POLL_MS)  # into _held, handled below
                    own = next((e.cgroup_id for e in self._held if e.path == name), None)
            held, self._held = self._held, None
            log.info("own cgroup (private cgroup namespace): %s", own)
        else:
            held = []
        if own is not None and own > 1:
            self._own_cgroup = own
            self.tracer.ignore_cgroup(own)  # itself opens files before the kernel map says so
        self._handle([ev for ev in held if ev.cgroup_id != own])

    def _adopt_running_containers(self) -> None:
        """Processes of containers that started before the agent: the kernel missed their handover.
        Twice, for children forked between the program's load and the first pass."""
        adopted = sum(self.tracer.adopt(self.namespaces.contained_pids()) for _ in range(2))
        log.info("adopted %d running processes outside the host's mount namespace", adopted)

    def _on_event(self, ev: RawEvent) -> None:
        """The ring buffer's callback (on the reader thread once tracing runs): only what cannot wait."""
        if self._held is not None:
            self._held.append(ev)
            return
        if ev.cgroup_id == self._own_cgroup:
            return
        self._guarded(self.pipeline.observe, ev)
        self.reader.put(ev)

    def _handle(self, events: list[RawEvent]) -> None:
        for ev in events:
            self._guarded(self.pipeline.handle, ev)

    def _guarded(self, step: Callable[[RawEvent], None], ev: RawEvent) -> None:
        try:
            step(ev)
        except Exception:  # one bad event must not stop tracing; ctypes would swallow it silently
            self.event_errors += 1
            log.exception("event handling failed")

    def stop(self, signum: int = 0, _frame: FrameType | None = None) -> None:
        log.info("signal %d: flushing and stopping", signum)
        self._stopping = True

    def run(self) -> int:
        config = self.config
        serve(self.metrics, *config.metrics_listen)
        self.tracer.open()
        log.info("BPF program compiled and loaded by a child process in %.1f s (peak RSS %d MiB, compiler "
                 "included)", self.tracer.load_seconds, self.tracer.load_peak_rss_kib // 1024)
        self._ignore_own_cgroup()
        self._adopt_running_containers()
        if self.streamer and config.spool_dir:
            self.disk = DiskSpool(config.spool_dir, token=uuid.uuid4().hex[:12])
            self._adopt_spool()
        self.registry.refresh(force=True)
        if self.streamer:
            self.streamer.start()
        if self.inventory:
            self.inventory.start()
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.reader.start()
        self.metrics.ready = True
        log.info("tracing on node %s (collector=%s, output=%s)", config.node_name, config.collector,
                 config.output)
        schedule = Schedule()
        schedule.every(config.batch_interval_s, self._batch)
        if self.streamer:
            schedule.every(config.heartbeat_interval_s, self._heartbeat)
        schedule.every(config.prune_interval_s, self._prune)
        if config.output:
            schedule.every(config.interval_s, self._write_report)
        while not self._stopping:
            self._handle(self.reader.take(POLL_MS / 1000))
            self.pipeline.retry_pending()
            schedule.run_due()
        self.reader.stop(self._handle)
        self.pipeline.retry_pending()
        self._flush()
        if config.output:
            self._write_report()
        if self.streamer:
            if not self.streamer.drain(config.shutdown_timeout_s):
                log.error("collector did not acknowledge %d files before shutdown", self.streamer.spool_files)
            self.streamer.close()
        if self.inventory:
            self.inventory.close()
        if self.disk is not None:
            self.disk.close()
        self.tracer.close()
        self.roots.close()
        return 0

    def _batch(self) -> None:
        """What is new goes to the collector; containers the CRI names now get their images inventoried."""
        self.registry.refresh()
        self._flush()
        if self.inventory:
            self.inventory.offer(self.registry.containers())

    def _prune(self) -> None:
        """Memory, BPF maps and pinned roots of containers that are gone are let go; spools left behind adopted."""
        self._forget_gone()
        self.roots.release(self.cgroups.exists)
        self.tracer.forget_cgroups(self.cgroups.exists)
        self._adopt_spool()

    def _adopt_spool(self) -> None:
        """Sends what agents that are gone left unacknowledged in --spool-dir: at start, and later what one that
        ran beside this one (a rolling update) leaves when it stops."""
        if self.streamer is None or self.disk is None:
            return
        unclean = self.disk.unclean_start
        taken = self.streamer.recover(self.disk)
        if self.disk.unclean_start and not unclean:
            log.warning("an agent before this one stopped without flushing (killed?): its spooled batches are "
                        "sent again; files it had seen in its last batch interval come again when touched")
        if taken:
            log.info("spool %s: %d files left by an agent that is gone, sent again", self.config.spool_dir, taken)

    def _heartbeat(self) -> None:
        """Every running container, without files: the collector moves its and its image's last_seen."""
        assert self.streamer is not None
        events = self.tracer.cgroup_events()
        running = [container_files_to_pb(ref, self.config.node_name, {}, events.get(ref.cgroup_id, 0),
                                         self.started_ns)
                   for ref in self.registry.containers() if self.cgroups.exists(ref.cgroup_id)]
        if running:
            self.streamer.submit(running, dropped_events=self.tracer.stats()["dropped"])

    def _forget_gone(self) -> None:
        """Containers gone at two prunes in a row (their last events read by now) are flushed, reported
        and forgotten: memory follows the containers that run, not every container that ever ran."""
        gone = {ref.container_id: ref for ref in self.registry.containers() if not self.cgroups.exists(ref.cgroup_id)}
        doomed = [gone[cid] for cid in sorted(self._gone.confirm(set(gone)))]
        if not doomed:
            return
        self._flush()  # their last files go to the streamer's spool (on disk with --spool-dir)
        if self.config.output:
            self._write_report()  # and into their pods' final reports
        for ref in doomed:
            self.files.forget(ref.container_id)
            self.pipeline.forget(ref.container_id)
            self.registry.forget(ref)
        self.forgotten_containers += len(doomed)
        log.info("forgot %d containers that are gone", len(doomed))

    def _flush(self) -> None:
        """Publishes metrics and hands what is new to the streamer."""
        stats = self.tracer.stats()
        self._update_totals()
        if self.streamer:
            deltas = self.files.drain()
            containers = [container_files_to_pb(ref, self.config.node_name, f, total, self.started_ns)
                          for ref, f, total in deltas]
            for batch in split_batches(containers, self.config.max_batch_files) if containers else []:
                self.streamer.submit(batch, dropped_events=stats["dropped"])
        self._publish(stats)

    def _update_totals(self) -> None:
        table = self.tracer.cgroup_events()
        for ref in self.registry.containers():
            self.files.set_total_events(ref.container_id, table.get(ref.cgroup_id, 0))

    def _write_report(self) -> None:
        assert self.config.output is not None
        reports = pod_reports(
            self.files.containers(),
            node=self.config.node_name,
            started_at_ns=self.started_ns,
            now_ns=time.time_ns(),
            dropped_events=self.tracer.stats()["dropped"],
        )
        try:
            write_reports(self.config.output, reports)
            self.report_writes += 1
        except OSError as exc:
            self.report_write_errors += 1
            log.error("writing reports to %s failed: %s", self.config.output, exc)

    def _publish(self, stats: dict[str, int]) -> None:
        c = self.pipeline.counters
        s = self.streamer
        inv = self.inventory
        self.metrics.publish(
            Snapshot(
                syscalls={name: stats[name] for name in SYSCALL_STATS if stats[name]},
                counters=Counters(
                    events_dropped=stats["dropped"],
                    **asdict(c),
                    events_repeated=stats["repeated"],
                    events_failed=stats["failed"],
                    events_missing=stats["missing"],
                    events_runtime=stats["runtime"],
                    roots_refused=self.roots.refused,
                    process_table_full=stats["procs_full"],
                    path_read_errors=stats["read_error"],
                    files_overflowed=self.files.overflowed,
                    report_writes=self.report_writes,
                    report_write_errors=self.report_write_errors,
                    batches_sent=s.sent if s else 0,
                    batches_acked=s.acked if s else 0,
                    spool_dropped_files=s.dropped_files if s else 0,
                    spool_recovered_files=s.recovered_files if s else 0,
                    cri_errors=self.registry.runtime_errors,
                    kube_api_errors=self.owners.errors if self.owners else 0,
                    event_errors=self.event_errors,
                    containers_forgotten=self.forgotten_containers,
                    inventories_layers=inv.uploads["layers"] if inv else 0,
                    inventories_rootfs=inv.uploads["rootfs"] if inv else 0,
                    inventory_files=inv.files if inv else 0,
                    inventory_errors=inv.errors if inv else 0,
                ),
                gauges=Gauges(
                    unique_files=self.files.unique_files(),
                    containers=len(self.registry.containers()),
                    pending_events=self.pipeline.pending,
                    events_queued=self.reader.queued,
                    spool_files=s.spool_files if s else 0,
                    collector_connected=1 if s and s.connected else 0,
                    previous_run_unclean=1 if self.disk and self.disk.unclean_start else 0,
                ),
                refused=dict(s.refused_files) if s else {},
            )
        )


def run_agent(config: AgentConfig) -> int:
    return Agent(config).run()
