"""A Ray cluster of several nodes on this machine, for tests and benchmarks.

Each node is one `ray start --block` process (the head, then workers joining it)
with its own temp dir, ports and a custom resource named after the node. The
`ray start` process is the parent of everything its node runs (GCS, raylet,
agents, workers), so killing its process tree is a real node loss, and stopping
the cluster touches only processes this object started: never a global
`ray stop`, which would take down every other Ray on the machine.

Why not `ray.cluster_utils.Cluster`: it starts nodes inside the calling process
(a pytest worker that may already hold a Ray session) through private APIs;
`ray start` is what users run, and a CLI in another process joins it with
`--ray-address` exactly as on a real cluster.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MiB = 1 << 20
#: Printed by `ray start` once its node has registered with the GCS.
READY = "Ray runtime started"
#: Ray's own log protocol: a worker prints these before running a task (log attribution).
JOB_PREFIX, TASK_PREFIX = ":job_id:", ":task_name:"
#: Processes of a node that are not task executors.
SERVICE_TITLES = ("ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent")


@dataclass
class RayNode:
    name: str
    cpus: int
    temp_dir: Path
    process: subprocess.Popen | None = None
    log: Path | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The `ray start` process and every process it spawned, still running."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class LocalRayCluster:
    """`node_cpus[0]` CPUs on the head, one worker node per further entry."""

    node_cpus: Sequence[int] = (1, 1, 1)
    object_store_bytes: int = 128 * MiB
    root: Path | None = None
    nodes: list[RayNode] = field(default_factory=list)
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Unix socket paths are limited to ~107 bytes: a short root under /tmp.
        self.root = (
            Path(tempfile.mkdtemp(prefix="ccr-", dir="/tmp")) if self.root is None else self.root
        )
        self.nodes = [
            RayNode(
                "head" if i == 0 else f"w{i}", cpus, self.root / ("head" if i == 0 else f"w{i}")
            )
            for i, cpus in enumerate(self.node_cpus)
        ]
        self.env = {
            **self.plain_env(),
            # our own token: independent of ~/.ray/auth_token, which other Rays here create
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
            # declare a killed node dead in ~3 s instead of ~30 s
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
        }

    @staticmethod
    def plain_env() -> dict[str, str]:
        """This process's environment without RAY_ADDRESS: a driver starts a Ray of its own."""
        return {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment for a driver process (e.g. the CLI) that joins this cluster."""
        return {**self.env, "RAY_ADDRESS": self.address}

    def node(self, name: str) -> RayNode:
        return next(n for n in self.nodes if n.name == name)

    def start(self, timeout: float = 180) -> "LocalRayCluster":
        head, *workers = self.nodes
        try:
            self._launch(head)
            self._wait_ready([head], timeout)
            for node in workers:  # separate temp dirs: workers can start together
                self._launch(node)
            self._wait_ready(workers, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str, timeout: float = 180) -> None:
        node = self.node(name)
        if node.alive:
            return
        self._launch(node)
        self._wait_ready([node], timeout)

    def kill(self, name: str) -> int:
        """SIGKILL every process of a worker node at once (a machine lost); returns how many."""
        node = self.node(name)
        if node is self.nodes[0]:
            raise ValueError("killing the head ends the cluster; kill a worker node")
        victims = node.processes()
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(victims, timeout=10)
        if node.process is not None:
            node.process.wait(timeout=10)
        return len(victims)

    def stop(self, keep_files: bool = False) -> None:
        """SIGTERM each node (workers first, `ray start --block` stops its children), then
        SIGKILL whatever of their process trees is left; remove the temp dirs."""
        for node in reversed(self.nodes):
            victims = node.processes()
            if node.alive:
                node.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            _, alive = psutil.wait_procs(victims, timeout=15)
            for proc in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            psutil.wait_procs(alive, timeout=5)
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)  # type: ignore[arg-type]

    def running_tasks(self, name: str) -> list[str]:
        """Names of the Ray tasks the node's worker processes are executing now."""
        titles = []
        for proc in self.node(name).processes():
            try:
                title = proc.name()
            except psutil.NoSuchProcess:
                continue
            if title.startswith("ray::") and not title.startswith(SERVICE_TITLES):
                titles.append(title.removeprefix("ray::"))
        return titles

    def executed_tasks(self, name: str, job: str | None = None) -> list[str]:
        """Names of the tasks the node's workers started (of one job id, or all), from their
        logs: a killed node's logs stay on disk."""
        names = []
        logs = self.node(name).temp_dir.glob("session_2*/logs/worker-*.out")  # not session_latest
        for out in sorted(logs):
            for job_id, tasks in job_tasks(out.read_text(errors="replace")).items():
                if job is None or job_id == job:
                    names.extend(tasks)
        return names

    def _launch(self, node: RayNode) -> None:
        is_head = node is self.nodes[0]
        held = [_bind_free_port() for _ in range(8)]  # held together: eight distinct ports
        ports = [s.getsockname()[1] for s in held]
        if is_head:
            self.port = ports[7]
            role = ["--head", f"--port={self.port}", "--include-dashboard=false",
                    f"--dashboard-port={ports[6]}"]  # fmt: skip
        else:
            role = [f"--address={self.address}", f'--resources={{"{node.name}": 1}}']
        command = [
            str(Path(sys.executable).parent / "ray"), "start", "--block", *role,
            f"--temp-dir={node.temp_dir}",
            f"--num-cpus={node.cpus}",
            f"--object-store-memory={self.object_store_bytes}",
            "--disable-usage-stats",
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--dashboard-agent-grpc-port={ports[2]}",
            f"--dashboard-agent-listen-port={ports[3]}",
            f"--metrics-export-port={ports[4]}",
            f"--runtime-env-agent-port={ports[5]}",
            "--min-worker-port=0",  # workers bind ports the OS picks: no clash with other Rays
            "--max-worker-port=0",
        ]  # fmt: skip
        node.starts += 1
        node.log = self.root / f"{node.name}-{node.starts}.log"  # type: ignore[operator]
        for sock in held:
            sock.close()
        with open(node.log, "wb") as log:
            node.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _wait_ready(self, nodes: Sequence[RayNode], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        while pending:
            for node in list(pending):
                text = node.log.read_text(errors="replace") if node.log else ""
                if READY in text:
                    pending.remove(node)
                elif not node.alive:
                    raise RuntimeError(f"ray node {node.name} exited during start:\n{text[-3000:]}")
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"ray nodes {[n.name for n in pending]} not up in {timeout} s")
            time.sleep(0.2)


def _bind_free_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("", 0))
    return sock


def job_tasks(text: str) -> dict[str, list[str]]:
    """Task names per job id in one worker log (a worker serves one job)."""
    jobs: dict[str, list[str]] = {}
    job = ""
    for line in text.splitlines():
        if line.startswith(JOB_PREFIX):
            job = line.removeprefix(JOB_PREFIX)
        elif line.startswith(TASK_PREFIX):
            jobs.setdefault(job, []).append(line.removeprefix(TASK_PREFIX))
    return jobs
