"""The run-step framework: a step is a set of idempotent Ray tasks whose finished result is
kept as a marker in the run folder, so a rerun resumes instead of restarting.

The files a step's tasks exchange (partitions, markers) are `corpus.core.exchange`'s.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

from corpus.core.cluster import task_options
from corpus.core.exchange import delete_folder, read_marker, write_marker


def run_step(
    folder: str,
    task: Callable[..., dict[str, Any]],
    args: Sequence[tuple[Any, ...]],
    combine: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
    max_retries: int = 3,
) -> dict[str, Any]:
    """Run `task(*a)` for every `a` as Ray tasks unless `folder` already holds a finished result.

    Each task returns a small dict; `combine` folds them into the step's result,
    which is saved in the marker and returned.
    """
    done = read_marker(folder)
    if done is not None:
        return done
    import ray

    delete_folder(folder)  # leftovers of a crashed attempt
    remote, step = ray.remote(task), folder.rstrip("/").rsplit("/", 1)[-1]
    options = [task_options(f"{step}[{i}]", max_retries) for i in range(len(args))]
    results = ray.get([remote.options(**o).remote(*a) for o, a in zip(options, args, strict=True)])
    result = combine(results) if combine else {"tasks": results}
    write_marker(folder, result)
    return result


def reported_step(
    folder: str,
    name: str,
    task: Callable[..., dict[str, Any]],
    args: Sequence[tuple[Any, ...]],
    combine: Callable[[list[dict[str, Any]]], dict[str, Any]] | None,
    on_step: Callable[[str, dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """`run_step` in `folder/steps/name`, then `on_step(name, result + seconds)`."""
    started = time.perf_counter()
    result = run_step(f"{folder.rstrip('/')}/steps/{name}", task, args, combine)
    if on_step is not None:
        on_step(name, {**result, "seconds": round(time.perf_counter() - started, 3)})
    return result
