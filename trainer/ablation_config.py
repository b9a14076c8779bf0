"""What an ablation compares: named arms (one curation each), the seeds, the model and budget.

    holdout: {fraction: 0.1, seed: 1}   # repositories no arm trains on: the evaluation set
    curation: {tokenizer: {vocab_size: 8000}}   # shared by every arm (and the held-out set)
    arms:                               # name -> what differs, on top of `curation`
      raw: {curation: {heuristics: {rules: []}, dedup: {exact: false, near: false}}}
      near-dedup: {curation: {heuristics: {rules: []}}}
      full: {}
    baseline: raw                       # default: the first arm
    seeds: [0, 1]
    model: tiny
    tokens: null                        # D of every trial; null: the smallest arm's tokens
    train: {micro_batch: 8, seq_len: 128, lr: 3.0e-3}
    evaluate: {bits_per_byte: true}

An arm may also set `epochs` (its unique tokens are D / epochs, read that many times: the
repeated-data variant) and `seed_offset` (its seeds are `seeds` + offset: an arm of the same
data under other seeds measures the noise floor). The curation sections are checked by the
pipeline (`corpus.pipeline.ablation`), which owns the curation config.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, Self

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError
from trainer.model_config import MODEL_CONFIGS
from trainer.sweep_config import TRIAL_FIELDS, EvalSettings

ARM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,39}$")
METRICS = ("val_loss", "bits_per_byte", "humaneval_bits_per_byte")


@dataclass(frozen=True)
class ArmConfig(ConfigBase):
    """One arm: the curation overrides that make it, and how it reads its data."""

    section = "ablation.arms"

    curation: dict[str, Any] = field(default_factory=dict)
    """Curation config sections (merged over the ablation's `curation`)."""
    epochs: float = 1.0
    """Epochs over the arm's unique tokens: U = D / epochs (>= 1)."""
    seed_offset: int = 0
    """Added to every seed: the same curation under other seeds (a noise-floor arm)."""


@dataclass(frozen=True)
class AblationConfig(ConfigBase):
    """Arms that differ by one curation choice, each trained with every seed."""

    section = "ablation"

    arms: dict[str, ArmConfig]
    """Arm name -> its settings (at least two arms)."""
    seeds: tuple[int, ...] = (0, 1)
    """Seeds of every arm (>= 2: the spread between seeds is the noise)."""
    baseline: str | None = None
    """The arm the others are compared with (default: the first)."""
    model: str = "tiny"
    """Named model size (trainer.model_config.MODEL_CONFIGS)."""
    tokens: int | None = None
    """D, training tokens of every trial; None: the largest every arm affords, min over arms
    of unique tokens x epochs (`trainer.ablation.budget`)."""
    curation: dict[str, Any] = field(default_factory=dict)
    """Curation sections shared by every arm and the held-out set."""
    holdout: dict[str, Any] = field(default_factory=lambda: {"fraction": 0.1})
    """The held-out repositories (`holdout` curation section: fraction, seed)."""
    languages: tuple[str, ...] = ()
    """Languages the trials train and are evaluated on; empty: those every arm and the
    held-out set have, each at least `min_share` of the smallest arm."""
    min_share: float = 0.01
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields (not model, seed, max_steps or output folders)."""
    evaluate: EvalSettings = field(default_factory=lambda: EvalSettings(bits_per_byte=True))
    """Bits per byte (default on) and HumanEval pass@k of each trial's final model."""
    alpha: float = 0.05
    """Significance level of the paired t-test across seeds."""

    def __post_init__(self) -> None:
        if not isinstance(self.arms, dict) or len(self.arms) < 2:
            raise ConfigError("ablation arms must name at least two arms (name: {curation: ..})")
        arms = {}
        for name, arm in self.arms.items():
            if not isinstance(name, str) or not ARM_NAME.match(name):
                raise ConfigError(
                    f"ablation arm name {name!r} must be 1-40 of a-z 0-9 _ . + - (it names a "
                    "version)"
                )
            if arm is None:
                arm = {}
            if isinstance(arm, dict):
                arm = _build(ArmConfig, f"arms.{name}", arm)
            if not isinstance(arm.epochs, int | float) or not arm.epochs >= 1:
                raise ConfigError(f"ablation arms.{name}.epochs must be >= 1, got {arm.epochs!r}")
            if not isinstance(arm.curation, dict):
                raise ConfigError(f"ablation arms.{name}.curation must be a mapping of sections")
            if "holdout" in arm.curation:
                raise ConfigError(f"ablation arms.{name}.curation sets holdout: the held-out "
                                  "repositories are the ablation's `holdout`, one for all arms")
            arms[name] = arm
        object.__setattr__(self, "arms", arms)
        seeds = tuple(self.seeds) if not isinstance(self.seeds, int) else (self.seeds,)
        if len(seeds) < 2 or len(set(seeds)) != len(seeds) or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds
        ):
            raise ConfigError(f"ablation seeds must list >= 2 distinct integers >= 0 (the seed "
                              f"spread is the noise), got {list(seeds)}")  # fmt: skip
        object.__setattr__(self, "seeds", seeds)
        if self.baseline is None:
            object.__setattr__(self, "baseline", next(iter(arms)))
        elif self.baseline not in arms:
            raise ConfigError(f"ablation baseline {self.baseline!r} is not an arm: "
                              f"choose among {list(arms)}")  # fmt: skip
        if self.model not in MODEL_CONFIGS:
            raise ConfigError(f"ablation model {self.model!r} is unknown; choose among "
                              f"{sorted(MODEL_CONFIGS)}")  # fmt: skip
        if self.tokens is not None and (isinstance(self.tokens, bool) or self.tokens < 1):
            raise ConfigError(f"ablation tokens must be a positive integer or null, "
                              f"got {self.tokens!r}")  # fmt: skip
        if "holdout" in self.curation:
            raise ConfigError("ablation curation sets holdout: give it as the ablation's own "
                              "`holdout` (fraction, seed)")  # fmt: skip
        if not isinstance(self.holdout, dict) or not 0 < self.holdout.get("fraction", 0) < 1:
            raise ConfigError("ablation holdout.fraction must be in (0, 1): the evaluation set "
                              "is the held-out repositories")  # fmt: skip
        if "side" in self.holdout:
            raise ConfigError("ablation holdout.side is set by the ablation (arms: train, "
                              "evaluation set: heldout): remove it")  # fmt: skip
        object.__setattr__(self, "languages", tuple(self.languages))
        if not 0 <= self.min_share < 1:
            raise ConfigError(f"ablation min_share must be in [0, 1), got {self.min_share}")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"ablation alpha must be in (0, 0.5), got {self.alpha}")
        reserved = sorted(set(self.train) & set(TRIAL_FIELDS))
        if reserved:
            raise ConfigError(f"ablation train sets {reserved}, which the ablation sets per "
                              "trial: remove them (the model goes in `model`, seeds in "
                              "`seeds`)")  # fmt: skip
        from trainer.train_config import TrainConfig

        TrainConfig.from_dict({**self.train, "model": self.model})  # names a bad field
        if isinstance(self.evaluate, dict):
            object.__setattr__(self, "evaluate", _build(EvalSettings, "evaluate", self.evaluate))

    @property
    def seq_len(self) -> int:
        return int(self.train.get("seq_len", 128))

    def arm_seeds(self, arm: str) -> list[int]:
        return [s + self.arms[arm].seed_offset for s in self.seeds]

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["arms"] = {k: v.to_dict() if hasattr(v, "to_dict") else v
                        for k, v in self.arms.items()}  # fmt: skip
        return data

    def fingerprint(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise ConfigError("an ablation config must be a mapping")
        return super().from_dict(data)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        """An arm written as `name:` (null) is an arm of the shared curation; an unknown arm
        field is named with its arm (the generic message cannot see inside the mapping)."""
        arms = data.get("arms")
        if isinstance(arms, dict):
            known = sorted(f.name for f in fields(ArmConfig))
            data = {**data, "arms": {name: {} if arm is None else arm
                                     for name, arm in arms.items()}}  # fmt: skip
            for name, arm in data["arms"].items():
                unknown = sorted(set(arm) - set(known)) if isinstance(arm, dict) else []
                if unknown:
                    raise ConfigError(f"unknown field(s) {unknown} in ablation arms.{name}; "
                                      f"known: {known}")  # fmt: skip
        return data


def _build(cls: type, name: str, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"ablation {name} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown} in ablation {name}; known: {sorted(known)}")
    return cls(**data)
