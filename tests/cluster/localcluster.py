"""A Ray cluster of several nodes on this machine, for tests and benchmarks.

Each node is one `ray start --block` process (the head, then workers joining it)
with its own temp dir, ports and a custom resource named after the node. The
`ray start` process is the parent of everything its node runs (GCS, raylet,
agents, workers), so killing its process tree is a real node loss. Stopping
touches only what this object started: the nodes' process trees, then any
process left carrying this cluster's marker variable in its environment (every
Ray process inherits it). Never a global `ray stop`, which would take down every
other Ray on the machine.

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
#: Set in the environment of every process of a cluster (its root folder).
MARKER = "CODECORPUS_TEST_RAY_CLUSTER"


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
    """`node_cpus[0]` CPUs on the head, one worker node (`w1`, `w2`, ...) per further entry."""

    node_cpus: Sequence[int] = (1, 1, 1)
    object_store_bytes: int = 128 * MiB
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    """Our own token (RAY_AUTH_MODE=token): independent of ~/.ray/auth_token, which other
    Rays on this machine create."""
    root: Path = field(init=False)
    nodes: list[RayNode] = field(init=False)
    port: int = field(init=False, default=0)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # Unix socket paths are limited to ~107 bytes: a short root under /tmp.
        self.root = Path(tempfile.mkdtemp(prefix="ccr-", dir="/tmp"))
        names = ["head", *(f"w{i}" for i in range(1, len(self.node_cpus)))]
        self.nodes = [
            RayNode(n, c, self.root / n) for n, c in zip(names, self.node_cpus, strict=True)
        ]
        self.env = {
            **self.plain_env(),
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.auth_token,
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
            self._start([head], timeout)
            self._start(workers, timeout)  # separate temp dirs: workers can start together
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str, timeout: float = 180) -> None:
        """Start a node again (after `kill`); nothing if it runs."""
        node = self.node(name)
        if not node.alive:
            self._start([node], timeout)

    def kill(self, name: str, first: int | None = None) -> int:
        """SIGKILL every process of a worker node (a machine lost), `first` (a pid of the
        node) before the others are even listed; returns how many were killed."""
        node = self.node(name)
        if node is self.nodes[0]:
            raise ValueError("killing the head ends the cluster; kill a worker node")
        if first is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(first, signal.SIGKILL)
        victims = node.processes()
        _kill(victims)
        if node.process is not None:
            node.process.wait(timeout=10)
        return len(victims)

    def stop(self, keep_files: bool = False) -> None:
        """SIGTERM each node (workers first; `ray start --block` stops its children), SIGKILL
        what is left of their trees and any other process with our marker; remove the files."""
        for node in reversed(self.nodes):
            victims = node.processes()
            if node.alive:
                node.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            _, left = psutil.wait_procs(victims, timeout=15)
            _kill(left)
        _kill(self._marked())
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    def running_tasks(self, name: str) -> list[str]:
        """Names of the Ray tasks the node's worker processes are executing now."""
        return [t for t in map(task_title, (p.pid for p in self.node(name).processes())) if t]

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

    def _start(self, nodes: Sequence[RayNode], timeout: float, attempts: int = 3) -> None:
        """Launch `nodes`, wait until registered; relaunch (new ports) any that exited: a
        port picked free can be taken by another process before the node binds it."""
        pending = list(nodes)
        for _ in range(attempts):
            for node in pending:
                self._launch(node)
            pending = self._wait_ready(pending, timeout)
            if not pending:
                return
            _kill([p for node in pending for p in node.processes()])
        logs = "\n".join(f"{n.name}: {_tail(n.log)}" for n in pending)
        raise RuntimeError(f"ray nodes {[n.name for n in pending]} failed to start:\n{logs}")

    def _launch(self, node: RayNode) -> None:
        held = [_bind_free_port() for _ in range(8)]  # held together: eight distinct ports
        ports = [s.getsockname()[1] for s in held]
        if node is self.nodes[0]:
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
        node.log = self.root / f"{node.name}-{node.starts}.log"
        for sock in held:
            sock.close()
        with open(node.log, "wb") as log:
            node.process = subprocess.Popen(
                command, env={**self.env, MARKER: str(self.root)}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def _wait_ready(self, nodes: Sequence[RayNode], timeout: float) -> list[RayNode]:
        """Wait until every node is up or has exited; returns those that exited."""
        deadline = time.monotonic() + timeout
        pending, failed = list(nodes), []
        while pending:
            for node in list(pending):
                if READY in _tail(node.log, 1 << 20):
                    pending.remove(node)
                elif not node.alive:
                    pending.remove(node)
                    failed.append(node)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"ray nodes {[n.name for n in pending]} not up in {timeout} s")
            time.sleep(0.2)
        return failed

    def _marked(self) -> list[psutil.Process]:
        """Processes that inherited this cluster's marker (orphans of a failed start too)."""
        found = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if proc.environ().get(MARKER) == str(self.root):
                    found.append(proc)
        return found


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


def task_title(pid: int) -> str | None:
    """The task a Ray worker process runs now (Ray sets its title to `ray::<task name>`);
    None for idle workers, Ray's services and other processes. Reads /proc: cheap enough
    to poll every millisecond."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            title = stream.read(256).split(b"\0", 1)[0].decode(errors="replace").strip()
    except OSError:
        return None
    if not title.startswith("ray::") or title.startswith(SERVICE_TITLES):
        return None
    return title.removeprefix("ray::")


def _kill(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(processes, timeout=10)


def _bind_free_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("", 0))
    return sock


def _tail(path: Path | None, size: int = 3000) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")[-size:]
