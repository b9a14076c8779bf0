"""The data-constrained scaling law of Muennighoff et al. 2023 (arXiv 2305.16264).

    L(N, D, U) = E + A / N'^alpha + B / D'^beta
    D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),  U_D = min(U, D),  R_D = max(D / U_D - 1, 0)
    N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),  U_N = min(N, D_to_N(U_D)),  R_N = max(N/U_N - 1, 0)
    D_to_N(D) = (D * G)^(beta / alpha) * G,  G = (alpha * A / (beta * B))^(1 / (alpha + beta))

Source checked: the "Parametric Fit" section of the authors' README (huggingface/datablations,
README.md, functions `D_to_N` and `scaling_law`, constants
`a, b, e, alpha, beta, rd_star, rn_star = [6.255414, 7.3049974, 0.6254804, 0.3526596,
0.3526596, 15.387756, 5.309743]`, `A = exp(a)` etc.) and the paper's appendix (Eq. "optunud":
U_N = min{((U_D G)^(beta/alpha)) G, N}). The README prints scaling_law(6.34e9, 242e9, 25e9) =
2.2256440889984477, which the tests reproduce. `U > D` is allowed and means only D of the U
unique tokens are seen (the README's `U = min(U_BASE, D)`).

Absolute losses are C4-specific; the trends (epochs, ratios) are what carry over to code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from corpus.core.errors import CodecorpusError

#: Training FLOPs per parameter per token (forward + backward), as in Chinchilla: C = 6 N D.
FLOPS_PER_PARAM_TOKEN = 6.0


class ScalingError(CodecorpusError, ValueError):
    """A scaling-law or planner input is invalid; the message says which value to fix."""


def check_positive(name: str, value: float) -> float:
    """Return `value` as a float if it is positive and finite, else raise ScalingError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScalingError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ScalingError(f"{name} must be a positive finite number, got {value!r}: pass one > 0")
    return number


def _positive(name: str, value):
    """check_positive for a float or a numpy array (every element)."""
    if isinstance(value, np.ndarray):
        if not (np.all(np.isfinite(value)) and np.all(value > 0)):
            raise ScalingError(f"{name} must be positive finite numbers: pass counts > 0")
        return value.astype(float, copy=False)
    return check_positive(name, value)


def _out(value):
    return value if isinstance(value, np.ndarray) and value.ndim else float(value)


def effective_count(unique, repeats, star: float):
    """`unique * (1 + star * (1 - exp(-repeats / star)))`: the value of `unique` items seen
    `1 + repeats` times, in fresh items. `star = inf` means repeats never lose value.

    Works on floats and numpy arrays; `-expm1` keeps `1 - exp(-x)` exact for small x.
    """
    if math.isinf(star):
        return unique * (1.0 + repeats)
    return unique * (1.0 + star * -np.expm1(-repeats / star))


@dataclass(frozen=True)
class Allocation:
    """A compute-optimal (N, D) under a unique-data budget, and what the law predicts for it."""

    compute: float
    """Training FLOPs, C = 6 N D."""
    params: float
    """N, model parameters."""
    tokens: float
    """D, training tokens (all epochs)."""
    unique: float
    """U_D, unique tokens seen: min(U, D)."""
    epochs: float
    """D / U_D."""
    loss: float
    """Predicted loss of this allocation."""
    effective_data: float
    """D', repeated tokens counted at their decayed value."""
    effective_params: float
    """N', excess parameters counted at their decayed value."""
    marginal_epoch_value: float
    """Value of one more epoch relative to an epoch of fresh data: exp(-R_D / R_D*)."""
    unconstrained_loss: float
    """Loss of the Chinchilla-optimal allocation of the same compute on unlimited unique data."""


@dataclass(frozen=True)
class ScalingLaw:
    """`L = E + A/N'^alpha + B/D'^beta`, defaulting to the paper's C4 fit (appendix A)."""

    a: float = 6.255414
    """log A: the parameter term's coefficient, in log space."""
    b: float = 7.3049974
    """log B: the data term's coefficient, in log space."""
    e: float = 0.6254804
    """log E: the irreducible loss, in log space."""
    alpha: float = 0.3526596
    """Exponent of the parameter term."""
    beta: float = 0.3526596
    """Exponent of the data term."""
    rd_star: float = 15.387756
    """R_D*: repetitions of the data after which returns vanish (value decays as exp(-R/R_D*))."""
    rn_star: float = 5.309743
    """R_N*: the same for parameters beyond the compute-optimal count for the unique data."""

    def __post_init__(self) -> None:
        for name in ("a", "b", "e"):
            if not math.isfinite(getattr(self, name)):
                raise ScalingError(f"ScalingLaw.{name} must be finite, got {getattr(self, name)!r}")
        for name in ("alpha", "beta"):
            check_positive(f"ScalingLaw.{name}", getattr(self, name))
        for name in ("rd_star", "rn_star"):
            value = getattr(self, name)
            if not value > 0:  # inf is allowed: no decay, the Chinchilla law
                raise ScalingError(
                    f"ScalingLaw.{name} must be > 0 (math.inf for no decay), got {value!r}"
                )

    @property
    def A(self) -> float:
        """exp(a): the parameter term's coefficient (the paper's A)."""
        return math.exp(self.a)

    @property
    def B(self) -> float:
        """exp(b): the data term's coefficient."""
        return math.exp(self.b)

    @property
    def E(self) -> float:
        """exp(e): the irreducible loss."""
        return math.exp(self.e)

    @property
    def G(self) -> float:
        """(alpha A / (beta B))^(1/(alpha+beta)): N_opt = G (C/6)^(beta/(alpha+beta))."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    # --- the law ------------------------------------------------------------------------------

    def d_to_n(self, tokens):
        """Chinchilla-optimal parameters for `tokens` (the authors' D_to_N)."""
        return (tokens * self.G) ** (self.beta / self.alpha) * self.G

    def n_to_d(self, params):
        """Chinchilla-optimal tokens for `params` (inverse of d_to_n)."""
        return (params / self.G) ** (self.alpha / self.beta) / self.G

    def effective_data(self, tokens, unique):
        """D' for `tokens` training tokens drawn from `unique` unique tokens (floats or arrays)."""
        tokens, unique = _positive("tokens", tokens), _positive("unique", unique)
        seen = np.minimum(unique, tokens)
        return _out(effective_count(seen, np.maximum(tokens / seen - 1.0, 0.0), self.rd_star))

    def effective_params(self, params, unique):
        """N' for `params` parameters when `unique` unique tokens are seen (U_D)."""
        params, unique = _positive("params", params), _positive("unique", unique)
        base = np.minimum(params, self.d_to_n(unique))
        return _out(effective_count(base, np.maximum(params / base - 1.0, 0.0), self.rn_star))

    def loss_from_effective(self, effective_params, effective_data):
        """E + A/N'^alpha + B/D'^beta for given N' and D' (a mixture sums its components' D')."""
        n_eff = _positive("effective_params", effective_params)
        d_eff = _positive("effective_data", effective_data)
        return _out(self.E + self.A / n_eff**self.alpha + self.B / d_eff**self.beta)

    def loss(self, params, tokens, unique=None):
        """Predicted loss of N params trained on D tokens from U unique tokens (U=None: U = D).

        Floats or numpy arrays (broadcast); only min(U, D) of the unique tokens are seen.
        """
        params, tokens = _positive("params", params), _positive("tokens", tokens)
        unique = tokens if unique is None else _positive("unique", unique)
        seen = np.minimum(unique, tokens)
        return self.loss_from_effective(
            self.effective_params(params, seen), self.effective_data(tokens, seen)
        )

    def marginal_epoch_value(self, tokens: float, unique: float) -> float:
        """dD'/dD: the value of one more epoch relative to an epoch of fresh data.

        D' = U + U R*(1 - exp(-R/R*)) gives dD'/dR = U exp(-R/R*) and an epoch adds U tokens,
        so the ratio is exp(-R_D/R_D*); 1 while less than one epoch is trained.
        """
        tokens, unique = check_positive("tokens", tokens), check_positive("unique", unique)
        repeats = max(tokens / unique - 1.0, 0.0)
        return 1.0 if math.isinf(self.rd_star) else math.exp(-repeats / self.rd_star)

    # --- allocation ---------------------------------------------------------------------------

    def chinchilla_optimal(self, compute: float) -> tuple[float, float]:
        """(N, D) minimising E + A/N^alpha + B/D^beta with 6 N D = compute (closed form)."""
        budget = check_positive("compute", compute) / FLOPS_PER_PARAM_TOKEN
        params = self.G * budget ** (self.beta / (self.alpha + self.beta))
        return params, budget / params

    def optimal_allocation(self, compute: float, unique: float) -> Allocation:
        """The compute-optimal (N, D = C/6N) when only `unique` unique tokens exist.

        Minimises loss(N, C/(6N), U) over log N: a dense grid around the Chinchilla optimum
        seeds a bounded Brent search (the loss has kinks where U_N or R_D switch branches).
        """
        compute, unique = check_positive("compute", compute), check_positive("unique", unique)
        budget = compute / FLOPS_PER_PARAM_TOKEN
        chin_params, chin_tokens = self.chinchilla_optimal(compute)

        def objective(log_n):
            params = np.exp(log_n)
            return self.loss(params, budget / params, unique)

        log_n = argmin_around(objective, math.log(chin_params))
        params = math.exp(log_n)
        tokens = budget / params
        seen = min(unique, tokens)
        return Allocation(
            compute=compute,
            params=params,
            tokens=tokens,
            unique=seen,
            epochs=tokens / seen,
            loss=self.loss(params, tokens, unique),
            effective_data=self.effective_data(tokens, unique),
            effective_params=self.effective_params(params, seen),
            marginal_epoch_value=self.marginal_epoch_value(tokens, unique),
            unconstrained_loss=self.loss(chin_params, chin_tokens),
        )


def argmin_around(
    objective: Callable[[np.ndarray], np.ndarray],
    center: float,
    *,
    below: float = math.log(1e4),
    above: float = math.log(1e2),
    points: int = 801,
) -> float:
    """argmin of a vectorised 1-D `objective` over [center - below, center + above].

    A dense grid finds the best cell (robust to kinks and local minima); a bounded Brent search
    then refines inside the two neighbouring cells.
    """
    grid = np.linspace(center - below, center + above, points)
    values = np.asarray(objective(grid), dtype=float)
    best = int(np.nanargmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, points - 1)]
    result = minimize_scalar(
        lambda x: float(objective(np.array([x]))[0]),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(result.x) if result.fun <= values[best] else float(grid[best])
