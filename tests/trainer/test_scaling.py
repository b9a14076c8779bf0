"""The data-constrained law against hand computations, the authors' printed values and the
paper's claims (Muennighoff et al. 2023, arXiv 2305.16264)."""

import math

import numpy as np
import pytest

from corpus.core.errors import CodecorpusError
from trainer.scaling import ScalingError, ScalingLaw

# The published C4 fit, as printed in the authors' README (huggingface/datablations).
a, b, e, alpha, beta, rd_star, rn_star = (
    6.255414, 7.3049974, 0.6254804, 0.3526596, 0.3526596, 15.387756, 5.309743
)  # fmt: skip
A, B, E = math.exp(a), math.exp(b), math.exp(e)
G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))

LAW = ScalingLaw()


def hand_loss(n: float, d: float, u: float) -> float:
    """The README's scaling_law, written out with scalar math (it asserts u <= d)."""
    assert u <= d
    rd = max(d / u - 1, 0)
    un = min(n, (u * G) ** (beta / alpha) * G)
    rn = max(n / un - 1, 0)
    n_eff = un + un * rn_star * (1 - math.exp(-rn / rn_star))
    d_eff = u + u * rd_star * (1 - math.exp(-rd / rd_star))
    return E + A / n_eff**alpha + B / d_eff**beta


def test_defaults_are_the_published_fit():
    assert pytest.approx(520.82, abs=0.01) == LAW.A
    assert pytest.approx(1487.72, abs=0.01) == LAW.B
    assert pytest.approx(1.8691, abs=1e-4) == LAW.E
    assert (LAW.rd_star, LAW.rn_star) == (15.387756, 5.309743)
    # The paper's simplified form: U_N = 0.051 * U_D (appendix A), i.e. G^2 with alpha = beta.
    assert LAW.d_to_n(1e10) / 1e10 == pytest.approx(0.051, abs=5e-4)
    assert LAW.n_to_d(LAW.d_to_n(3.3e10)) == pytest.approx(3.3e10, rel=1e-12)


def test_loss_matches_the_authors_printed_values():
    # README: "print(scaling_law(6.34e9, 242e9, 25e9)) # 2.2256440889984477 # <- This one is better"
    assert LAW.loss(6.34e9, 242e9, 25e9) == pytest.approx(2.2256440889984477, rel=1e-12)
    assert LAW.loss(8.67e9, 178e9, 25e9) == pytest.approx(2.2269634075087867, rel=1e-12)


def test_loss_and_effective_terms_by_hand():
    n, d, u = 1e9, 4e10, 1e10  # 4 epochs, R_D = 3
    d_eff = 1e10 * (1 + 15.387756 * (1 - math.exp(-3 / 15.387756)))
    assert d_eff == pytest.approx(3.7256e10, rel=1e-4)  # 93% of the 4e10 tokens
    assert LAW.effective_data(d, u) == pytest.approx(d_eff, rel=1e-12)
    u_n = G * G * 1e10  # D_to_N with beta/alpha = 1: 5.0987e8 < N, so 1e9 params are in excess
    r_n = 1e9 / u_n - 1
    n_eff = u_n * (1 + 5.309743 * (1 - math.exp(-r_n / 5.309743)))
    assert LAW.effective_params(n, u) == pytest.approx(n_eff, rel=1e-12)
    assert n_eff < n
    assert LAW.loss(n, d, u) == pytest.approx(E + A / n_eff**alpha + B / d_eff**beta, rel=1e-12)
    for point in [(1e8, 1e9, 1e9), (3e9, 6e10, 2e10), (5e8, 5e9, 5e9), (1e10, 1e12, 1e9)]:
        assert LAW.loss(*point) == pytest.approx(hand_loss(*point), rel=1e-12)


def test_one_epoch_is_chinchilla():
    n, d = 2e8, 8e9  # 40 tokens/param: no excess parameters
    assert LAW.effective_data(d, d) == d
    assert LAW.effective_params(n, d) == n
    assert LAW.loss(n, d) == pytest.approx(E + A / n**alpha + B / d**beta, rel=1e-14)
    # More unique tokens than are read: only D of them are seen.
    assert LAW.loss(n, d, 10 * d) == LAW.loss(n, d, d)


def test_marginal_epoch_value_is_the_derivative_of_effective_data():
    u = 1e10
    for epochs in (1.5, 4.0, 16.387756, 60.0):
        d = epochs * u
        value = LAW.marginal_epoch_value(d, u)
        assert value == pytest.approx(math.exp(-(epochs - 1) / 15.387756), rel=1e-12)
        step = 1e-4 * u  # finite difference of D' per token, a different code path
        slope = (LAW.effective_data(d + step, u) - LAW.effective_data(d - step, u)) / (2 * step)
        assert slope == pytest.approx(value, rel=1e-6)
    assert LAW.marginal_epoch_value(16.387756 * u, u) == pytest.approx(1 / math.e)
    assert LAW.marginal_epoch_value(0.5 * u, u) == 1.0


def test_effective_data_plateaus_at_one_plus_rd_star():
    u = 1e9
    ratios = [LAW.effective_data(epochs * u, u) / u for epochs in (2, 5, 20, 100, 1000, 1e5)]
    assert ratios == sorted(ratios)
    assert ratios[-1] == pytest.approx(1 + 15.387756, rel=1e-12)
    # After R_D* repetitions the repeats are worth 1 - 1/e of R_D* fresh epochs.
    at_star = LAW.effective_data((1 + 15.387756) * u, u) / u
    assert at_star == pytest.approx(1 + 15.387756 * (1 - 1 / math.e), rel=1e-12)
    # Excess parameters plateau the same way, at U_N (1 + R_N*).
    base = LAW.d_to_n(u)
    assert LAW.effective_params(1e6 * base, u) == pytest.approx(base * (1 + 5.309743), rel=1e-9)


def test_chinchilla_optimal_closed_form():
    for c in (1e19, 1e21, 1e23):
        n, d = LAW.chinchilla_optimal(c)
        assert 6 * n * d == pytest.approx(c, rel=1e-12)
        assert n == pytest.approx(G * (c / 6) ** 0.5, rel=1e-12)  # beta/(alpha+beta) = 1/2
        assert d / n == pytest.approx(1 / G**2, rel=1e-12)  # ~19.6 tokens per parameter
        best = E + A / n**alpha + B / d**beta
        for f in (0.99, 1.01):
            assert E + A / (n * f) ** alpha + B / (d / f) ** beta > best


def authors_grid(n_base: float, d_base: float, u_base: float) -> tuple[float, float, float]:
    """The README's optimal_allocation: multiplicative factors in [1.0001, 3] either way."""
    best = (math.inf, 0.0, 0.0)
    for i in np.linspace(1.0001, 3, 500):
        for d, n in ((d_base * i, n_base / i), (d_base / i, n_base * i)):
            loss = hand_loss(n, d, min(u_base, d))
            if loss < best[0]:
                best = (loss, d, n)
    return best


def test_optimal_allocation_matches_the_authors_example():
    # README: optimal_allocation(8.67e9, 178e9, 25e9) -> 227B tokens, 9.1 epochs, 6.8B params.
    c = 6 * 8.67e9 * 178e9
    alloc = LAW.optimal_allocation(c, 25e9)
    assert alloc.tokens == pytest.approx(227e9, rel=5e-3)
    assert alloc.epochs == pytest.approx(9.1, abs=0.05)
    assert alloc.params == pytest.approx(6.8e9, rel=5e-3)
    grid_loss, _, grid_params = authors_grid(8.67e9, 178e9, 25e9)
    assert alloc.loss <= grid_loss  # a continuous search is at least as good as the grid
    assert alloc.loss == pytest.approx(grid_loss, rel=1e-6)
    assert alloc.params == pytest.approx(grid_params, rel=0.01)
    assert alloc.compute == pytest.approx(6 * alloc.params * alloc.tokens, rel=1e-12)
    assert alloc.marginal_epoch_value == pytest.approx(math.exp(-(alloc.epochs - 1) / rd_star))


def test_allocation_without_a_data_constraint_is_chinchilla():
    n, d = LAW.chinchilla_optimal(1e21)
    alloc = LAW.optimal_allocation(1e21, 1e3 * d)
    assert alloc.params == pytest.approx(n, rel=1e-6)
    assert alloc.tokens == pytest.approx(d, rel=1e-6)
    assert alloc.epochs == 1.0 and alloc.unique == alloc.tokens
    assert alloc.loss == pytest.approx(alloc.unconstrained_loss, rel=1e-12)


def test_four_epochs_cost_little_forty_do_not():
    """Paper: "training with up to 4 epochs of repeated data yields negligible changes to loss
    compared to having unique data". Its measured case: 8.7B params on 178B tokens, 4 epochs of
    44B unique tokens ended with a validation loss 0.5% above one epoch of 178B unique tokens.
    The fitted law predicts 0.69% for that run; the gap shrinks with scale (E dominates)."""
    n, d = 8.7e9, 178e9
    gap = hand_loss(n, d, d / 4) / hand_loss(n, d, d) - 1
    assert LAW.loss(n, d, d / 4) / LAW.loss(n, d) - 1 == pytest.approx(gap, rel=1e-9)
    assert 0.005 < gap < 0.0075
    # Compute-optimal N at fixed compute, 4 epochs vs unique data, at the paper's scales.
    gaps = []
    for c in (1e21, 1e22, 1e23, 1e24):
        n, d = LAW.chinchilla_optimal(c)
        gaps.append(LAW.loss(n, d, d / 4) / LAW.loss(n, d) - 1)
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[0] < 0.01 and gaps[2] < 0.005
    # Re-allocating the compute for the constraint helps a little; 40 epochs cost ~14x more.
    _, d = LAW.chinchilla_optimal(1e21)
    four, forty = LAW.optimal_allocation(1e21, d / 4), LAW.optimal_allocation(1e21, d / 40)
    four_gap = four.loss / four.unconstrained_loss - 1
    assert four_gap < gaps[0]
    assert forty.loss / forty.unconstrained_loss - 1 > 10 * four_gap
    assert four.params < LAW.chinchilla_optimal(1e21)[0]  # fewer params, more epochs


@pytest.mark.parametrize("k", [2, 10])
def test_allocation_is_scale_invariant(k):
    """alpha = beta: scaling U by k and C by k^2 scales N' and D' by k, so the optimum has
    the same epochs and k times the parameters."""
    for c, u in ((1e21, 5e9), (3e22, 2e11)):
        base, scaled = LAW.optimal_allocation(c, u), LAW.optimal_allocation(k * k * c, k * u)
        assert scaled.epochs == pytest.approx(base.epochs, rel=1e-6)
        assert scaled.params == pytest.approx(k * base.params, rel=1e-6)
        assert scaled.tokens == pytest.approx(k * base.tokens, rel=1e-6)


def test_replit_code_v1_3b():
    """2.7B params, 525B tokens = 175B unique x 3 epochs: D'/D = 0.958, loss 2.2261 (C4 scale),
    0.07% above the same run on fresh data."""
    n, d, u = 2.7e9, 525e9, 175e9
    assert d / u == 3.0
    d_eff = 175e9 * (1 + 15.387756 * (1 - math.exp(-2 / 15.387756)))
    assert LAW.effective_data(d, u) == pytest.approx(d_eff, rel=1e-12)
    assert d_eff / d == pytest.approx(0.95849, abs=1e-5)
    assert d_eff / d > 0.95  # 3 epochs cost little
    assert LAW.effective_params(n, u) == n  # D_to_N(175B) = 8.9B > 2.7B: no excess parameters
    loss = LAW.loss(n, d, u)
    assert loss == pytest.approx(E + A / n**alpha + B / d_eff**beta, rel=1e-12)
    assert loss == pytest.approx(2.22609, abs=1e-5)
    assert loss / LAW.loss(n, d) - 1 < 0.001


@pytest.mark.parametrize(
    "call",
    [
        lambda: LAW.loss(0, 1e9, 1e9),
        lambda: LAW.loss(1e9, -1, 1e9),
        lambda: LAW.loss(1e9, 1e9, float("nan")),
        lambda: LAW.effective_data(1e9, float("inf")),
        lambda: LAW.effective_params(1e9, 0),
        lambda: LAW.chinchilla_optimal(0),
        lambda: LAW.optimal_allocation(1e21, -5),
        lambda: LAW.marginal_epoch_value("many", 1e9),
        lambda: LAW.loss(np.array([1e9, 0.0]), 1e10, 1e9),
        lambda: ScalingLaw(alpha=0),
        lambda: ScalingLaw(rd_star=-1),
        lambda: ScalingLaw(a=float("nan")),
    ],
)
def test_bad_inputs_raise_scaling_error(call):
    with pytest.raises(ScalingError) as info:
        call()
    assert isinstance(info.value, CodecorpusError) and isinstance(info.value, ValueError)
    assert "must be" in str(info.value)


def test_error_names_the_value():
    with pytest.raises(ScalingError, match=r"params must be a positive finite number, got 0"):
        LAW.loss(0, 1e9, 1e9)


def test_infinite_decay_constants_give_chinchilla():
    chinchilla = ScalingLaw(rd_star=math.inf, rn_star=math.inf)
    n, d, u = 1e10, 1e12, 1e9
    assert chinchilla.effective_data(d, u) == pytest.approx(d, rel=1e-12)
    assert chinchilla.effective_params(n, u) == pytest.approx(n, rel=1e-12)
    assert chinchilla.marginal_epoch_value(d, u) == 1.0


def test_arrays_broadcast():
    params = np.array([1e8, 1e9, 1e10])
    losses = LAW.loss(params, 1e11, 2e10)
    assert losses.shape == (3,)
    assert list(losses) == pytest.approx([hand_loss(p, 1e11, 2e10) for p in params], rel=1e-12)
