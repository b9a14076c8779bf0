"""The data-constrained law fitted to a sweep's results, and how it compares to the paper's.

A sweep has far fewer runs than the paper's 182, so the fit refits only what the runs can
identify and keeps the rest at the paper's C4 values (`ScalingLaw()`). With `fit.free: auto`:

- R_D* when at least two trials repeat data (D > U): the decay of repeated tokens, the point
  of the sweep;
- log B (the data term's scale) always, and log A when the sweep has two or more model sizes,
  or when the paper's parameter term alone exceeds the lowest loss observed (then the paper's
  A cannot describe these runs, as for tiny CPU models on code);
- log E, the irreducible loss (absolute losses depend on the data and the tokenizer).

The exponents alpha, beta and R_N* stay at the paper's values: pinning them needs runs spread
over orders of magnitude of N and D. fit_law needs two runs per free parameter, so with fewer
runs the list is cut from its end (E first, then A, then B; R_D* is kept longest).

The comparison: the paper's absolute losses are C4's, so its law is compared by shape: for
each run it predicts L_paper(N, D, U) / L_paper(N, D, D), the loss relative to one epoch on
fresh data, times the fitted law's one-epoch loss L_fit(N, D, D).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainer.fit import BOUNDS, Run, fit_law, predict_loss
from trainer.scaling import ScalingError, ScalingLaw

PAPER = ScalingLaw()
#: `auto`'s order of preference: the first names survive when runs are few.
PREFERENCE = ("rd_star", "b", "a", "e")


@dataclass(frozen=True)
class SweepFit:
    """The fit of a sweep, or why there is none."""

    runs: int
    """Trials the fit used."""
    free: tuple[str, ...] = ()
    """Parameters fitted; the others keep the paper's values."""
    law: ScalingLaw | None = None
    """The fitted law (None when skipped)."""
    rmse_fit: float | None = None
    """Root mean square of log(predicted / observed loss) under the fitted law."""
    rmse_paper: float | None = None
    """The same for the paper's law by shape (relative to one epoch, anchored at the fit)."""
    at_bound: tuple[str, ...] = ()
    """Free parameters that ended on their search bound (e.g. R_D* = 1e5: no measurable
    repetition cost in these runs)."""
    skipped: str | None = None
    """Why there is no fit."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(n for n in ("a", "b", "e", "alpha", "beta", "rd_star", "rn_star")
                     if n not in self.free)  # fmt: skip

    def lines(self) -> list[str]:
        """Human-readable summary."""
        if self.law is None:
            return [f"fit skipped: {self.skipped}"]
        law = self.law
        out = [
            f"fitted on {self.runs} trials: {', '.join(self.free)} "
            f"(fixed at the paper's values: {', '.join(self.fixed)})",
            f"R_D* = {law.rd_star:.4g} (paper: {PAPER.rd_star:.4g})"
            + ("" if "rd_star" in self.free else " (not fitted)"),
            f"E = {law.E:.4g}, A = {law.A:.4g}, B = {law.B:.4g}, alpha = {law.alpha:.4g}, "
            f"beta = {law.beta:.4g}, R_N* = {law.rn_star:.4g}",
            f"RMS log error: fit {self.rmse_fit:.4f}, paper's law by shape "
            f"{self.rmse_paper:.4f} (relative to one epoch, anchored at the fit)",
        ]
        if self.at_bound:
            out.append(f"at their search bound: {', '.join(self.at_bound)}")
        return out + list(self.notes)

    def to_dict(self) -> dict[str, Any]:
        law = None if self.law is None else {
            n: getattr(self.law, n) for n in ("a", "b", "e", "alpha", "beta", "rd_star", "rn_star")
        }  # fmt: skip
        return {
            "runs": self.runs,
            "free": list(self.free),
            "fixed": list(self.fixed),
            "law": law,
            "paper_rd_star": PAPER.rd_star,
            "rmse_fit": self.rmse_fit,
            "rmse_paper": self.rmse_paper,
            "at_bound": list(self.at_bound),
            "skipped": self.skipped,
            "notes": list(self.notes),
        }


def runs_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Run]:
    return [
        Run(float(r["params"]), float(r["tokens"]), float(r["unique_tokens"]), float(r["val_loss"]))
        for r in rows
    ]


def choose_free(runs: Sequence[Run]) -> tuple[str, ...]:
    """The parameters `auto` fits for these runs (see the module docstring)."""
    repeated = sum(r.tokens > r.unique for r in runs)
    sizes = {r.params for r in runs}
    floor = min((r.loss for r in runs), default=math.inf)
    a_term = max((PAPER.A / r.params**PAPER.alpha for r in runs), default=0.0)
    wanted = {
        "rd_star": repeated >= 2,
        "b": True,
        "a": len(sizes) >= 2 or a_term >= floor,
        "e": True,
    }
    chosen = [n for n in PREFERENCE if wanted[n]]
    return tuple(chosen[: len(runs) // 2])


def fit_sweep(runs: Sequence[Run], free: str | Sequence[str] = "auto") -> SweepFit:
    """Fit the law to the runs (paper's values as the start and for fixed parameters)."""
    runs = list(runs)
    names = choose_free(runs) if free == "auto" else tuple(free)
    if not names:
        return SweepFit(len(runs), skipped=f"{len(runs)} trial(s): the fit needs at least 2")
    try:
        fit = fit_law(runs, free=names, initial=PAPER)
    except ScalingError as exc:
        return SweepFit(len(runs), free=names, skipped=str(exc))
    law = fit.law
    observed = np.log([r.loss for r in runs])
    fitted = np.log(predict_loss(law, runs))
    fresh = [Run(r.params, r.tokens, r.tokens, r.loss) for r in runs]
    shape = (
        np.log(predict_loss(PAPER, runs))
        - np.log(predict_loss(PAPER, fresh))
        + np.log(predict_loss(law, fresh))
    )
    values = {"a": law.a, "b": law.b, "e": law.e, "alpha": law.alpha, "beta": law.beta,
              "rd_star": math.log(law.rd_star), "rn_star": math.log(law.rn_star)}  # fmt: skip
    at_bound = tuple(
        n for n in fit.free if np.isclose(values[n], BOUNDS[n], rtol=0, atol=1e-6).any()
    )
    notes = ()
    if "rd_star" not in fit.free:
        notes = ("R_D* kept at the paper's value: fewer than 2 trials repeat data, or too few "
                 "trials to fit it",)  # fmt: skip
    return SweepFit(
        runs=len(runs),
        free=fit.free,
        law=law,
        rmse_fit=float(np.sqrt(np.mean((fitted - observed) ** 2))),
        rmse_paper=float(np.sqrt(np.mean((shape - observed) ** 2))),
        at_bound=at_bound,
        notes=notes,
    )


def relative_paper_curve(params: float, tokens: float, epochs: np.ndarray) -> np.ndarray:
    """L_paper(N, D, D/epochs) / L_paper(N, D, D): the paper's loss relative to one epoch."""
    unique = tokens / np.asarray(epochs, dtype=float)
    return np.asarray(PAPER.loss(params, tokens, unique)) / PAPER.loss(params, tokens, tokens)
