"""The sweep's grid: one trial per (model size, D or C, epochs or U), with a stable id.

A trial's unique-token budget U is split over the mixture's languages by weight
(U_i = round(U w_i)), so every language is read the same D / U epochs as the whole mixture.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from corpus.core.errors import CodecorpusError
from trainer.model_config import ModelConfig
from trainer.scaling import FLOPS_PER_PARAM_TOKEN
from trainer.sweep_config import SweepConfig


class SweepError(CodecorpusError, ValueError):
    """A sweep cannot run as configured, or some of its trials failed; the message says why."""


@dataclass(frozen=True)
class MixtureInfo:
    """What the grid needs to know about the mixture the trials train on."""

    name: str
    """Identifies the mixture's data (dataset, version, tokenizer, weights): enters trial ids."""
    weights: Mapping[str, float]
    """Language -> weight (normalised here)."""
    unique: Mapping[str, int]
    """Language -> unique tokens available (the version's train shards)."""
    token_budget: int
    """The mixture's own D: the default `tokens` of a fixed_tokens sweep."""
    vocab_size: int
    """Vocabulary of the mixture's tokenizer: sets the models' parameter counts."""

    @classmethod
    def from_mixture(cls, mixture: Any, vocab_size: int) -> MixtureInfo:
        """From a resolved `corpus.store.mixtures.Mixture`."""
        name = f"{mixture.dataset}@{mixture.version}/{mixture.tokenizer[:12]}"
        return cls(
            name=f"{name} {json.dumps(mixture.weights, sort_keys=True)}",
            weights={c.lang: c.weight for c in mixture.components},
            unique={c.lang: int(c.unique_tokens) for c in mixture.components},
            token_budget=int(mixture.token_budget),
            vocab_size=int(vocab_size),
        )


@dataclass(frozen=True)
class Trial:
    """One training run of the sweep, as planned (the table records what it really trained)."""

    id: str
    """Stable: a hash of everything that fixes the run (model, D, budgets, seed, hparams, data)."""
    model: str
    """Named model size."""
    params: int
    """N, the model's parameters (with the mixture's vocabulary)."""
    tokens: int
    """D, training tokens."""
    unique: int
    """U, the unique-token budget (sum of the per-language budgets)."""
    epochs: float
    """D / U."""
    compute: float
    """6 N D."""
    unique_by_language: dict[str, int] = field(default_factory=dict)
    """U_i, each language's budget."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        return (
            f"{self.id} {self.model} D={self.tokens:,} U={self.unique:,} epochs={self.epochs:.3g}"
        )


def build_grid(config: SweepConfig, mixture: MixtureInfo) -> list[Trial]:
    """The trials of `config` on `mixture`, in a fixed order (models, then D or C, then U)."""
    total = sum(mixture.weights.values())
    weights = {lang: w / total for lang, w in mixture.weights.items()}
    available = sum(mixture.unique.values())
    trials = []
    overrides = {"vocab_size": mixture.vocab_size, **config.train.get("model_overrides", {})}
    for model in config.models:
        model_config = ModelConfig.named(model, **overrides)
        params = model_config.n_params()
        for tokens, unique in _pairs(config, mixture, params):
            if unique > available:
                raise SweepError(
                    f"unique-token budget {unique:,} ({model}, D={tokens:,}) exceeds the "
                    f"mixture's {available:,} unique tokens: lower it, or raise the epochs"
                )
            budgets = _split(unique, weights, mixture.unique, model, tokens)
            unique = sum(budgets.values())
            key = {
                "model": model_config.fingerprint(),
                "tokens": tokens,
                "budgets": budgets,
                "seed": config.seed,
                "train": config.train,
                "mixture": mixture.name,
            }
            digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
            trials.append(
                Trial(
                    id=digest.hexdigest()[:12],
                    model=model,
                    params=params,
                    tokens=tokens,
                    unique=unique,
                    epochs=tokens / unique,
                    compute=FLOPS_PER_PARAM_TOKEN * params * tokens,
                    unique_by_language=budgets,
                )
            )
    _check_unique_ids(trials)
    return trials


def _pairs(config: SweepConfig, mixture: MixtureInfo, params: int) -> list[tuple[int, int]]:
    """(D, U) of each trial of one model size."""
    if config.mode == "fixed_tokens":
        return [
            (tokens, round(tokens / epochs))
            for tokens in config.tokens or (mixture.token_budget,)
            for epochs in config.epochs
        ]
    pairs = []
    for compute in config.compute:
        tokens = round(compute / (FLOPS_PER_PARAM_TOKEN * params))
        for unique in config.unique_tokens:
            if tokens < unique:
                raise SweepError(
                    f"compute {compute:.3g} FLOPs on {params:,} parameters gives D={tokens:,} "
                    f"tokens, fewer than the unique-token budget {unique:,} (under one epoch): "
                    "raise the compute or lower the budget"
                )
            pairs.append((tokens, unique))
    return pairs


def _split(
    unique: int,
    weights: Mapping[str, float],
    available: Mapping[str, int],
    model: str,
    tokens: int,
) -> dict[str, int]:
    budgets = {}
    for lang, weight in weights.items():
        budget = round(unique * weight)
        if budget < 1:
            raise SweepError(
                f"unique-token budget {unique:,} gives {lang!r} (weight {weight:.3g}) no tokens: "
                "raise the budget"
            )
        if budget > available[lang]:
            raise SweepError(
                f"unique-token budget {unique:,} ({model}, D={tokens:,}) needs {budget:,} "
                f"tokens of {lang!r} (weight {weight:.3g}), which has {available[lang]:,}: "
                "lower the budget, or raise the epochs"
            )
        budgets[lang] = budget
    return budgets


def _check_unique_ids(trials: list[Trial]) -> None:
    seen: dict[str, Trial] = {}
    for trial in trials:
        if trial.id in seen:
            raise SweepError(
                f"trials {seen[trial.id].label()} and {trial.label()} are the same run: "
                "remove the duplicate grid values"
            )
        seen[trial.id] = trial
