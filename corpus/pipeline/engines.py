"""Runs worker classes over units of work on Ray Data, streaming results to the driver.

Each call of a worker receives a few units (repositories, archives, table
files, raw data files), reads them, applies its stage chain batch by batch,
writes Parquet itself and returns only a small summary row. Corpus bytes
therefore never pass through the driver or the object store.

Two engines run the calls; both reuse Ray's warm worker processes, in which
each process builds a worker's heavy state once per run (see `_call_worker`):

- `tasks` (default): plain Ray tasks, streamed with `ray.wait`, a bounded
  number in flight, retried when a worker dies; the lower overhead of the two
  (README, "Measurements behind design choices").
- `data`: Ray Data `map_batches` over the units (backpressure, operator
  metrics), which adds a fixed cost per run for its streaming executor and
  helper actors: worth it only on large clusters and corpora.
"""

import json
import logging
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from corpus.core.cluster import RunnerConfig, cluster_cpus, task_options

log = logging.getLogger(__name__)


#: Per process: the worker built for the current run. Ray reuses worker processes
#: across tasks, so heavy state (stage chains, key sets) is built once per run and
#: process; keeping only one run's worker bounds the memory it holds.
_WORKER_CACHE: dict[str, Any] = {}


def _call_worker(
    units: pa.Table, worker_cls: type, constructor_args: tuple[Any, ...], run_key: str
) -> pa.Table:
    worker = _WORKER_CACHE.get(run_key)
    if worker is None:
        _WORKER_CACHE.clear()
        worker = _WORKER_CACHE[run_key] = worker_cls(*constructor_args)
        log.info("%s ready in worker process %d", worker_cls.__name__, os.getpid())
    return worker(units)


def map_units(
    units: Sequence[dict[str, Any]],
    worker_cls: type,
    constructor_args: tuple[Any, ...],
    runner: RunnerConfig,
    units_per_call: int = 4,
) -> Iterator[pa.Table]:
    """Yield each worker call's summary table as soon as it is done (in completion order)."""
    if not units:
        return
    workers = min(runner.workers or cluster_cpus(), math.ceil(len(units) / units_per_call))
    payloads = [json.dumps(u, sort_keys=True) for u in units]
    calls = [payloads[i : i + units_per_call] for i in range(0, len(payloads), units_per_call)]
    run_key = uuid.uuid4().hex
    if runner.engine == "data":
        yield from _map_with_ray_data(calls, worker_cls, constructor_args, workers, run_key)
    else:
        yield from _map_with_tasks(calls, worker_cls, constructor_args, workers, run_key)


def _map_with_tasks(
    calls: list[list[str]], worker_cls: type, constructor_args: tuple[Any, ...],
    workers: int, run_key: str,
) -> Iterator[pa.Table]:  # fmt: skip
    import ray

    remote = ray.remote(_call_worker)
    args_ref = ray.put(constructor_args)  # shipped once, not with every call
    queue = enumerate(calls)

    def submit(index: int, call: list[str]):
        options = task_options(f"{worker_cls.__name__}[{index}]")
        return remote.options(**options).remote(
            pa.table({"unit": call}), worker_cls, args_ref, run_key
        )

    pending: list = []
    for index, call in queue:
        pending.append(submit(index, call))
        if len(pending) >= 2 * workers:  # keep every worker busy, no more
            break
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])
        following = next(queue, None)
        if following is not None:
            pending.append(submit(*following))


def _map_with_ray_data(
    calls: list[list[str]], worker_cls: type, constructor_args: tuple[Any, ...],
    workers: int, run_key: str,
) -> Iterator[pa.Table]:  # fmt: skip
    import ray.data

    units_per_call = max(len(c) for c in calls)
    items = [{"unit": payload} for call in calls for payload in call]
    dataset = ray.data.from_items(
        items, override_num_blocks=max(1, math.ceil(len(items) / units_per_call))
    )
    dataset = dataset.map_batches(
        _call_worker,
        batch_size=units_per_call,
        batch_format="pyarrow",
        fn_args=(worker_cls, constructor_args, run_key),
        compute=ray.data.TaskPoolStrategy(size=workers),
        num_cpus=1,
    )
    yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow")
