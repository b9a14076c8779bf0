"""The epoch planner's math: a mixture of languages, a budget, and the data-constrained law.

A mixture gives each language i its unique tokens U_i and a weight w_i (normalised). Training
on D tokens draws D_i = w_i D from language i, that is D_i / U_i epochs of it.

How the law sees a mixture (our choice; the paper fits one distribution): each language's
repeated tokens decay on their own, so the effective data is the sum of the components'
D'_i = U'_i + U'_i R_D* (1 - exp(-R_i/R_D*)) with U'_i = min(U_i, D_i) and R_i = D_i/U'_i - 1,
and the unique tokens the run sees, U_seen = sum_i U'_i, set the parameter side
(U_N = min(N, D_to_N(U_seen))). With one language this is exactly the law.

Which (N, D): every plan is compute-optimal under the law for the mixture's data. Given the
compute C, N minimises the loss with D = C/(6N); given only N (or only D), the plan is the
compute budget whose optimum has that N (or D). Given N and D together, the plan evaluates
that run as is (e.g. replit-code-v1-3b's 2.7B params on 525B tokens).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq

from trainer.scaling import (
    FLOPS_PER_PARAM_TOKEN,
    ScalingError,
    ScalingLaw,
    argmin_around,
    check_positive,
    effective_count,
)

#: Epochs beyond which repeated data costs measurable loss (Muennighoff et al. 2023: "up to
#: 4 epochs of repeated data yields negligible changes to loss compared to having unique data").
MEASURABLE_EPOCHS = 4.0


@dataclass(frozen=True)
class ComponentPlan:
    """One language of the mixture under the plan."""

    language: str
    """Language name, as in the version's statistics."""
    weight: float
    """Share of the training tokens (weights normalised to sum to 1)."""
    unique: float
    """U_i, unique tokens of this language in the version."""
    tokens: float
    """D_i = weight * D, training tokens drawn from this language."""
    epochs: float
    """D_i / U_i."""
    effective_tokens: float
    """D'_i: the language's tokens counted at their decayed value."""
    next_epoch_value: float
    """Value of one more epoch of this language relative to fresh data: exp(-R_i / R_D*)."""


@dataclass(frozen=True)
class Plan:
    """Model size, tokens and epochs for a mixture, with the law's predictions."""

    basis: str
    """What was given: "compute", "params", "tokens" or "params+tokens"."""
    compute: float
    """Training FLOPs, C = 6 N D."""
    params: float
    """N, model parameters."""
    tokens: float
    """D, training tokens (all components, all epochs)."""
    unique: float
    """Unique tokens available in the mixture's languages."""
    unique_seen: float
    """U_seen = sum_i min(U_i, D_i): the unique tokens the run reads at least once."""
    loss: float
    """Predicted loss (C4-calibrated: compare plans, do not read it as a code loss)."""
    unique_data_loss: float
    """Predicted loss of the same N and D if every token were fresh."""
    effective_data: float
    """D' = sum_i D'_i."""
    effective_params: float
    """N', excess parameters counted at their decayed value."""
    next_epoch_value: float
    """Token-weighted value of one more pass over the mixture relative to fresh data."""
    components: tuple[ComponentPlan, ...]
    """One entry per weighted language, in the order of the weights."""
    warnings: tuple[str, ...]
    """Components repeated past ~4 epochs (measurable loss) or R_D* repetitions (no returns)."""

    @property
    def repetition_cost(self) -> float:
        """Relative loss increase of this plan over the same run on fresh data."""
        return self.loss / self.unique_data_loss - 1.0

    def to_dict(self) -> dict:
        """A JSON-ready dict (plain floats, lists)."""
        data = asdict(self)
        data["components"] = [asdict(c) for c in self.components]
        data["warnings"] = list(self.warnings)
        data["repetition_cost"] = self.repetition_cost
        return data

    def rows(self) -> list[tuple[str, ...]]:
        """A header and one row per component, formatted for a table."""
        header = ("language", "weight", "unique", "tokens", "epochs", "effective", "next epoch")
        return [header] + [
            (
                c.language,
                f"{c.weight:.1%}",
                human(c.unique),
                human(c.tokens),
                f"{c.epochs:.2f}",
                human(c.effective_tokens),
                f"{c.next_epoch_value:.0%}",
            )
            for c in self.components
        ]

    def summary_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the plan's totals."""
        share = self.effective_data / self.tokens
        return [
            ("given", self.basis),
            ("compute", f"{self.compute:.3g} FLOPs"),
            ("model size", human(self.params) + " params"),
            ("training tokens", human(self.tokens)),
            ("unique tokens seen", human(self.unique_seen)),
            ("effective data", f"{human(self.effective_data)} ({share:.1%} of the tokens)"),
            ("predicted loss", f"{self.loss:.4f} (+{self.repetition_cost:.2%} vs fresh data)"),
            ("value of one more epoch", f"{self.next_epoch_value:.0%}"),
        ]


def human(count: float) -> str:
    """1.5e9 -> "1.50B"."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(count) >= scale:
            return f"{count / scale:.2f}{suffix}"
    return f"{count:.0f}"


class _Mixture:
    """Validated, normalised mixture arrays and the law evaluated on them (vectorised in D)."""

    def __init__(self, unique: Mapping[str, float], weights: Mapping[str, float], law: ScalingLaw):
        if not weights:
            raise ScalingError("weights are empty: give each language to train on a weight > 0")
        unknown = [lang for lang in weights if lang not in unique]
        if unknown:
            known = ", ".join(sorted(unique)) or "none"
            raise ScalingError(
                f"unknown language {unknown[0]!r} in weights: the version has unique tokens for "
                f"{known}; fix the mixture's language names"
            )
        self.languages = list(weights)
        raw = [check_positive(f"weight of {lang!r}", weights[lang]) for lang in self.languages]
        self.weights = np.array(raw) / sum(raw)
        self.unique = np.array(
            [check_positive(f"unique tokens of {lang!r}", unique[lang]) for lang in self.languages]
        )
        self.law = law

    def parts(self, tokens):
        """Per-component tokens, seen unique tokens and effective tokens; shape (..., languages)."""
        per = np.multiply.outer(tokens, self.weights)
        seen = np.minimum(self.unique, per)
        repeats = np.maximum(per / seen - 1.0, 0.0)
        return per, seen, effective_count(seen, repeats, self.law.rd_star)

    def loss(self, params, tokens):
        _, seen, effective = self.parts(tokens)
        n_eff = self.law.effective_params(params, seen.sum(axis=-1))
        return self.law.loss_from_effective(n_eff, effective.sum(axis=-1))

    def optimum(self, compute: float) -> float:
        """Compute-optimal N for the mixture (D = C / 6N)."""
        budget = compute / FLOPS_PER_PARAM_TOKEN

        def objective(log_n):
            params = np.exp(log_n)
            return self.loss(params, budget / params)

        chinchilla_params, _ = self.law.chinchilla_optimal(compute)
        return math.exp(argmin_around(objective, math.log(chinchilla_params)))

    def optimal_tokens(self, compute: float) -> float:
        """Compute-optimal D for the mixture."""
        return compute / FLOPS_PER_PARAM_TOKEN / self.optimum(compute)


def plan_mixture(
    unique: Mapping[str, float],
    weights: Mapping[str, float],
    *,
    compute: float | None = None,
    params: float | None = None,
    tokens: float | None = None,
    law: ScalingLaw | None = None,
) -> Plan:
    """Plan a run on a mixture; give `compute`, or `params`, or `tokens`, or params and tokens.

    unique: language -> unique tokens in the version (languages not in `weights` are unused).
    weights: language -> weight > 0 (normalised here).
    """
    law = law or ScalingLaw()
    mixture = _Mixture(unique, weights, law)
    named = (("compute", compute), ("params", params), ("tokens", tokens))
    given = tuple(name for name, value in named if value is not None)
    if given == ("compute",):
        compute = check_positive("compute", compute)
        params = mixture.optimum(compute)
    elif given == ("params",):
        params = check_positive("params", params)
        compute = _budget_for(mixture, mixture.optimum, params, "params")
    elif given == ("tokens",):
        tokens = check_positive("tokens", tokens)
        compute = _budget_for(mixture, mixture.optimal_tokens, tokens, "tokens")
        params = mixture.optimum(compute)
    elif given == ("params", "tokens"):
        params, tokens = check_positive("params", params), check_positive("tokens", tokens)
        compute = FLOPS_PER_PARAM_TOKEN * params * tokens
    else:
        raise ScalingError(
            f"give exactly one of compute, params or tokens (or params and tokens), got "
            f"{' and '.join(given) or 'none'}"
        )
    if given != ("params", "tokens"):  # keep given tokens exact
        tokens = compute / FLOPS_PER_PARAM_TOKEN / params
    return _plan("+".join(given), mixture, compute, params, tokens)


def _budget_for(mixture: _Mixture, optimum_of, target: float, what: str) -> float:
    """The compute whose optimal `what` (N or D, as returned by optimum_of(C)) equals target."""
    law = mixture.law
    # Without a data constraint N = G (C/6)^(b/(a+b)) and D = C/(6N); repetition moves the
    # optimum to fewer parameters and more tokens, so start the bracket well on each side.
    exponent = law.beta / (law.alpha + law.beta)
    if what == "params":
        guess = FLOPS_PER_PARAM_TOKEN * (target / law.G) ** (1.0 / exponent)
    else:
        guess = FLOPS_PER_PARAM_TOKEN * (target * law.G) ** (1.0 / (1.0 - exponent))

    def gap(log_c: float) -> float:
        return math.log(optimum_of(math.exp(log_c))) - math.log(target)

    low, high = math.log(guess) - math.log(1e4), math.log(guess) + math.log(1e4)
    if gap(low) > 0:
        raise ScalingError(f"{what}={target:.3g} is too small for this law: pass compute instead")
    if gap(high) < 0:
        raise ScalingError(
            f"no compute budget makes {what}={target:.3g} optimal for these unique tokens: the "
            "law's optimum saturates (returns vanish); pass params and tokens together"
        )
    return math.exp(brentq(gap, low, high, xtol=1e-12, rtol=1e-12))


def _plan(basis: str, mixture: _Mixture, compute: float, params: float, tokens: float) -> Plan:
    law = mixture.law
    per, seen, effective = mixture.parts(tokens)
    unique_seen = float(seen.sum())
    values = [
        1.0 if math.isinf(law.rd_star) else math.exp(-max(d / u - 1.0, 0.0) / law.rd_star)
        for d, u in zip(per, mixture.unique, strict=True)
    ]
    components = tuple(
        ComponentPlan(
            language=lang,
            weight=float(w),
            unique=float(u),
            tokens=float(d),
            epochs=float(d / u),
            effective_tokens=float(e),
            next_epoch_value=v,
        )
        for lang, w, u, d, e, v in zip(
            mixture.languages, mixture.weights, mixture.unique, per, effective, values, strict=True
        )
    )
    return Plan(
        basis=basis,
        compute=compute,
        params=params,
        tokens=tokens,
        unique=float(mixture.unique.sum()),
        unique_seen=unique_seen,
        loss=float(mixture.loss(params, tokens)),
        unique_data_loss=law.loss(params, tokens),
        effective_data=float(effective.sum()),
        effective_params=law.effective_params(params, unique_seen),
        next_epoch_value=float(sum(w * v for w, v in zip(mixture.weights, values, strict=True))),
        components=components,
        warnings=tuple(w for c in components if (w := epoch_warning(c, law.rd_star))),
    )


def epoch_warning(component: ComponentPlan, rd_star: float) -> str | None:
    """A warning for a component repeated past R_D* repetitions, or past ~4 epochs, else None."""
    name, epochs = component.language, component.epochs
    if epochs - 1.0 > rd_star:
        return (
            f"{name}: {epochs:.1f} epochs is past R_D* = {rd_star:.1f} repetitions: returns "
            f"vanish (one more epoch is worth {component.next_epoch_value:.0%} of fresh data); "
            f"add unique {name} data or lower its weight"
        )
    if epochs > MEASURABLE_EPOCHS:
        return (
            f"{name}: {epochs:.1f} epochs > {MEASURABLE_EPOCHS:g}: repeated tokens cost "
            f"measurable loss (one more epoch is worth {component.next_epoch_value:.0%} of "
            f"fresh data); add unique {name} data or lower its weight"
        )
    return None
