"""The run-step framework: a phase is a set of idempotent Ray tasks whose finished result is
kept as a marker in the run folder, so a rerun resumes instead of restarting.

A `Phase` declares a name, a task, one argument object per task (a frozen dataclass whose
fields are the task's keyword arguments) and how the tasks' results combine. `run_phase`
runs it in `<run>/steps/<name>`: skipped when that folder holds a finished result, else
its tasks run spread over the cluster, retried when a worker dies (`task_options`).
The files a phase's tasks exchange (partitions, markers) are `corpus.core.exchange`'s.
"""

import dataclasses
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from corpus.core.cluster import resolve, task_options
from corpus.core.exchange import delete_folder, join, read_marker, write_marker

Result = dict[str, Any]
Progress = Callable[[str, Result], None]
#: `on_task(tasks done, tasks in all, the result of the one that finished)`.
TaskProgress = Callable[[int, int, Result], None]


@dataclass(frozen=True)
class Phase:
    """One resumable step of a run: `task(**fields(a))` as a Ray task for every `a` in `args`."""

    name: str
    """The step's folder (`<run>/steps/<name>`) and its tasks' names (`<name>[<i>]`)."""
    task: Callable[..., Result]
    """A module-level function returning a small dict; run once per argument object."""
    args: Sequence[Any]
    """One frozen dataclass per task; its fields are the task's keyword arguments
    (object refs among them are resolved in the worker)."""
    combine: Callable[[list[Result]], Result] | None = None
    """Folds the tasks' results (in argument order) into the phase's result; default
    `{"tasks": results}`."""
    report: Callable[[Result], Result] | None = None
    """What `on_step` hears of the result; default the result plus its seconds."""
    on_task: TaskProgress | None = None
    """Called on the driver as each task finishes: (tasks done, tasks in all, its result)."""

    def __post_init__(self) -> None:
        signature = inspect.signature(self.task)
        for arg in self.args:  # caught on the driver, not in a worker after the phase started
            params = dataclasses.fields(arg) if dataclasses.is_dataclass(arg) else None
            if params is None or isinstance(arg, type) or not arg.__dataclass_params__.frozen:
                raise TypeError(f"phase {self.name!r}: arguments must be frozen dataclasses")
            try:
                signature.bind(**{f.name: None for f in params})
            except TypeError as exc:
                raise TypeError(
                    f"phase {self.name!r}: {type(arg).__name__} does not fit "
                    f"{self.task.__name__}: {exc}"
                ) from exc


def call(task: Callable[..., Result], arg: Any) -> Result:
    """What a phase's Ray task runs: `task` with `arg`'s fields as keyword arguments."""
    fields = dataclasses.fields(arg)
    return task(**{f.name: resolve(getattr(arg, f.name)) for f in fields})


def run_step(
    folder: str,
    task: Callable[..., Result],
    args: Sequence[Any],
    combine: Callable[[list[Result]], Result] | None = None,
    max_retries: int = 3,
    on_task: TaskProgress | None = None,
) -> Result:
    """Run `call(task, a)` for every `a` as Ray tasks unless `folder` holds a finished result.

    Each task returns a small dict; `combine` folds them into the step's result,
    which is saved in the marker and returned.
    """
    done = read_marker(folder)
    if done is not None:
        return done
    import ray

    delete_folder(folder)  # leftovers of a crashed attempt
    remote, step = ray.remote(call), folder.rstrip("/").rsplit("/", 1)[-1]
    options = [task_options(f"{step}[{i}]", max_retries) for i in range(len(args))]
    refs = [remote.options(**o).remote(task, a) for o, a in zip(options, args, strict=True)]
    results = ray.get(refs) if on_task is None else _as_finished(refs, on_task)
    result = combine(results) if combine else {"tasks": results}
    write_marker(folder, result)
    return result


def _as_finished(refs: list, on_task: TaskProgress) -> list[Result]:
    """The tasks' results in argument order, `on_task` told as each one finishes."""
    import ray

    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    on_task(0, len(refs), {})
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        result = results[index[finished[0]]] = ray.get(finished[0])
        on_task(len(refs) - len(pending), len(refs), result)
    return results


def run_phase(run: str, phase: Phase, on_step: Progress | None = None) -> Result:
    """`phase` in `<run>/steps/<name>` (resumed if finished), then `on_step(name, report)`."""
    started = time.perf_counter()
    folder = join(run, "steps", phase.name)
    result = run_step(folder, phase.task, phase.args, phase.combine, on_task=phase.on_task)
    if on_step is not None:
        seconds = round(time.perf_counter() - started, 3)
        report = phase.report(result) if phase.report else {**result, "seconds": seconds}
        on_step(phase.name, report)
    return result


def resumable(run: str, name: str, compute: Callable[[], Result]) -> tuple[Result, bool]:
    """A phase that runs its own way (the actor pool of the row-local stages) but keeps
    its result in the same marker: (result, whether it came from an earlier run)."""
    folder = join(run, "steps", name)
    done = read_marker(folder)
    if done is not None:
        return done, True
    result = compute()
    write_marker(folder, result)
    return result, False
