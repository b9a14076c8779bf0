"""Run an ablation: every (arm, seed) a trial of the sweep machinery, the same model and token
budget D for all, evaluated on one held-out set; results appended as trials finish.

Each trial is a one-trial sweep grid (`trainer.sweep_grid.build_grid`) on its arm's mixture,
so its id hashes the model, D, the unique-token budgets, the seed, the hyper-parameters and
the arm's data: a rerun skips trials already in `<out>/results.parquet`, and changing any of
these makes a new trial. Trials run as Ray tasks exactly as a sweep's (`trainer.sweep`).
`<out>/trials.json` maps trial ids to arms and seeds for the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.ablation_config import AblationConfig
from trainer.sweep import TrialJob, run_trials, trial_spec, trial_train_config
from trainer.sweep_config import SweepConfig
from trainer.sweep_grid import MixtureInfo, SweepError, Trial, build_grid
from trainer.sweep_table import ResultsTable

Event = Callable[[str, "ArmTrial", Mapping[str, Any]], None]


class AblationError(SweepError):
    """An ablation cannot run as configured; the message says what to change."""


@dataclass(frozen=True)
class ArmData:
    """An arm's training data: its mixture's loader spec and what the grid needs of it."""

    spec: Any
    """`trainer.data.MixtureSpec` over the arm's train shards."""
    info: MixtureInfo


@dataclass(frozen=True)
class ArmTrial:
    arm: str
    seed: int
    trial: Trial

    def label(self) -> str:
        return f"{self.arm} seed {self.seed} ({self.trial.id}, D={self.trial.tokens:,}, " \
               f"U={self.trial.unique:,})"  # fmt: skip


@dataclass
class AblationRun:
    """What a run did: the planned trials, the rows found, what it skipped and what failed."""

    trials: list[ArmTrial]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Arm -> its finished trials' rows, in seed order."""
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def budget(config: AblationConfig, arms: Mapping[str, ArmData]) -> int:
    """D of every trial: the configured tokens, else the most every arm can afford (its
    unique tokens times its epochs: the smallest arm reads its data exactly `epochs` times)."""
    afford = {
        name: math.floor(sum(data.info.unique.values()) * config.arms[name].epochs)
        for name, data in arms.items()
    }
    tokens = config.tokens or min(afford.values())
    short = {name: a for name, a in afford.items() if a < tokens}
    if short:
        raise AblationError(
            f"tokens {tokens:,} exceed what arm(s) {sorted(short)} afford "
            f"({', '.join(f'{k}: {v:,}' for k, v in short.items())} = unique tokens x epochs): "
            "lower tokens, or raise those arms' epochs"
        )
    return tokens


def plan(config: AblationConfig, arms: Mapping[str, ArmData]) -> list[ArmTrial]:
    """One trial per arm and seed, in arm order; refuses two arms that are the same run."""
    missing = sorted(set(config.arms) - set(arms))
    if missing:
        raise AblationError(f"no data for arm(s) {missing}")
    tokens = budget(config, arms)
    trials: list[ArmTrial] = []
    seen: dict[str, ArmTrial] = {}
    for name in config.arms:
        for seed in config.arm_seeds(name):
            sweep = _sweep_config(config, tokens, config.arms[name].epochs, seed)
            (trial,) = build_grid(sweep, arms[name].info)
            planned = ArmTrial(name, seed, trial)
            if trial.id in seen:
                raise AblationError(
                    f"arms {seen[trial.id].arm!r} and {name!r} train the same data with seed "
                    f"{seed}: the same run twice; give one a seed_offset (a noise-floor arm) "
                    "or change its curation"
                )
            seen[trial.id] = planned
            trials.append(planned)
    return trials


def _sweep_config(config: AblationConfig, tokens: int, epochs: float, seed: int) -> SweepConfig:
    return SweepConfig(models=(config.model,), tokens=(tokens,), epochs=(float(epochs),),
                       seed=seed, train=dict(config.train), evaluate=config.evaluate)  # fmt: skip


def run_ablation(
    config: AblationConfig,
    arms: Mapping[str, ArmData],
    validation: Mapping[str, Sequence[str]],
    out: str | Path,
    *,
    tokenizer_bytes: bytes | None = None,
    ray_address: str | None = None,
    on_event: Event | None = None,
) -> AblationRun:
    """Train every pending trial; `validation`: the held-out set's shard prefixes per language
    (the trials' validation loss and bits per byte); `tokenizer_bytes`: the one tokenizer every
    arm's shards use (needed for bits per byte)."""
    if not validation:
        raise AblationError("the ablation needs the held-out set's shards: none were given")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    emit = on_event or (lambda kind, trial, info: None)
    trials = plan(config, arms)
    vocab = {data.info.vocab_size for data in arms.values()}
    if len(vocab) != 1:
        raise AblationError(f"the arms use tokenizers of {sorted(vocab)} pieces: every arm "
                            "must share one tokenizer")  # fmt: skip
    (vocab_size,) = vocab
    configs = {
        t.trial.id: trial_train_config(
            _sweep_config(config, t.trial.tokens, t.trial.epochs, t.seed),
            t.trial,
            vocab_size,
            out / "trials" / t.trial.id,
        )
        for t in trials
    }  # validates the `train` fields before anything runs
    _record_trials(out, trials)
    table = ResultsTable(out)
    done = table.trial_ids()
    run = AblationRun(trials, skipped=[t.trial.id for t in trials if t.trial.id in done])
    for t in trials:
        if t.trial.id in done:
            emit("skipped", t, {})
    pending = [t for t in trials if t.trial.id not in done]
    if pending:
        jobs = [TrialJob(t, t.trial, trial_spec(arms[t.arm].spec, t.trial, t.seed), t.seed)
                for t in pending]  # fmt: skip
        run_trials(jobs, configs, validation, table, out, run.failed, emit, ray_address,
                   config.evaluate, tokenizer_bytes)  # fmt: skip
    found = {row["trial_id"]: row for row in table.rows([t.trial.id for t in trials])}
    for t in trials:
        if t.trial.id in found:
            run.rows.setdefault(t.arm, []).append({**found[t.trial.id], "arm": t.arm})
    return run


def _record_trials(out: Path, trials: Sequence[ArmTrial]) -> None:
    """Add the plan's trial ids to `<out>/trials.json` (earlier ones kept: a report of a
    changed config still names old rows)."""
    path = out / "trials.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    for t in trials:
        known[t.trial.id] = {"arm": t.arm, "seed": t.seed, **t.trial.to_dict()}
    path.write_text(json.dumps(known, indent=1, sort_keys=True))
