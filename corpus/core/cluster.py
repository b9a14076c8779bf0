"""Ray for every package: a bounded local session or a running cluster, the options of
idempotent tasks, and objects shared with workers. How work is spread (`RunnerConfig`)
never changes results, so it is never part of a fingerprint.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from corpus.core.config import ConfigBase
from corpus.core.errors import CodecorpusError, ConfigError

MiB = 1 << 20


@dataclass(frozen=True)
class RunnerConfig(ConfigBase):
    """How work is spread over Ray. Never part of a fingerprint: results do not depend on it."""

    section = "runner"

    workers: int | None = None
    """Parallel actors per stage; default: the CPUs Ray sees."""
    batch_rows: int = 256
    """Files per Arrow batch handed to a stage; bounds per-worker memory."""
    ray_address: str | None = None
    """Address of a running Ray cluster; None starts a local Ray on demand."""
    object_store_bytes: int = 512 * MiB
    """Object store size of a local Ray (the default of ~30% of RAM is too greedy)."""
    engine: str = "tasks"
    """How calls are scheduled: `tasks` (plain Ray tasks, lowest overhead) or `data`
    (Ray Data map_batches: backpressure and operator metrics, a fixed cost more per run)."""

    partitions: int = 8
    """Partitions of the global (dedup) steps; raise it for large corpora so each
    partition's share fits a worker's memory. Results do not depend on it."""

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ConfigError(f"--partitions must be >= 1, got {self.partitions}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.batch_rows < 1:
            raise ConfigError(f"--batch-rows must be >= 1, got {self.batch_rows}")
        if self.engine not in ("tasks", "data"):
            raise ConfigError(f"--engine must be tasks or data, got {self.engine!r}")

    def fingerprint(self) -> str:
        raise TypeError("RunnerConfig never changes results: it has no fingerprint")


class ClusterLost(CodecorpusError):
    """Tasks failed past their retries because Ray workers or nodes died; the run resumes."""


@contextmanager
def ray_session(runner: RunnerConfig) -> Iterator[None]:
    """Use a running Ray (or `runner.ray_address`), else start a bounded local one for the block."""
    import ray
    from ray.data import DataContext

    from corpus.core.logs import ray_runtime_env

    started = False
    if not ray.is_initialized():
        common: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            # workers log like the driver, with its run id (a Ray already running keeps its own)
            "runtime_env": ray_runtime_env(),
        }
        if runner.ray_address:
            ray.init(address=runner.ray_address, **common)
        else:
            ray.init(
                address="local",  # our own local Ray, even if another one runs on this machine
                num_cpus=runner.workers or os.cpu_count(),
                object_store_memory=runner.object_store_bytes,
                **common,
            )
        started = True
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # tasks that failed past their retries because workers or nodes died: not a bug
    lost = (ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError,
            ray.exceptions.ObjectLostError)  # fmt: skip
    try:
        yield
    except lost as exc:
        detail = str(exc).strip().splitlines()[0]
        raise ClusterLost(
            f"Ray lost workers or nodes more often than {MAX_RETRIES} retries cover "
            f"({type(exc).__name__}: {detail}); check the cluster (`ray status`) and rerun the "
            f"same command: curate resumes from its last finished step"
        ) from exc
    finally:
        if started:
            ray.shutdown()


def share(value: Any, inline_bytes: int = 1 << 20) -> Any:
    """Small values travel inline with the actor; large ones once through the object store."""
    import ray

    size = getattr(value, "nbytes", 0)
    return ray.put(value) if size > inline_bytes else value


def resolve(value: Any) -> Any:
    """Inverse of `share` inside a worker (Ray Data does not resolve constructor refs)."""
    import ray

    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


#: Attempts a task gets when its worker process or node dies (a node lost, OOM-killed) or
#: it meets a transient error.
MAX_RETRIES = 3


def task_options(name: str, max_retries: int = MAX_RETRIES) -> dict[str, Any]:
    """Ray options of the idempotent tasks of a run (each overwrites its own output files,
    so a retry never duplicates rows).

    Retried when their worker or node dies, and on errors a retry can cure: shared storage
    (OSError) and objects lost with a node. Spread over the nodes: the default policy packs
    tasks onto the driver's node until it is half busy, which leaves a cluster's other
    nodes idle. Named (`step[partition]`) so a task can be found in Ray's state and logs.
    """
    import ray

    return {
        "num_cpus": 1,
        "max_retries": max_retries,
        "retry_exceptions": [OSError, ray.exceptions.ObjectLostError],
        "scheduling_strategy": "SPREAD",
        "name": name,
    }
