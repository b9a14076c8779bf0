"""`codecorpus curate --ray-address` on a 3-node cluster publishes the single-node version,
also when a worker node dies in the middle of dedup or of tokenization.

The tests share one cluster; a fault test first restarts a node an earlier one killed.
"""

import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cluster.conftest import CODECORPUS, assert_same_version, published, run_cli
from tests.cluster.localcluster import LocalRayCluster, task_title

pytestmark = pytest.mark.slow

#: Task names are `<step>[<partition>]` (corpus.core.cluster.task_options).
DEDUP_STEPS = {"exact", "index", "bands", "buckets", "verify_send", "verify", "uf", "members",
               "attach", "keep"}  # fmt: skip
#: The finish step tokenizes every kept file and writes the token shards.
TOKENIZE_STEPS = {"finish"}


def _step(task: str) -> str:
    step = task.split("[", 1)[0]
    return "uf" if step.startswith("uf-") else step


def _executed(cluster: LocalRayCluster) -> dict[str, Counter]:
    return {n.name: Counter(cluster.executed_tasks(n.name)) for n in cluster.nodes}


def _since(cluster: LocalRayCluster, before: dict[str, Counter]) -> dict[str, Counter]:
    """Tasks each node started since `before` (worker logs outlive a killed node)."""
    return {name: tasks - before[name] for name, tasks in _executed(cluster).items()}


def test_three_nodes_publish_the_single_node_version(
    cluster: LocalRayCluster, home: Path, single_node: dict
) -> None:
    before = _executed(cluster)
    run_cli(home, cluster, "curate", "ds", "-v", "three")
    assert_same_version(published(home, "three"), single_node)
    ran = _since(cluster, before)
    assert ran["w1"] and ran["w2"], ran  # both worker nodes took part
    steps = {_step(t) for t in ran["w1"] + ran["w2"]}
    assert steps & (DEDUP_STEPS | TOKENIZE_STEPS), ran  # partition steps too, not only pass 1
    assert sum(sum(c.values()) for c in ran.values()) >= 8 * 15  # every partition of each step


class NodeKiller(threading.Thread):
    """Watches the worker nodes' processes; SIGKILLs a whole node as soon as one of its
    workers runs a task of `steps`, so the kill lands in the middle of that phase."""

    def __init__(self, cluster: LocalRayCluster, nodes: list[str], steps: set[str]) -> None:
        super().__init__(daemon=True)
        self.cluster, self.nodes, self.steps = cluster, nodes, steps
        self.killed: tuple[str, str] | None = None  # (node, the task it ran)
        self.done = threading.Event()

    def run(self) -> None:
        watched: list[tuple[str, int]] = []
        listed = 0.0
        while not self.done.is_set():
            if time.monotonic() - listed > 0.05:  # workers come and go: list them anew
                watched = [(n, p.pid) for n in self.nodes for p in self.cluster.node(n).processes()]
                listed = time.monotonic()
            for node, pid in watched:
                task = task_title(pid)
                if task is not None and _step(task) in self.steps:
                    self.cluster.kill(node, first=pid)  # the task's worker dies mid-task
                    self.killed = (node, task)
                    return
            time.sleep(0.001)  # tasks of a small corpus last tens of milliseconds


def _curate_killing(cluster: LocalRayCluster, home: Path, version: str, steps: set[str]) -> None:
    """Curate on the full cluster while a worker node gets killed in one of `steps`; the
    task it was running then ran again on a surviving node."""
    for node in cluster.nodes:
        cluster.restart(node.name)  # all three up, whatever an earlier test killed
    before = _executed(cluster)
    killer = NodeKiller(cluster, ["w1", "w2"], steps)
    env = {**cluster.client_env(), "CODECORPUS_HOME": str(home / "home")}
    command = [CODECORPUS, "curate", "ds", "-v", version, "--config", str(home / "config.yaml"),
               "--ray-address", cluster.address]  # fmt: skip
    killer.start()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed is not None, f"no worker node ran a {sorted(steps)} task"
    node, task = killer.killed
    assert not cluster.node(node).alive
    assert done.returncode == 0, f"curate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    ran = _since(cluster, before)
    assert any(task in ran[other] for other in ran if other != node), (task, ran)


def test_worker_node_killed_during_dedup(
    cluster: LocalRayCluster, home: Path, single_node: dict
) -> None:
    _curate_killing(cluster, home, "dedupkill", DEDUP_STEPS)
    assert_same_version(published(home, "dedupkill"), single_node)


def test_worker_node_killed_during_tokenization(
    cluster: LocalRayCluster, home: Path, single_node: dict
) -> None:
    _curate_killing(cluster, home, "tokenkill", TOKENIZE_STEPS)
    assert_same_version(published(home, "tokenkill"), single_node)
