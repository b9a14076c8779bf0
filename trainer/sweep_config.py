"""What a sweep trains: the grid's axes, the mode that ties them together, and the fit.

Two modes, as in Muennighoff et al. 2023 (each fixes one of D, C so that two axes and the
model size determine a trial):

- ``fixed_tokens``: every trial of a model size trains on D tokens (each value of ``tokens``);
  ``epochs`` sets the unique-token budget U = D / epochs.
- ``fixed_compute``: a compute budget C (each value of ``compute``) and a model size give
  D = C / (6 N); ``unique_tokens`` budgets give the epochs D / U.

The YAML mirrors the fields (``train`` is passed to the trainer's `TrainConfig`):

    mode: fixed_tokens
    models: [tiny]
    tokens: [200000]
    epochs: [1, 2, 4]
    seed: 0
    train: {micro_batch_size: 4, seq_len: 128, lr: 3.0e-3}
    fit: {free: auto}
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Self

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError
from trainer.fit import NAMES
from trainer.model_config import MODEL_CONFIGS

Mode = Literal["fixed_tokens", "fixed_compute"]
MODES: tuple[str, ...] = ("fixed_tokens", "fixed_compute")

#: TrainConfig fields the sweep sets per trial; a sweep config may not set them in `train`.
TRIAL_FIELDS = ("model", "seed", "max_steps", "run_dir", "checkpoint_dir", "resume", "stop_at")


@dataclass(frozen=True)
class FitSettings(ConfigBase):
    """Which scaling-law parameters the sweep's fit refits (the rest keep the paper's values)."""

    section = "fit"

    free: str | tuple[str, ...] = "auto"
    """"auto" (see `trainer.sweep_fit.choose_free`) or names among a, b, e, alpha, beta,
    rd_star, rn_star."""

    def __post_init__(self) -> None:
        if isinstance(self.free, str):
            if self.free != "auto":
                raise ConfigError(f"fit.free must be 'auto' or a list of names, got {self.free!r}")
            return
        names = tuple(self.free)
        unknown = sorted(set(names) - set(NAMES))
        if unknown or not names or len(set(names)) != len(names):
            raise ConfigError(
                f"fit.free must list distinct names among {list(NAMES)}, got {list(names)}"
            )
        object.__setattr__(self, "free", names)


@dataclass(frozen=True)
class EvalSettings(ConfigBase):
    """What each trial measures after training, beside the validation loss."""

    section = "sweep.evaluate"

    bits_per_byte: bool = False
    """Bits per byte per language on the validation shards, and on the HumanEval probe."""
    humaneval_samples: int = 0
    """Completions per HumanEval problem for pass@k (0: no HumanEval)."""
    humaneval_k: tuple[int, ...] = (1,)
    humaneval_problems: int | None = None
    """Only the first N problems (None: all 164)."""
    max_new_tokens: int = 128

    def __post_init__(self) -> None:
        if not isinstance(self.bits_per_byte, bool):
            raise ConfigError(f"evaluate.bits_per_byte must be true or false, "
                              f"got {self.bits_per_byte!r}")  # fmt: skip
        ks = (self.humaneval_k,) if isinstance(self.humaneval_k, int) else self.humaneval_k
        ks = tuple(ks)
        if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
            raise ConfigError(f"evaluate.humaneval_k must list integers >= 1, got {ks!r}")
        object.__setattr__(self, "humaneval_k", ks)
        if not isinstance(self.humaneval_samples, int) or self.humaneval_samples < 0:
            raise ConfigError("evaluate.humaneval_samples must be an integer >= 0")
        if self.humaneval_samples and self.humaneval_samples < max(ks):
            raise ConfigError(f"evaluate: pass@{max(ks)} needs humaneval_samples >= {max(ks)}")
        if self.humaneval_problems is not None and not 1 <= self.humaneval_problems <= 164:
            raise ConfigError("evaluate.humaneval_problems must be in 1..164 or null")

    @property
    def enabled(self) -> bool:
        return self.bits_per_byte or self.humaneval_samples > 0


@dataclass(frozen=True)
class SweepConfig(ConfigBase):
    """A grid of training runs over unique-token budgets, epochs and model sizes."""

    section = "sweep"

    models: tuple[str, ...]
    """Named model sizes (`trainer.model_config.MODEL_CONFIGS`): [tiny] on CPU, [125m, 350m]."""
    mode: Mode = "fixed_tokens"
    """"fixed_tokens" (D given, U = D / epochs) or "fixed_compute" (C given, D = C / 6N)."""
    tokens: tuple[int, ...] = ()
    """fixed_tokens: training tokens D of each trial; empty means the mixture's token budget."""
    epochs: tuple[float, ...] = ()
    """fixed_tokens: epochs (>= 1); the unique-token budget is U = round(D / epochs)."""
    compute: tuple[float, ...] = ()
    """fixed_compute: training FLOPs budgets C; D = round(C / (6 N))."""
    unique_tokens: tuple[int, ...] = ()
    """fixed_compute: unique-token budgets U of the mixture (split over languages by weight)."""
    seed: int = 0
    """Seeds the unique-token subsets, the data order and the model initialisation."""
    train: dict[str, Any] = field(default_factory=dict)
    """Training hyper-parameters for the trainer's TrainConfig (not model, seed, max_steps or
    the output folders, which the sweep sets per trial)."""
    fit: FitSettings = field(default_factory=FitSettings)
    """The scaling-law fit on the results."""
    evaluate: EvalSettings = field(default_factory=EvalSettings)
    """Bits per byte and HumanEval pass@k of each trial's final model (needs a checkpoint:
    written for the evaluation, removed after it unless `checkpoints`)."""
    checkpoints: bool = False
    """Keep each trial's checkpoints in <out>/trials/<id>/ (an interrupted trial then resumes
    from its last one); off, trials write none (a sweep of large models would fill the disk)."""

    def __post_init__(self) -> None:
        self._tuple("models", str)
        if not self.models:
            raise ConfigError("sweep models is empty: list model sizes, e.g. [tiny]")
        unknown = [m for m in self.models if m not in MODEL_CONFIGS]
        if unknown:
            raise ConfigError(
                f"unknown model size(s) {unknown} in sweep models; choose among "
                f"{sorted(MODEL_CONFIGS)}"
            )
        if self.mode not in MODES:
            raise ConfigError(f"sweep mode must be one of {list(MODES)}, got {self.mode!r}")
        self._tuple("tokens", int)
        self._tuple("epochs", float)
        self._tuple("compute", float)
        self._tuple("unique_tokens", int)
        for name in ("tokens", "unique_tokens", "compute"):
            bad = [v for v in getattr(self, name) if not v > 0]
            if bad:
                raise ConfigError(f"sweep {name} must be positive, got {bad}")
        bad = [e for e in self.epochs if not e >= 1]
        if bad:
            raise ConfigError(
                f"sweep epochs must be >= 1 (a trial reads its unique tokens at least once), "
                f"got {bad}"
            )
        if self.mode == "fixed_tokens":
            self._axes(needs=("epochs",), forbids=("compute", "unique_tokens"))
        else:
            self._axes(needs=("compute", "unique_tokens"), forbids=("tokens", "epochs"))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"sweep seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.train, dict):
            raise ConfigError("sweep train must be a mapping of TrainConfig fields")
        reserved = sorted(set(self.train) & set(TRIAL_FIELDS))
        if reserved:
            raise ConfigError(
                f"sweep train sets {reserved}, which the sweep sets per trial: remove them "
                "(model sizes go in `models`, the seed in `seed`)"
            )
        from trainer.train_config import TrainConfig  # no torch: cheap

        TrainConfig.from_dict({**self.train, "model": self.models[0]})  # names a bad field
        if not isinstance(self.checkpoints, bool):
            raise ConfigError(f"sweep checkpoints must be true or false, got {self.checkpoints!r}")
        if isinstance(self.fit, dict):
            object.__setattr__(self, "fit", _build(FitSettings, "fit", self.fit))
        if isinstance(self.evaluate, dict):
            object.__setattr__(self, "evaluate", _build(EvalSettings, "evaluate", self.evaluate))

    def _tuple(self, name: str, kind: type) -> None:
        """Coerce a list axis to a tuple of `kind`, refusing values of the wrong type."""
        value = getattr(self, name)
        if isinstance(value, str | int | float):
            value = (value,)
        out = []
        for item in value:
            ok = isinstance(item, str) if kind is str else _is_number(item, integral=kind is int)
            if not ok:
                raise ConfigError(f"sweep {name} must be a list of {kind.__name__}, got {item!r}")
            if kind is int and not isinstance(item, int):
                item = float(item)
            out.append(kind(item))
        if len(set(out)) != len(out):
            raise ConfigError(f"sweep {name} lists a value twice: {out}")
        object.__setattr__(self, name, tuple(out))

    def _axes(self, needs: tuple[str, ...], forbids: tuple[str, ...]) -> None:
        for name in needs:
            if not getattr(self, name):
                raise ConfigError(f"sweep mode {self.mode} needs `{name}`: give a list of values")
        for name in forbids:
            if getattr(self, name):
                derived = "tokens D = C/(6N)" if name in ("tokens", "epochs") else "U = D/epochs"
                raise ConfigError(
                    f"sweep mode {self.mode} derives `{name}` ({derived}): remove it, or "
                    f"use the other mode"
                )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise ConfigError("a sweep config must be a mapping")
        return super().from_dict(data)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        """YAML quirks of the axes: one value for a list, `2e5` (read as a string) for 200000."""
        data = dict(data)
        for name, integral in (("models", None), ("tokens", True), ("unique_tokens", True),
                               ("epochs", False), ("compute", False)):  # fmt: skip
            value = data.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                value = [value]
            if isinstance(value, list | tuple):
                data[name] = list(value) if integral is None else [_yaml_number(v) for v in value]
        return data

    def fingerprint(self) -> str:
        data = self.to_dict()
        if not self.evaluate.enabled:  # a sweep written before evaluations keeps its print
            del data["evaluate"]
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_number(value: Any, integral: bool) -> bool:
    if isinstance(value, str):  # YAML reads 2e5 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            return False
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not math.isfinite(value):
        return False
    return not integral or float(value).is_integer()


def _yaml_number(value: Any) -> Any:
    """`'2e5'` as 200000 (integral floats as ints, so integer axes take them); else as is."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _build(cls: type, name: str, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown} in {name}; known: {sorted(known)}")
    missing = sorted(
        f.name
        for f in fields(cls)
        if f.name not in data and f.default is f.default_factory  # both MISSING: required
    )
    if missing:
        raise ConfigError(f"{name} needs field(s) {missing}")
    return cls(**data)
