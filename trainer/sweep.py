"""Run a sweep: each pending trial a training run in its own Ray worker process, results
appended to the table as trials finish, then the fit and the figure.

Scheduling: on a cluster with GPUs a trial asks for one GPU (trials run in parallel, one per
GPU); without GPUs it asks for all the CPUs of the largest node, so trials run one at a time
per node (on this 2-core machine: one after the other). `max_calls=1` gives every trial a fresh
process: the trainer's process group, DeepSpeed's accelerator choice and the allocator's memory
go with it. The shards must be readable at the same paths on every node (shared storage).

Resuming: trials already in `<out>/results.parquet` are skipped; with `checkpoints: true` a
trial interrupted midway continues from its last checkpoint in `<out>/trials/<id>/`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainer.sweep_config import SweepConfig
from trainer.sweep_fit import SweepFit, fit_sweep, runs_from_rows
from trainer.sweep_grid import MixtureInfo, SweepError, Trial, build_grid
from trainer.sweep_plot import plot_sweep
from trainer.sweep_table import ResultsTable

#: Steps whose mean train loss goes in the table's train_loss (the last loss alone is noisy).
TRAIN_LOSS_STEPS = 10
#: CPUs a GPU trial asks for besides its GPU (the loader reads memory-mapped shards).
CPUS_PER_GPU_TRIAL = 1

Event = Callable[[str, Trial, Mapping[str, Any]], None]


@dataclass
class SweepReport:
    """What a sweep run did and found."""

    trials: list[Trial]
    """The grid, in order."""
    rows: list[dict[str, Any]]
    """Results of the grid's trials found in the table (this run's and earlier ones)."""
    skipped: list[str] = field(default_factory=list)
    """Trial ids already in the table before this run."""
    failed: dict[str, str] = field(default_factory=dict)
    """Trial id -> error, for trials that failed in this run (rerun the sweep to retry them)."""
    fit: SweepFit | None = None
    png: Path | None = None
    table: Path | None = None


def trial_spec(base: Any, trial: Trial, seed: int) -> Any:
    """The trial's MixtureSpec: the mixture's shards with the trial's D, budgets and seed."""
    from trainer.data import MixtureSpec

    components = tuple(
        replace(c, unique_budget=trial.unique_by_language[c.language]) for c in base.components
    )
    return MixtureSpec(components, trial.tokens, base.seq_len, seed)


def trial_train_config(config: SweepConfig, trial: Trial, vocab_size: int, folder: Path) -> Any:
    """The trial's TrainConfig: the sweep's `train` fields with the trial's model and seed."""
    from trainer.train_config import TrainConfig

    data = dict(config.train)
    data["model_overrides"] = {"vocab_size": vocab_size, **data.get("model_overrides", {})}
    data.setdefault("progress", False)  # Ray worker output: the sweep reports per trial
    data.update(model=trial.model, seed=config.seed)
    if config.checkpoints:
        data.update(run_dir=folder, resume=True)
    elif config.evaluate.enabled:  # the evaluation loads the final checkpoint
        data.update(run_dir=folder)
    return TrainConfig.from_dict(data)


def run_trial(
    trial: Trial,
    spec: Any,
    train_config: Any,
    validation: Mapping[str, Sequence[str]] | None,
    folder: Path,
    seed: int,
    evaluate: Any = None,
    tokenizer_bytes: bytes | None = None,
) -> dict[str, Any]:
    """Train one trial (in the current process) and return its results-table row.

    `evaluate` (sweep_config.EvalSettings) adds bits per byte and pass@k of the final model,
    which need the mixture's tokenizer (`tokenizer_bytes`)."""
    from trainer.data import DocumentOrder
    from trainer.train import train

    started = time.perf_counter()
    unique = sum(DocumentOrder(spec).unique.values())  # the subsets' real size, EOD included
    result = train(train_config, spec, validation)
    wall = time.perf_counter() - started
    tail = result.losses[-TRAIN_LOSS_STEPS:]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trial.json").write_text(
        json.dumps({"trial": trial.to_dict(), "result": result.to_dict()}, indent=1)
    )
    return {
        "trial_id": trial.id,
        "model": trial.model,
        "params": trial.params,
        "tokens": result.tokens,
        "unique_tokens": unique,
        "epochs": result.tokens / unique,
        "planned_tokens": trial.tokens,
        "planned_unique": trial.unique,
        "planned_epochs": trial.epochs,
        "steps": result.steps,
        "val_loss": result.val_loss,
        "val_loss_by_language": result.val_loss_by_language,
        "train_loss": sum(tail) / len(tail) if tail else float("nan"),
        "tokens_per_s": result.tokens_per_s,
        "mfu": result.mfu,
        "wall_s": wall,
        "evals": _evaluate(folder, evaluate, tokenizer_bytes, validation, train_config),
        "seed": seed,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _evaluate(folder: Path, evaluate: Any, tokenizer_bytes: bytes | None,
              validation: Mapping[str, Sequence[str]] | None, train_config: Any
              ) -> dict[str, Any]:  # fmt: skip
    """The trial's evaluations ({} when none are asked for); its checkpoint is removed
    afterwards unless the sweep keeps checkpoints (resume set)."""
    if evaluate is None or not evaluate.enabled:
        return {}
    import shutil

    from trainer.evaluation.record import record_eval
    from trainer.loading import load_model, write_lineage

    if not tokenizer_bytes:
        raise SweepError("evaluate needs the mixture's tokenizer: pass tokenizer_bytes")
    write_lineage(folder, {"validation": dict(validation or {})}, tokenizer_bytes)
    loaded = load_model(folder)
    evals: dict[str, Any] = {}
    if evaluate.bits_per_byte:
        from trainer.evaluation.bpb import evaluate_bpb

        evals.update(evaluate_bpb(loaded, validation))
        record_eval(folder, "bits_per_byte", evals)
    if evaluate.humaneval_samples:
        from trainer.evaluation.humaneval import evaluate_model

        samples = evaluate.humaneval_samples
        summary = evaluate_model(
            loaded, samples, evaluate.humaneval_k, folder / "eval",
            temperature=0.0 if samples == 1 else 0.8, limit=evaluate.humaneval_problems,
            max_new_tokens=evaluate.max_new_tokens,
        )  # fmt: skip
        record_eval(folder, "humaneval", summary)
        evals.update({k: v for k, v in summary.items() if k.startswith("pass@")})
    if not train_config.resume:
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return evals


def run_sweep(
    config: SweepConfig,
    base_spec: Any,
    mixture: MixtureInfo,
    out: str | Path,
    *,
    validation: Mapping[str, Sequence[str]] | None = None,
    ray_address: str | None = None,
    on_event: Event | None = None,
    tokenizer_bytes: bytes | None = None,
) -> SweepReport:
    """Train the grid's pending trials, then fit and plot every finished trial of the grid.

    `base_spec`: the mixture's MixtureSpec (trainer.data); `validation`: validation shard
    prefixes per language (needed: the table's loss is the validation loss);
    `tokenizer_bytes`: the mixture's SentencePiece model, needed by `config.evaluate`.
    """
    if not validation:
        raise SweepError(
            "the sweep needs validation shards (its loss is the validation loss): curate the "
            "version with shards.validation_fraction > 0"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    emit = on_event or (lambda kind, trial, info: None)
    trials = build_grid(config, mixture)
    configs = {
        t.id: trial_train_config(config, t, mixture.vocab_size, out / "trials" / t.id)
        for t in trials
    }  # validates the sweep's `train` fields before anything runs
    table = ResultsTable(out)
    done = table.trial_ids()
    report = SweepReport(trials, [], skipped=[t.id for t in trials if t.id in done])
    pending = [t for t in trials if t.id not in done]
    for trial in trials:
        if trial.id in done:
            emit("skipped", trial, {})
    if pending:
        jobs = [TrialJob(t, t, trial_spec(base_spec, t, config.seed), config.seed) for t in pending]
        run_trials(jobs, configs, validation, table, out, report.failed, emit, ray_address,
                   config.evaluate, tokenizer_bytes)  # fmt: skip
    report.rows = table.rows([t.id for t in trials])
    report.fit = fit_sweep(runs_from_rows(report.rows), config.fit.free)
    (out / "fit.json").write_text(json.dumps(report.fit.to_dict(), indent=2))
    if report.rows:
        report.png = plot_sweep(report.rows, report.fit, out / "loss_vs_epochs.png")
        report.table = table.parquet
    return report


@dataclass(frozen=True)
class TrialJob:
    """One trial to run: what `emit` is told about, the trial, its data spec and seed."""

    subject: Any
    trial: Trial
    spec: Any
    seed: int


def run_trials(
    jobs: Sequence[TrialJob],
    configs: Mapping[str, Any],
    validation: Mapping[str, Sequence[str]],
    table: ResultsTable,
    out: Path,
    failed: dict[str, str],
    emit: Event,
    ray_address: str | None,
    evaluate: Any,
    tokenizer_bytes: bytes | None = None,
) -> None:
    """Every job as a Ray task (a fresh worker each), rows appended to `table` as they finish;
    a failed trial's error goes to `failed` and the others go on."""
    import ray

    from corpus.core.cluster import RunnerConfig, ray_session

    with ray_session(RunnerConfig(ray_address=ray_address)):
        remote = ray.remote(max_calls=1)(run_trial).options(**trial_resources())
        waiting = {}
        for job in jobs:
            ref = remote.remote(job.trial, job.spec, configs[job.trial.id], dict(validation),
                                out / "trials" / job.trial.id, job.seed, evaluate,
                                tokenizer_bytes)  # fmt: skip
            waiting[ref] = job
        emit("submitted", jobs[0].subject, {"count": len(jobs)})
        while waiting:
            (ref,), _ = ray.wait(list(waiting), num_returns=1)
            job = waiting.pop(ref)
            try:
                row = ray.get(ref)
            except ray.exceptions.RayError as exc:
                failed[job.trial.id] = _reason(exc)
                emit("failed", job.subject, {"error": failed[job.trial.id]})
                continue
            table.append(row)
            emit("finished", job.subject, row)


def trial_resources() -> dict[str, float]:
    """One GPU per trial where the cluster has GPUs, else a whole (largest) node's CPUs."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(n.get("GPU", 0) >= 1 for n in nodes):
        return {"num_gpus": 1, "num_cpus": CPUS_PER_GPU_TRIAL}
    return {"num_cpus": max(n.get("CPU", 1) for n in nodes)}


def _reason(exc: BaseException) -> str:
    """The trial's own error message, without Ray's traceback wrapping."""
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
