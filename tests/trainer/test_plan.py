"""The epoch planner: exact epoch arithmetic, the law on a mixture, warnings and bad inputs."""

import json
import math

import pytest

from trainer.plan import MEASURABLE_EPOCHS, plan_mixture
from trainer.scaling import ScalingError, ScalingLaw

LAW = ScalingLaw()
RD_STAR = 15.387756
UNIQUE = {"python": 100e9, "rust": 10e9, "go": 40e9, "cobol": 1e6}
WEIGHTS = {"python": 5, "rust": 3, "go": 2}  # normalised to 0.5 / 0.3 / 0.2; cobol unused


def test_epoch_arithmetic_and_loss_by_hand():
    plan = plan_mixture(UNIQUE, WEIGHTS, params=1e9, tokens=200e9)
    assert plan.basis == "params+tokens"
    assert plan.compute == 6 * 1e9 * 200e9
    by_name = {c.language: c for c in plan.components}
    assert list(by_name) == ["python", "rust", "go"]
    assert [c.weight for c in plan.components] == pytest.approx([0.5, 0.3, 0.2], rel=1e-15)
    assert [c.tokens for c in plan.components] == pytest.approx([100e9, 60e9, 40e9], rel=1e-15)
    assert [c.epochs for c in plan.components] == pytest.approx([1.0, 6.0, 1.0], rel=1e-15)
    # rust repeats 5 times; python and go are read once.
    rust_eff = 10e9 * (1 + RD_STAR * (1 - math.exp(-5 / RD_STAR)))
    assert by_name["rust"].effective_tokens == pytest.approx(rust_eff, rel=1e-12)
    assert by_name["python"].effective_tokens == pytest.approx(100e9, rel=1e-15)
    assert plan.effective_data == pytest.approx(100e9 + rust_eff + 40e9, rel=1e-12)
    assert plan.unique_seen == pytest.approx(150e9, rel=1e-15)
    assert plan.unique == pytest.approx(150e9, rel=1e-15)  # the weighted languages only
    # D_to_N(150e9) = 7.6e9 > 1e9: no excess parameters, N' = N.
    assert plan.effective_params == pytest.approx(1e9, rel=1e-12)
    loss = LAW.E + LAW.A / 1e9**LAW.alpha + LAW.B / plan.effective_data**LAW.beta
    assert plan.loss == pytest.approx(loss, rel=1e-12)
    assert plan.unique_data_loss == pytest.approx(LAW.loss(1e9, 200e9), rel=1e-12)
    assert 0 < plan.repetition_cost < 0.01
    assert by_name["rust"].next_epoch_value == pytest.approx(math.exp(-5 / RD_STAR), rel=1e-12)
    assert by_name["go"].next_epoch_value == 1.0
    mixed = 0.5 * 1.0 + 0.3 * math.exp(-5 / RD_STAR) + 0.2 * 1.0
    assert plan.next_epoch_value == pytest.approx(mixed, rel=1e-12)
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith("rust: 6.0 epochs > 4")


def test_unread_unique_tokens_do_not_count():
    plan = plan_mixture({"python": 1e12}, {"python": 1}, params=1e8, tokens=1e10)
    assert plan.components[0].epochs == pytest.approx(0.01)
    assert plan.unique_seen == pytest.approx(1e10)
    assert plan.effective_data == pytest.approx(1e10)
    assert plan.components[0].next_epoch_value == 1.0 and plan.warnings == ()


def test_one_language_is_the_law():
    alloc = LAW.optimal_allocation(1e21, 5e9)
    plan = plan_mixture({"go": 5e9}, {"go": 0.7}, compute=1e21)
    assert plan.basis == "compute"
    assert plan.params == pytest.approx(alloc.params, rel=1e-9)
    assert plan.components[0].epochs == pytest.approx(alloc.epochs, rel=1e-9)
    assert plan.loss == pytest.approx(alloc.loss, rel=1e-12)
    assert plan.effective_data == pytest.approx(alloc.effective_data, rel=1e-9)


@pytest.mark.parametrize(
    ("epochs", "expected"),
    [
        (4.0, None),
        (4.5, "rust: 4.5 epochs > 4: repeated tokens cost measurable loss"),
        (16.0, "rust: 16.0 epochs > 4: repeated tokens cost measurable loss"),
        (17.0, "rust: 17.0 epochs is past R_D* = 15.4 repetitions: returns vanish"),
    ],
)
def test_warnings(epochs, expected):
    # rust gets half of 2e10 tokens from 1e10 / epochs unique tokens; python stays at 1 epoch.
    unique = {"python": 1e10, "rust": 1e10 / epochs}
    plan = plan_mixture(unique, {"python": 1, "rust": 1}, params=1e8, tokens=2e10)
    assert plan.components[1].epochs == pytest.approx(epochs, rel=1e-12)
    if expected is None:
        assert plan.warnings == ()
    else:
        assert len(plan.warnings) == 1 and plan.warnings[0].startswith(expected)
        assert "add unique rust data or lower its weight" in plan.warnings[0]
    assert MEASURABLE_EPOCHS == 4.0


@pytest.mark.parametrize("k", [2, 10])
def test_mixture_plan_is_scale_invariant(k):
    unique = {"python": 30e9, "rust": 2e9, "go": 8e9}
    weights = {"python": 0.6, "rust": 0.1, "go": 0.3}
    base = plan_mixture(unique, weights, compute=1e21)
    scaled = plan_mixture({n: k * u for n, u in unique.items()}, weights, compute=k * k * 1e21)
    assert scaled.params == pytest.approx(k * base.params, rel=1e-6)
    for b, s in zip(base.components, scaled.components, strict=True):
        assert s.epochs == pytest.approx(b.epochs, rel=1e-6)
    assert scaled.warnings == base.warnings


def test_params_and_tokens_pick_the_budget_whose_optimum_they_are():
    unique = {"python": 30e9, "rust": 2e9}
    weights = {"python": 3, "rust": 1}
    by_compute = plan_mixture(unique, weights, compute=3e21)
    by_params = plan_mixture(unique, weights, params=by_compute.params)
    by_tokens = plan_mixture(unique, weights, tokens=by_compute.tokens)
    for plan in (by_params, by_tokens):
        assert plan.compute == pytest.approx(by_compute.compute, rel=1e-6)
        assert plan.params == pytest.approx(by_compute.params, rel=1e-6)
        assert plan.tokens == pytest.approx(by_compute.tokens, rel=1e-6)
    assert (by_params.basis, by_tokens.basis) == ("params", "tokens")


def test_replit_code_v1_3b_plan():
    plan = plan_mixture({"code": 175e9}, {"code": 1}, params=2.7e9, tokens=525e9)
    (code,) = plan.components
    assert code.epochs == 3.0
    assert plan.warnings == ()
    assert plan.loss == pytest.approx(LAW.loss(2.7e9, 525e9, 175e9), rel=1e-12)
    assert plan.effective_data / plan.tokens > 0.95
    assert code.next_epoch_value == pytest.approx(math.exp(-2 / RD_STAR))  # 88%


def test_to_dict_and_rows():
    plan = plan_mixture(UNIQUE, WEIGHTS, compute=1e21)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["basis"] == "compute" and len(data["components"]) == 3
    assert data["components"][1]["language"] == "rust"
    assert data["repetition_cost"] == pytest.approx(plan.repetition_cost)
    assert data["warnings"] == list(plan.warnings)
    rows = plan.rows()
    assert rows[0] == (
        "language",
        "weight",
        "unique",
        "tokens",
        "epochs",
        "effective",
        "next epoch",
    )
    assert [r[0] for r in rows[1:]] == ["python", "rust", "go"]
    assert rows[2][1] == "30.0%" and rows[2][2] == "10.00B"
    assert dict(plan.summary_rows())["given"] == "compute"


@pytest.mark.parametrize(
    ("unique", "weights", "budget", "message"),
    [
        ({"python": 0}, {"python": 1}, {"compute": 1e21}, "unique tokens of 'python' must be"),
        ({"python": -5e9}, {"python": 1}, {"compute": 1e21}, "unique tokens of 'python' must be"),
        ({"python": 1e9}, {"python": 0}, {"compute": 1e21}, "weight of 'python' must be"),
        ({"python": 1e9}, {"python": -1}, {"compute": 1e21}, "weight of 'python' must be"),
        ({"python": 1e9}, {"python": math.nan}, {"compute": 1e21}, "weight of 'python' must be"),
        (
            {"python": 1e9, "go": 1e9},
            {"python": 1, "Python3": 1},
            {"compute": 1e21},
            "unknown language 'Python3' in weights: the version has unique tokens for go, python",
        ),
        ({"python": 1e9}, {}, {"compute": 1e21}, "weights are empty"),
        ({"python": 1e9}, {"python": 1}, {}, "give exactly one of compute, params or tokens"),
        (
            {"python": 1e9},
            {"python": 1},
            {"compute": 1e21, "params": 1e9},
            "got compute and params",
        ),
        ({"python": 1e9}, {"python": 1}, {"compute": 0}, "compute must be a positive"),
        ({"python": 1e9}, {"python": 1}, {"tokens": math.inf}, "tokens must be a positive"),
    ],
)
def test_bad_inputs(unique, weights, budget, message):
    with pytest.raises(ScalingError) as info:
        plan_mixture(unique, weights, **budget)
    assert message in str(info.value)


def test_params_beyond_what_the_data_can_support():
    # 1M unique tokens: the law's optimum saturates long before 1T parameters.
    with pytest.raises(ScalingError, match="no compute budget makes params=1e\\+12 optimal"):
        plan_mixture({"python": 1e6}, {"python": 1}, params=1e12)
