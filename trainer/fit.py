"""Fit the data-constrained law's parameters to a table of training runs.

As Hoffmann et al. 2022 (approach 3) and Muennighoff et al. 2023 (appendix A) do: minimise the
Huber loss (delta 1e-3) of `LSE(a - alpha log N', b - beta log D', e) - log L` over the runs,
with L-BFGS started from a grid. The gradient is analytic, including the path through
U_N = min(N, D_to_N(U_D)), whose value depends on a, b, alpha and beta. The decay constants
are fitted as log R* so they stay positive.

The grid is screened first (the objective at every start, vectorised) and L-BFGS-B runs from
the `refine` best starts with distinct (a, b, e, alpha, beta): the full Hoffmann grid times the
R* grid has ~10^5 points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from trainer.scaling import ScalingError, ScalingLaw, check_positive

#: Parameter order of the internal vector (rd_star and rn_star are held as their logs).
NAMES = ("a", "b", "e", "alpha", "beta", "rd_star", "rn_star")
CHINCHILLA_NAMES = ("a", "b", "e", "alpha", "beta")
DECAY_NAMES = ("rd_star", "rn_star")

#: Starts: Hoffmann et al.'s grid for (a, b, e, alpha, beta) (alpha = beta = 0 replaced by 0.1,
#: since D_to_N needs alpha > 0) and Muennighoff et al.'s {0, 4, ..., 20} for R* (0 -> 0.5).
DEFAULT_GRID: Mapping[str, tuple[float, ...]] = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.1, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.1, 0.5, 1.0, 1.5, 2.0),
    "rd_star": (0.5, 4.0, 8.0, 12.0, 16.0, 20.0),
    "rn_star": (0.5, 4.0, 8.0, 12.0, 16.0, 20.0),
}
BOUNDS = {
    "a": (-10.0, 50.0),
    "b": (-10.0, 50.0),
    "e": (-5.0, 5.0),
    "alpha": (0.02, 3.0),
    "beta": (0.02, 3.0),
    "rd_star": (math.log(1e-2), math.log(1e5)),
    "rn_star": (math.log(1e-2), math.log(1e5)),
}
_MAX_LOG_REPEATS = 50.0  # N/U_N beyond e^50 changes nothing (exp(-R/R*) == 0) but overflows
_SCREEN_CHUNK = 4096


@dataclass(frozen=True)
class Run:
    """One training run: what was trained and the loss it reached."""

    params: float
    """N, model parameters."""
    tokens: float
    """D, training tokens (all epochs)."""
    unique: float
    """U, unique tokens available (only min(U, D) are seen)."""
    loss: float
    """Final (validation) loss."""


@dataclass(frozen=True)
class Fit:
    """The best fit found and how it was found."""

    law: ScalingLaw
    """Fitted law (parameters not in `free` keep the initial law's values)."""
    objective: float
    """Sum over runs of Huber(log L_pred - log L_obs) at the fit."""
    runs: int
    """Runs the objective was summed over."""
    free: tuple[str, ...]
    """Parameters that were fitted."""
    starts: int
    """L-BFGS-B starts run (after screening the grid)."""
    first_stage: Fit | None = None
    """fit_two_stage: the single-epoch fit of (a, b, e, alpha, beta)."""


class _Data:
    """Per-run constants of the objective: logs and data repetitions (independent of the fit)."""

    def __init__(self, runs: Sequence[Run]) -> None:
        params = np.array([r.params for r in runs])
        tokens = np.array([r.tokens for r in runs])
        seen = np.minimum(np.array([r.unique for r in runs]), tokens)
        self.log_n = np.log(params)
        self.log_u = np.log(seen)
        self.repeats_d = np.maximum(tokens / seen - 1.0, 0.0)
        self.log_loss = np.log(np.array([r.loss for r in runs]))


def _decay(repeats, log_star):
    """log(1 + R*(1 - e^(-R/R*))) and its derivatives by log R* and by R; R* = inf: log(1 + R)."""
    star = np.exp(log_star)
    with np.errstate(invalid="ignore", over="ignore"):
        frac = np.where(np.isinf(star), 0.0, repeats / star)
        kept = np.exp(-frac)  # value of the last repetition relative to a fresh one
        h = np.where(np.isinf(star), 1.0 + repeats, 1.0 + star * -np.expm1(-frac))
        by_log_star = np.where(np.isinf(star), 0.0, star * (-np.expm1(-frac) - frac * kept)) / h
    return np.log(h), by_log_star, kept / h


def _predict(theta: np.ndarray, data: _Data, grad: bool = False):
    """log L_pred for each run; theta has shape (7,) or (7, k, 1) for k starts at once.

    With grad=True (theta of shape (7,)) also returns d log L_pred / d theta, shape (7, runs).
    """
    a, b, e, alpha, beta, log_sd, log_sn = theta
    k = beta / alpha
    log_g = (np.log(alpha) + a - np.log(beta) - b) / (alpha + beta)
    to_n = (1.0 + k) * log_g + k * data.log_u  # log D_to_N(U_D)
    capped = to_n < data.log_n  # U_N = D_to_N(U_D) < N: excess parameters
    log_un = np.where(capped, to_n, data.log_n)
    repeats_n = np.expm1(np.minimum(data.log_n - log_un, _MAX_LOG_REPEATS))
    decay_n, dn_log_sn, kept_n = _decay(repeats_n, log_sn)
    decay_d, dd_log_sd, _ = _decay(data.repeats_d, log_sd)
    log_n_eff = log_un + decay_n
    log_d_eff = data.log_u + decay_d
    t1, t2, t3 = a - alpha * log_n_eff, b - beta * log_d_eff, e + 0.0 * log_n_eff
    top = np.maximum(np.maximum(t1, t2), t3)  # log-sum-exp, shifted by the largest term
    w1, w2, w3 = np.exp(t1 - top), np.exp(t2 - top), np.exp(t3 - top)
    total = w1 + w2 + w3
    pred = top + np.log(total)
    if not grad:
        return pred
    w1, w2, w3 = w1 / total, w2 / total, w3 / total  # softmax: d pred / d term
    # d log N' / d log U_N on the capped branch (0 elsewhere), times d log U_N / d parameter.
    chain = np.where(capped, 1.0 - kept_n * (repeats_n + 1.0), 0.0)
    s = alpha + beta
    dun = {
        "a": (1.0 + k) / s,
        "b": -(1.0 + k) / s,
        "alpha": -(beta / alpha**2) * (log_g + data.log_u) + (1.0 + k) * (1.0 / alpha - log_g) / s,
        "beta": (1.0 / alpha) * (log_g + data.log_u) + (1.0 + k) * (-1.0 / beta - log_g) / s,
    }
    dn = {name: chain * value for name, value in dun.items()}
    gradient = np.stack(
        [
            w1 * (1.0 - alpha * dn["a"]),
            -w1 * alpha * dn["b"] + w2,
            w3,
            w1 * (-log_n_eff - alpha * dn["alpha"]),
            -w1 * alpha * dn["beta"] - w2 * log_d_eff,
            -w2 * beta * dd_log_sd,
            -w1 * alpha * dn_log_sn,
        ]
    )
    return pred, gradient


def _huber(residual: np.ndarray, delta: float) -> np.ndarray:
    """0.5 r^2 for |r| <= delta, delta (|r| - delta/2) beyond (torch's huber_loss)."""
    size = np.abs(residual)
    quad = np.minimum(size, delta)
    return quad * (size - 0.5 * quad)


def _theta(law: ScalingLaw) -> np.ndarray:
    return np.array(
        [law.a, law.b, law.e, law.alpha, law.beta, math.log(law.rd_star), math.log(law.rn_star)]
    )


def _law(theta: np.ndarray) -> ScalingLaw:
    a, b, e, alpha, beta, log_sd, log_sn = (float(v) for v in theta)
    return ScalingLaw(a, b, e, alpha, beta, math.exp(log_sd), math.exp(log_sn))


class _Problem:
    """Maps the free-parameter vector x to the full theta (alpha = beta when tied)."""

    def __init__(
        self, data: _Data, base: np.ndarray, free: tuple[str, ...], tie: bool, delta: float
    ) -> None:
        self.data, self.base, self.delta, self.tie = data, base, delta, tie
        self.free = tuple(n for n in free if not (tie and n == "beta"))
        self.index = [NAMES.index(n) for n in self.free]

    def theta(self, x: np.ndarray) -> np.ndarray:
        theta = self.base.reshape((7,) + (1,) * (x.ndim - 1)) * np.ones((1, *x.shape[1:]))
        theta[self.index] = x
        if self.tie:
            theta[4] = theta[3]
        return theta

    def objective(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        pred, gradient = _predict(self.theta(x), self.data, grad=True)
        residual = pred - self.data.log_loss
        slope = np.clip(residual, -self.delta, self.delta)
        full = (gradient * slope).sum(axis=1)  # not BLAS: its threads spin on tiny products
        if self.tie:
            full[3] += full[4]
        return float(_huber(residual, self.delta).sum()), full[self.index]

    def screen(self, starts: np.ndarray) -> np.ndarray:
        """Objective at each start (rows of `starts`), vectorised in chunks."""
        values = []
        for chunk in np.array_split(starts, max(1, math.ceil(len(starts) / _SCREEN_CHUNK))):
            theta = self.theta(chunk.T[:, :, None])
            residual = _predict(theta, self.data) - self.data.log_loss
            values.append(_huber(residual, self.delta).sum(axis=-1))
        return np.concatenate(values)


def _diverse_best(problem: _Problem, starts: np.ndarray, count: int) -> list[int]:
    """Indices of the `count` best-screened starts, at most one per (a, b, e, alpha, beta).

    The screening objective hardly depends on R*, so without this the best starts would be one
    Chinchilla point repeated with every R*, and one bad basin could take all the refinements.
    """
    scores = problem.screen(starts)
    key_columns = [i for i, n in enumerate(problem.free) if n not in DECAY_NAMES]
    chosen, seen = [], set()
    for i in np.argsort(np.where(np.isfinite(scores), scores, np.inf)):
        key = tuple(starts[i, key_columns])
        if key_columns and key in seen:
            continue
        seen.add(key)
        chosen.append(int(i))
        if len(chosen) == count:
            break
    return chosen


def _check_runs(runs: Iterable[Run]) -> list[Run]:
    checked = []
    for i, run in enumerate(runs):
        for field in ("params", "tokens", "unique", "loss"):
            check_positive(f"run {i} {field}", getattr(run, field))
        checked.append(run)
    return checked


def fit_law(
    runs: Iterable[Run],
    *,
    free: Sequence[str] = NAMES,
    initial: ScalingLaw | None = None,
    tie_exponents: bool = False,
    grid: Mapping[str, Sequence[float]] | None = None,
    refine: int = 8,
    delta: float = 1e-3,
) -> Fit:
    """Fit the `free` parameters of the law to `runs`; the others keep `initial`'s values.

    tie_exponents fits one exponent for alpha = beta (the paper's C4 fit has alpha = beta).
    grid maps parameter names to start values (defaults: DEFAULT_GRID); rd_star and rn_star
    values are R*, not logs. L-BFGS-B runs from the `refine` best grid points (one per
    combination of the non-decay parameters).
    """
    runs = _check_runs(runs)
    free = tuple(free)
    unknown = sorted(set(free) - set(NAMES))
    if unknown or not free:
        raise ScalingError(f"free must name some of {', '.join(NAMES)}; got {list(free)}")
    initial = initial or ScalingLaw()
    problem = _Problem(_Data(runs), _theta(initial), free, tie_exponents, delta)
    if len(runs) < 2 * len(problem.free):
        raise ScalingError(
            f"fitting {len(problem.free)} parameters ({', '.join(problem.free)}) needs at least "
            f"{2 * len(problem.free)} runs, got {len(runs)}: add runs at other (N, D, U) or fit "
            "fewer parameters (free=...)"
        )
    grid = {**DEFAULT_GRID, **(grid or {})}
    axes = [
        np.log(grid[n]) if n in DECAY_NAMES else np.asarray(grid[n], dtype=float)
        for n in problem.free
    ]
    starts = np.array(list(itertools.product(*axes)))
    order = _diverse_best(problem, starts, max(1, refine))
    bounds = [BOUNDS[n] for n in problem.free]
    best = None
    for x0 in starts[order]:
        result = minimize(
            problem.objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12},
        )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ScalingError("the fit diverged from every start: check the runs' losses and sizes")
    return Fit(
        law=_law(problem.theta(best.x)),
        objective=float(best.fun),
        runs=len(runs),
        free=problem.free + (("beta",) if tie_exponents and "alpha" in problem.free else ()),
        starts=len(order),
    )


def fit_two_stage(
    runs: Iterable[Run],
    *,
    initial: ScalingLaw | None = None,
    tie_exponents: bool = False,
    grid: Mapping[str, Sequence[float]] | None = None,
    refine: int = 8,
    delta: float = 1e-3,
) -> Fit:
    """The paper's procedure: (a, b, e, alpha, beta) from single-epoch runs, then R_D*, R_N*.

    Stage 1 fits (a, b, e, alpha, beta) on the runs with tokens <= unique, holding R_D* and
    R_N* at `initial`'s values (default: the published ones). One epoch makes D' = D, so only
    R_N* matters there, and only for runs with excess parameters; pass
    `ScalingLaw(rd_star=math.inf, rn_star=math.inf)` for the paper's pure Chinchilla-form fit.
    Stage 2 holds those five and fits R_D*, R_N* on all runs (the paper's 182 samples span
    1 to 500 epochs).
    """
    runs = _check_runs(runs)
    single = [r for r in runs if r.tokens <= r.unique]
    repeated = [r for r in runs if r.tokens > r.unique]
    if len(repeated) < 2:
        raise ScalingError(
            f"stage 2 needs at least 2 runs with repeated data (tokens > unique), got "
            f"{len(repeated)}: add multi-epoch runs or use fit_law"
        )
    initial = initial or ScalingLaw()
    try:
        first = fit_law(
            single, free=CHINCHILLA_NAMES, initial=initial, tie_exponents=tie_exponents,
            grid=grid, refine=refine, delta=delta,
        )  # fmt: skip
    except ScalingError as error:
        raise ScalingError(f"stage 1 (single-epoch runs): {error}") from None
    start = first.law
    if math.isinf(start.rd_star) or math.isinf(start.rn_star):
        start = replace(start, rd_star=ScalingLaw.rd_star, rn_star=ScalingLaw.rn_star)
    second = fit_law(runs, free=DECAY_NAMES, initial=start, grid=grid, refine=refine, delta=delta)
    return replace(second, first_stage=first)


def predict_loss(law: ScalingLaw, runs: Iterable[Run]) -> np.ndarray:
    """The law's loss for each run, computed the way the fit computes it (log-sum-exp)."""
    return np.exp(_predict(_theta(law), _Data(_check_runs(runs))))
