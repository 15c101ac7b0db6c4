"""The agent's main-loop jobs with stand-ins for the kernel (the tracer) and the CRI (the registry): what a
batch, a prune and a report do with a container that runs, then exits. (The real loop, with BPF and
containerd, is in tests/e2e.)"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from snoop.agent.app import Agent
from snoop.agent.config import AgentConfig
from snoop.agent.events import ContainerRef, FileType
from snoop.agent.schedule import GoneTwice
from snoop.common.kinds import BITS

READ = BITS[0]
CID = 4242
REF = ContainerRef(container_id="c1", name="app", pod_name="web-0", pod_namespace="shop", pod_uid="u1",
                   image_reference="shop/web:1", image_digest="sha256:" + "a" * 64, image_id="i1",
                   cgroup_path="/k8s.io/c1", cgroup_id=CID)


class Kernel:
    """The tracer's side: per-cgroup event counts, and what the agent told it to forget."""

    def __init__(self) -> None:
        self.counts = {CID: 7}
        self.forgotten: list[int] = []
        self._gone: GoneTwice[int] = GoneTwice()

    def cgroup_events(self) -> dict[int, int]:
        return dict(self.counts)

    def stats(self) -> defaultdict[str, int]:
        return defaultdict(int)

    def forget_cgroups(self, alive) -> None:  # noqa: ANN001 - as the tracer does: gone at two calls in a row
        for cid in self._gone.confirm({c for c in self.counts if not alive(c)}):
            self.forgotten.append(cid)
            del self.counts[cid]


class Cri:
    """The registry's side: the containers the CRI names."""

    runtime_errors = 0

    def __init__(self) -> None:
        self.running = [REF]

    def containers(self) -> list[ContainerRef]:
        return list(self.running)

    def refresh(self, *, force: bool = False) -> None:
        pass

    def forget(self, ref: ContainerRef) -> None:
        self.running.remove(ref)


class Cgroups:
    def __init__(self) -> None:
        self.alive = {CID}

    def exists(self, cgroup_id: int) -> bool:
        return cgroup_id in self.alive

    def pids(self, cgroup_id: int) -> list[int]:
        return []


def agent_with_stand_ins(tmp_path: Path) -> tuple[Agent, Kernel, Cri, Cgroups]:
    agent = Agent(AgentConfig(output=tmp_path, node_name="n1", cgroup_root=str(tmp_path)))
    kernel, cri, cgroups = Kernel(), Cri(), Cgroups()
    agent.tracer, agent.registry, agent.cgroups = kernel, cri, cgroups  # type: ignore[assignment]
    return agent, kernel, cri, cgroups


def report(tmp_path: Path) -> dict:
    (path,) = tmp_path.glob("*.json")
    return json.loads(path.read_text())


def test_an_exited_container_is_reported_whole_then_forgotten_at_the_second_prune(tmp_path: Path) -> None:
    agent, kernel, cri, cgroups = agent_with_stand_ins(tmp_path)
    agent.files.record(REF, b"/etc/app.conf", READ, 1_000, FileType.FILE)
    agent._batch()
    agent._write_report()
    assert report(tmp_path)["containers"][0]["total_events"] == 7

    cgroups.alive.clear()  # the container exits
    agent._prune()
    assert cri.running == [REF] and agent.forgotten_containers == 0  # its last events may still wait
    agent.files.record(REF, b"/etc/late.conf", READ, 2_000, FileType.FILE)  # handled between the prunes
    agent._prune()
    assert cri.running == [] and agent.forgotten_containers == 1 and kernel.forgotten == [CID]
    (container,) = report(tmp_path)["containers"]  # its final report, written as it was forgotten
    assert container["files"] == ["/etc/app.conf", "/etc/late.conf"] and container["total_events"] == 7
    assert agent.files.containers() == []


def test_a_container_back_between_prunes_is_kept(tmp_path: Path) -> None:
    agent, kernel, cri, cgroups = agent_with_stand_ins(tmp_path)
    agent.files.record(REF, b"/etc/app.conf", READ, 1_000, FileType.FILE)
    cgroups.alive.clear()
    agent._prune()
    cgroups.alive.add(CID)  # a look that raced a slow cgroup listing: it is there after all
    agent._prune()
    cgroups.alive.clear()
    agent._prune()
    assert cri.running == [REF] and agent.forgotten_containers == 0
