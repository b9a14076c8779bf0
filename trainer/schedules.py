"""Learning-rate and gradient-clipping schedules: pure functions of the step.

Every schedule returns a factor of the peak learning rate for optimizer step `step` (0-based)
of a run of `total` steps. All of them start with the same linear warmup: step s < warmup has
`warmup_from + (1 - warmup_from) * (s + 1) / (warmup + 1)`, so step 0 already moves the
weights and step `warmup` is the first at the peak. Then:

- "cosine": half a cosine from 1 to `min_lr_ratio` over the steps after warmup (nanoGPT,
  LLM Foundry's `cosine_with_warmup`).
- "wsd" (warmup-stable-decay, Hu et al. 2024 "MiniCPM"; Hägele et al. 2024): 1 until the last
  `decay_fraction` of the run, then linear down to `min_lr_ratio`. A checkpoint taken in the
  stable phase can be continued or cooled down without re-warming.
- "rsqrt" (Zhai et al. 2022, "Scaling Vision Transformers"): sqrt(warmup / s) after warmup
  (timescale = warmup), then a linear cooldown over the last `cooldown_fraction` of the run
  from its value there down to `min_lr_ratio`.

In every piece the value at step == total is the end value; the run's last step is total - 1.

Continued pre-training (Gupta et al. 2023; Ibrahim et al. 2024): a run that starts from an
earlier run's weights re-warms with a new warmup, from `warmup_from` (e.g. the LR ratio the
earlier run ended at) up to the new peak, then decays again. A run that instead continues the
earlier schedule (a WSD run stopped in its stable phase) sets `offset` to the steps already
done: step s of the new run is step s + offset of a schedule of offset + total steps.

Gradient clipping follows the LR: `clip_threshold` ramps the clipping norm with the warmup
("warmup"), scales it with the whole LR schedule ("lr"), or keeps it ("constant"). A small
threshold while the LR is small keeps the first noisy steps from moving far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError

ScheduleName = Literal["cosine", "wsd", "rsqrt"]
SCHEDULES: tuple[str, ...] = ("cosine", "wsd", "rsqrt")
ClipMode = Literal["constant", "warmup", "lr"]
CLIP_MODES: tuple[str, ...] = ("constant", "warmup", "lr")


@dataclass(frozen=True)
class ScheduleConfig(ConfigBase):
    """Which schedule and its shape; the run's length comes from the data (see `lr_factor`)."""

    section = "schedule"

    name: ScheduleName = "cosine"
    """"cosine", "wsd" or "rsqrt"."""
    warmup_steps: int = 0
    """Steps of linear warmup (again from `warmup_from` when re-warming)."""
    min_lr_ratio: float = 0.1
    """Where the decay ends, as a fraction of the peak."""
    decay_fraction: float = 0.2
    """wsd: fraction of the run (at its end) that decays linearly."""
    cooldown_fraction: float = 0.2
    """rsqrt: fraction of the run (at its end) that cools down linearly."""
    warmup_from: float = 0.0
    """Factor the warmup starts from: 0 for a fresh run; the earlier run's final factor when
    re-warming for continued pre-training."""
    offset: int = 0
    """Steps of this schedule already done by an earlier run (continue without re-warming)."""

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ConfigError(f"schedule.name must be one of {list(SCHEDULES)}, got {self.name!r}")
        for name in ("warmup_steps", "offset"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"schedule.{name} must be an integer >= 0, got {value!r}")
        for name in ("min_lr_ratio", "warmup_from"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ConfigError(f"schedule.{name} must be in [0, 1], got {value!r}")
        for name in ("decay_fraction", "cooldown_fraction"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ConfigError(f"schedule.{name} must be in [0, 1], got {value!r}")

    def check(self, total: int) -> None:
        """Raise unless the schedule fits a run of `total` steps."""
        if not isinstance(total, int) or total < 1:
            raise ConfigError(f"a run needs at least one step, got total={total!r}")
        span = total + self.offset
        tail = {"wsd": self.decay_fraction, "rsqrt": self.cooldown_fraction}.get(self.name, 0.0)
        if self.warmup_steps + round(tail * span) > span:
            raise ConfigError(
                f"schedule.warmup_steps={self.warmup_steps} plus the {self.name} decay "
                f"({round(tail * span)} steps) exceed the run's {span} steps: shorten them"
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def warmup_factor(step: int, warmup: int, warmup_from: float = 0.0) -> float:
    """Linear warmup: (s + 1) / (warmup + 1) of the way from `warmup_from` to 1; 1 after it."""
    if step >= warmup:
        return 1.0
    return warmup_from + (1.0 - warmup_from) * (step + 1) / (warmup + 1)


def warmup_cosine(
    step: int, total: int, warmup: int, min_ratio: float = 0.1, warmup_from: float = 0.0
) -> float:
    if step < warmup:
        return warmup_factor(step, warmup, warmup_from)
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_stable_decay(
    step: int,
    total: int,
    warmup: int,
    decay_steps: int,
    min_ratio: float = 0.0,
    warmup_from: float = 0.0,
) -> float:
    if step < warmup:
        return warmup_factor(step, warmup, warmup_from)
    start = total - decay_steps
    if step < start:
        return 1.0
    return 1.0 - (1.0 - min_ratio) * min((step - start) / max(decay_steps, 1), 1.0)


def inverse_sqrt(
    step: int,
    total: int,
    warmup: int,
    cooldown_steps: int,
    min_ratio: float = 0.0,
    warmup_from: float = 0.0,
) -> float:
    if step < warmup:
        return warmup_factor(step, warmup, warmup_from)
    timescale = max(warmup, 1)
    start = total - cooldown_steps
    if step < start:
        return math.sqrt(timescale / max(step, timescale))
    at_start = math.sqrt(timescale / max(start, timescale))
    end = min(min_ratio, at_start)
    return at_start - (at_start - end) * min((step - start) / max(cooldown_steps, 1), 1.0)


def lr_factor(schedule: ScheduleConfig, step: int, total: int) -> float:
    """Factor of the peak LR at optimizer step `step` of a run of `total` steps."""
    s, span = step + schedule.offset, total + schedule.offset
    warm, low, start = schedule.warmup_steps, schedule.min_lr_ratio, schedule.warmup_from
    if schedule.name == "cosine":
        return warmup_cosine(s, span, warm, low, start)
    if schedule.name == "wsd":
        return warmup_stable_decay(s, span, warm, round(schedule.decay_fraction * span), low, start)
    return inverse_sqrt(s, span, warm, round(schedule.cooldown_fraction * span), low, start)


def clip_threshold(
    max_norm: float, mode: ClipMode, schedule: ScheduleConfig, step: int, total: int
) -> float:
    """Gradient-norm clipping threshold at `step`: `max_norm` scaled as `mode` says
    (0 = no clipping, whatever the mode)."""
    if mode == "constant" or max_norm == 0:
        return max_norm
    if mode == "warmup":
        s = step + schedule.offset
        return max_norm * warmup_factor(s, schedule.warmup_steps, schedule.warmup_from)
    return max_norm * lr_factor(schedule, step, total)
