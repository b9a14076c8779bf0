"""Fitting the law recovers known parameters from synthetic runs; its gradient is right."""

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from trainer.fit import NAMES, Run, _Data, _Problem, _theta, fit_law, fit_two_stage, predict_loss
from trainer.scaling import ScalingError, ScalingLaw

#: A law unlike the published one (alpha != beta, other decay constants), so no start is the truth.
TRUE = ScalingLaw(a=6.0, b=7.6, e=0.55, alpha=0.33, beta=0.37, rd_star=12.0, rn_star=4.0)

#: A coarser start grid than the default (Hoffmann's ~10^5 points) and fewer refined starts
#: (REFINE, default 8) keep the tests fast; the grid contains no start near the truth.
REFINE = 4
GRID = {
    "a": (0.0, 5.0, 10.0, 15.0),
    "b": (0.0, 5.0, 10.0, 15.0),
    "e": (-0.5, 0.0, 0.5),
    "alpha": (0.2, 0.5, 1.0),
    "beta": (0.2, 0.5, 1.0),
    "rd_star": (4.0, 12.0, 20.0),
    "rn_star": (4.0, 12.0, 20.0),
}


def synthetic_runs(law: ScalingLaw, *, single_ratios=(0.35, 0.5, 0.7, 1.0), seed=0) -> list[Run]:
    """Loss = law x lognormal noise (sd 1e-4): single-epoch runs around the compute-optimal N
    for four budgets, and a grid of 100M-3B params x 2B-50B unique tokens x 2-64 epochs."""
    rng = np.random.default_rng(seed)

    def run(n, d, u):
        return Run(n, d, u, law.loss(n, d, u) * math.exp(rng.normal(0.0, 1e-4)))

    runs = []
    for compute in (1e18, 1e19, 1e20, 1e21):
        n_opt, _ = law.chinchilla_optimal(compute)
        for ratio in single_ratios:
            n = n_opt * ratio
            runs.append(run(n, compute / 6 / n, compute / 6 / n))
    for n in (1e8, 3e8, 1e9, 3e9):
        for u in (2e9, 1e10, 5e10):
            for epochs in (2, 4, 8, 16, 32, 64):
                runs.append(run(n, u * epochs, u))
    return runs


def assert_recovers(fitted: ScalingLaw, true: ScalingLaw, rel: float) -> None:
    for name in NAMES:
        got, want = getattr(fitted, name), getattr(true, name)
        assert got == pytest.approx(want, rel=rel), f"{name}: fitted {got}, true {want}"


def test_predictions_are_the_law():
    runs = synthetic_runs(TRUE)
    want = [TRUE.loss(r.params, r.tokens, r.unique) for r in runs]
    assert list(predict_loss(TRUE, runs)) == pytest.approx(want, rel=1e-12)
    # Including runs with excess parameters, where U_N = D_to_N(U) < N.
    assert any(r.params > TRUE.d_to_n(min(r.unique, r.tokens)) for r in runs)


def test_gradient_matches_finite_differences():
    runs = synthetic_runs(TRUE)
    problem = _Problem(_Data(runs), _theta(TRUE), NAMES, tie=False, delta=1e-3)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = _theta(TRUE) + rng.normal(0.0, 0.05, size=7)
        _, grad = problem.objective(x)
        numeric = approx_fprime(x, lambda v: problem.objective(v)[0], 1e-7)
        assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_joint_fit_recovers_all_seven_parameters():
    runs = synthetic_runs(TRUE)
    runs.append(Run(1e9, 2e10, 2e10, 4.0))  # one wild outlier: Huber's linear tail absorbs it
    fit = fit_law(runs, grid=GRID, refine=REFINE)
    assert_recovers(fit.law, TRUE, rel=0.01)
    assert fit.runs == len(runs) and fit.free == NAMES and fit.starts == REFINE


def test_two_stage_fit_recovers_the_parameters():
    runs = synthetic_runs(TRUE)
    fit = fit_two_stage(runs, grid=GRID, refine=REFINE)
    assert_recovers(fit.law, TRUE, rel=0.03)
    assert fit.free == ("rd_star", "rn_star")
    first = fit.first_stage
    assert first is not None and first.runs == 16  # the single-epoch runs
    assert (first.law.rd_star, first.law.rn_star) == (15.387756, 5.309743)  # held in stage 1
    # The paper's pure Chinchilla-form first stage works as well on compute-optimal runs.
    chinchilla = ScalingLaw(rd_star=math.inf, rn_star=math.inf)
    pure = fit_two_stage(runs, grid=GRID, refine=REFINE, initial=chinchilla)
    assert_recovers(pure.law, TRUE, rel=0.03)


def test_tied_exponents_recover_the_published_fit():
    published = ScalingLaw()
    fit = fit_law(synthetic_runs(published, seed=2), grid=GRID, refine=REFINE, tie_exponents=True)
    assert fit.law.alpha == fit.law.beta
    assert_recovers(fit.law, published, rel=0.01)
    assert fit.free == ("a", "b", "e", "alpha", "rd_star", "rn_star", "beta")


def test_fixed_parameters_keep_the_initial_values():
    runs = synthetic_runs(TRUE)
    fit = fit_law(runs, free=("rd_star", "rn_star"), initial=TRUE, grid=GRID, refine=REFINE)
    assert (fit.law.a, fit.law.alpha) == (TRUE.a, TRUE.alpha)
    assert fit.law.rd_star == pytest.approx(12.0, rel=0.01)
    assert fit.law.rn_star == pytest.approx(4.0, rel=0.01)


def test_too_few_runs():
    runs = synthetic_runs(TRUE)[:13]
    with pytest.raises(
        ScalingError, match=r"fitting 7 parameters .* needs at least 14 runs, got 13"
    ):
        fit_law(runs)
    single = [r for r in synthetic_runs(TRUE) if r.tokens <= r.unique]
    with pytest.raises(ScalingError, match=r"stage 2 needs at least 2 runs with repeated data"):
        fit_two_stage(single)
    repeated = [r for r in synthetic_runs(TRUE) if r.tokens > r.unique]
    with pytest.raises(ScalingError, match=r"stage 1 \(single-epoch runs\): fitting 5 parameters"):
        fit_two_stage(repeated[:4] + single[:3])


def test_bad_runs_and_options():
    runs = synthetic_runs(TRUE)
    runs[3] = Run(1e9, 1e10, 1e10, 0.0)
    with pytest.raises(ScalingError, match=r"run 3 loss must be a positive finite number"):
        fit_law(runs)
    with pytest.raises(ScalingError, match=r"free must name some of a, b, e"):
        fit_law(synthetic_runs(TRUE), free=("gamma",))
