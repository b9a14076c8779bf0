"""`codecorpus curate --ray-address` on a 3-node cluster publishes the single-node version,
also when a worker node dies in the middle of dedup or of tokenization.

The tests run in file order on one cluster: the dedup fault kills w1, the tokenization
fault then kills w2 (the head finishes alone), which spares a node restart.
"""

import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cluster.conftest import CODECORPUS, assert_same_version, published, run_cli
from tests.cluster.localcluster import LocalRayCluster

pytestmark = pytest.mark.slow

#: Task names are `<step>[<partition>]` (corpus.runner.task_options).
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
    for worker in ("w1", "w2"):  # the work was spread, not kept on the head
        assert {_step(t) for t in ran[worker]} & DEDUP_STEPS, (worker, ran[worker])
    assert sum(sum(c.values()) for c in ran.values()) >= 8 * 15  # every partition of each step


class NodeKiller(threading.Thread):
    """Watches a worker node's processes; SIGKILLs the whole node once one of them runs a
    task of `steps`, so the kill lands in the middle of that phase."""

    def __init__(self, cluster: LocalRayCluster, node: str, steps: set[str]) -> None:
        super().__init__(daemon=True)
        self.cluster, self.node, self.steps = cluster, node, steps
        self.killed_during: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            running = [t for t in self.cluster.running_tasks(self.node) if _step(t) in self.steps]
            if running:
                self.killed_during = running[0]
                self.cluster.kill(self.node)
                return
            time.sleep(0.01)


def _curate_killing(
    cluster: LocalRayCluster, home: Path, version: str, node: str, steps: set[str]
) -> None:
    """Curate on the cluster while `node` gets killed in one of `steps`; the task it was
    running then ran again on a surviving node."""
    cluster.restart(node)  # alive, whatever ran before
    before = _executed(cluster)
    killer = NodeKiller(cluster, node, steps)
    env = {**cluster.client_env(), "CODECORPUS_HOME": str(home / "home")}
    command = [CODECORPUS, "curate", "ds", "-v", version, "--config", str(home / "config.yaml"),
               "--ray-address", cluster.address]  # fmt: skip
    killer.start()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed_during is not None, f"no {sorted(steps)} task ran on {node}"
    assert not cluster.node(node).alive
    assert done.returncode == 0, f"curate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    ran = _since(cluster, before)
    assert any(killer.killed_during in ran[n] for n in ran if n != node), (
        killer.killed_during,
        ran,
    )


def test_worker_node_killed_during_dedup(
    cluster: LocalRayCluster, home: Path, single_node: dict
) -> None:
    _curate_killing(cluster, home, "dedupkill", "w1", DEDUP_STEPS)
    assert_same_version(published(home, "dedupkill"), single_node)


def test_worker_node_killed_during_tokenization(
    cluster: LocalRayCluster, home: Path, single_node: dict
) -> None:
    _curate_killing(cluster, home, "tokenkill", "w2", TOKENIZE_STEPS)
    assert_same_version(published(home, "tokenkill"), single_node)
