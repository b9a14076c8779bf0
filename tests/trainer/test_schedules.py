"""LR and clipping schedules against values computed by hand."""

import itertools
import math

import pytest

from corpus.core.errors import ConfigError
from trainer.schedules import (
    ScheduleConfig,
    clip_threshold,
    inverse_sqrt,
    lr_factor,
    warmup_cosine,
    warmup_factor,
    warmup_stable_decay,
)


def test_warmup_is_linear_and_reaches_the_peak_at_warmup_steps():
    assert [warmup_factor(s, 4) for s in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1, 1])
    # Re-warming from half the peak: the same ramp over [0.5, 1].
    assert [warmup_factor(s, 4, 0.5) for s in range(5)] == pytest.approx([0.6, 0.7, 0.8, 0.9, 1])
    assert warmup_factor(0, 0) == 1.0  # no warmup


def test_cosine():
    f = [warmup_cosine(s, total=14, warmup=4, min_ratio=0.1) for s in range(15)]
    assert f[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert f[6] == pytest.approx(0.1 + 0.45 * (1 + math.cos(0.2 * math.pi)))  # 0.914058...
    assert f[6] == pytest.approx(0.9140576, abs=1e-7)
    assert f[9] == pytest.approx(0.55)  # half way down
    assert f[14] == pytest.approx(0.1)  # the end value at step == total
    assert all(a >= b for a, b in itertools.pairwise(f[4:]))  # decays monotonically
    assert warmup_cosine(30, total=14, warmup=4, min_ratio=0.1) == pytest.approx(0.1)


def test_warmup_stable_decay():
    f = [warmup_stable_decay(s, total=20, warmup=2, decay_steps=5) for s in range(21)]
    assert f[:2] == pytest.approx([1 / 3, 2 / 3])
    assert f[2:16] == [1.0] * 14  # stable until the decay starts at step 15
    assert f[16:] == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.0])
    assert warmup_stable_decay(17, 20, 2, 5, min_ratio=0.1) == pytest.approx(1 - 0.9 * 0.4)


def test_inverse_sqrt_with_linear_cooldown():
    f = [inverse_sqrt(s, total=100, warmup=4, cooldown_steps=20) for s in range(101)]
    assert f[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert (f[4], f[16], f[64]) == pytest.approx((1.0, 0.5, 0.25))  # sqrt(4 / s)
    at_start = math.sqrt(4 / 80)
    assert f[79] == pytest.approx(math.sqrt(4 / 79))
    assert f[80] == pytest.approx(at_start)
    assert f[90] == pytest.approx(at_start / 2)
    assert f[100] == 0.0
    # Without warmup the timescale is one step.
    assert inverse_sqrt(0, 100, 0, 0) == 1.0
    assert inverse_sqrt(3, 100, 0, 0) == pytest.approx(1 / math.sqrt(3))


def test_lr_factor_dispatches_and_applies_fractions():
    cosine = ScheduleConfig("cosine", warmup_steps=4, min_lr_ratio=0.1)
    assert lr_factor(cosine, 9, 14) == pytest.approx(0.55)
    wsd = ScheduleConfig("wsd", warmup_steps=2, min_lr_ratio=0.0, decay_fraction=0.25)
    assert [lr_factor(wsd, s, 20) for s in (14, 15, 16, 19)] == pytest.approx([1, 1, 0.8, 0.2])
    rsqrt = ScheduleConfig("rsqrt", warmup_steps=4, min_lr_ratio=0.0, cooldown_fraction=0.2)
    assert lr_factor(rsqrt, 90, 100) == pytest.approx(math.sqrt(4 / 80) / 2)


def test_rewarm_and_offset_for_continued_pretraining():
    # Re-warm: a new run from an earlier one's weights warms up again from warmup_from.
    rewarm = ScheduleConfig("cosine", warmup_steps=4, min_lr_ratio=0.1, warmup_from=0.1)
    assert [lr_factor(rewarm, s, 14) for s in range(5)] == pytest.approx(
        [0.28, 0.46, 0.64, 0.82, 1.0]
    )
    assert lr_factor(rewarm, 9, 14) == pytest.approx(0.55)  # then decays as a fresh run
    # Offset: continue a schedule; step s is step s + 4 of a 14-step schedule.
    shifted = ScheduleConfig("cosine", warmup_steps=4, min_lr_ratio=0.1, offset=4)
    assert [lr_factor(shifted, s, 10) for s in range(11)] == pytest.approx(
        [warmup_cosine(s + 4, 14, 4, 0.1) for s in range(11)]
    )
    assert lr_factor(shifted, 0, 10) == 1.0  # no second warmup
    wsd = ScheduleConfig("wsd", warmup_steps=2, decay_fraction=0.25, min_lr_ratio=0.0, offset=10)
    assert [lr_factor(wsd, s, 10) for s in (0, 4, 5, 6, 10)] == pytest.approx([1, 1, 1, 0.8, 0.0])


def test_clip_threshold_follows_the_lr():
    schedule = ScheduleConfig("cosine", warmup_steps=4, min_lr_ratio=0.1)
    warm = [clip_threshold(1.0, "warmup", schedule, s, 14) for s in (0, 1, 3, 4, 9, 13)]
    assert warm == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0, 1.0])  # ramps, then stays
    assert clip_threshold(2.0, "lr", schedule, 9, 14) == pytest.approx(1.1)  # 2 * 0.55
    assert clip_threshold(2.0, "lr", schedule, 0, 14) == pytest.approx(0.4)
    assert clip_threshold(2.0, "constant", schedule, 0, 14) == 2.0
    assert clip_threshold(0.0, "warmup", schedule, 0, 14) == 0.0  # 0 stays off
    rewarm = ScheduleConfig("cosine", warmup_steps=4, warmup_from=0.5)
    assert clip_threshold(1.0, "warmup", rewarm, 0, 14) == pytest.approx(0.6)


def test_schedules_are_pure():
    schedule = ScheduleConfig("rsqrt", warmup_steps=3)
    first = [lr_factor(schedule, s, 50) for s in range(50)]
    assert first == [lr_factor(schedule, s, 50) for s in reversed(range(50))][::-1]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "linear"}, "schedule.name"),
        ({"warmup_steps": -1}, "schedule.warmup_steps"),
        ({"warmup_steps": True}, "schedule.warmup_steps"),
        ({"warmup_steps": 2.5}, "schedule.warmup_steps"),
        ({"min_lr_ratio": 1.5}, "schedule.min_lr_ratio"),
        ({"warmup_from": -0.1}, "schedule.warmup_from"),
        ({"decay_fraction": float("nan")}, "schedule.decay_fraction"),
        ({"cooldown_fraction": 2}, "schedule.cooldown_fraction"),
        ({"offset": -3}, "schedule.offset"),
    ],
)
def test_bad_schedule_configs_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        ScheduleConfig(**fields)


def test_schedule_must_fit_the_run():
    ScheduleConfig(warmup_steps=10).check(10)
    with pytest.raises(ConfigError, match="exceed the run's 5 steps"):
        ScheduleConfig(warmup_steps=10).check(5)
    with pytest.raises(ConfigError, match="wsd decay"):
        ScheduleConfig("wsd", warmup_steps=8, decay_fraction=0.3).check(10)
    with pytest.raises(ConfigError, match="at least one step"):
        ScheduleConfig().check(0)
