"""What a training run does: one frozen, validated dataclass, loadable from YAML.

Importing this module does not import torch, so the CLI and the sweep read configs fast.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Self

import yaml

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError
from trainer.model_config import ModelConfig
from trainer.schedules import CLIP_MODES, ClipMode, ScheduleConfig

OptimizerName = Literal["adamw", "lionw"]
OPTIMIZERS: tuple[str, ...] = ("adamw", "lionw")
#: Default betas: AdamW as LLM Foundry's MPT YAMLs; Lion as its paper and DecoupledLionW.
DEFAULT_BETAS: dict[str, tuple[float, float]] = {"adamw": (0.9, 0.95), "lionw": (0.9, 0.99)}

#: Fields that say how this invocation runs, not what the run is: they may change on resume.
RUNTIME_FIELDS = (
    "resume", "stop_at", "run_dir", "checkpoint_dir", "checkpoint_interval", "keep_checkpoints",
    "progress", "log_interval", "peak_flops",
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig(ConfigBase):
    """A DeepSpeed ZeRO training run of a named model on a mixture."""

    section = "train"

    model: str = "tiny"
    """Named model config (trainer.model_config.MODEL_CONFIGS)."""
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Fields of the model config to change, e.g. {"vocab_size": 3000, "attention": "sdpa"}.
    The vocabulary must cover the tokenizer's ids."""
    zero_stage: int = 1
    """ZeRO stage: 1 partitions optimizer states, 2 also gradients, 3 also parameters."""
    optimizer: OptimizerName = "adamw"
    """"adamw" or "lionw" (DeepSpeed's Lion; on CPU offloaded so DeepSpeedCPULion runs)."""
    lr: float = 3e-4
    """Peak learning rate."""
    weight_decay: float = 0.0
    """Decoupled weight decay as LLM Foundry's DecoupledAdamW/DecoupledLionW: each step
    multiplies matrices by 1 - weight_decay * lr(step) / lr, so it is not scaled by the peak
    LR itself (1e-5 here is like 0.1 of torch's AdamW at lr 1e-4). Matrices decay (the
    embedding too); LayerNorm weights do not."""
    betas: tuple[float, float] | None = None
    """Optimizer betas; default by optimizer (DEFAULT_BETAS)."""
    eps: float = 1e-8
    """AdamW epsilon."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """Learning-rate schedule (trainer.schedules)."""
    grad_clip: float = 1.0
    """Largest gradient-norm clipping threshold; 0 disables clipping."""
    grad_clip_schedule: ClipMode = "warmup"
    """How the threshold follows the LR: "constant", "warmup" (ramps with the warmup) or
    "lr" (scaled by the whole LR schedule)."""
    micro_batch: int = 8
    """Windows per rank per forward pass."""
    grad_accum: int = 1
    """Micro-batches per optimizer step; global batch = micro_batch * grad_accum * ranks."""
    seq_len: int = 128
    """Tokens per training window (the mixture is packed to windows of seq_len + 1)."""
    max_steps: int | None = None
    """Optimizer steps of the run; None: as many as the mixture's tokens fill."""
    seed: int = 0
    """Seeds the model's initialisation (the mixture's own seed fixes the data order)."""
    eval_interval: int = 0
    """Validation every this many steps (0: only at the end)."""
    eval_windows: int = 64
    """Validation windows per language, evenly spread over its validation shards."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """"auto": CUDA when available (bf16, NCCL), else CPU (fp32, gloo)."""
    init_from: Path | None = None
    """Continued pre-training: start from the weights of this checkpoint folder (a run's
    checkpoint_dir) with a fresh optimizer, data order and schedule; re-warm with
    schedule.warmup_steps from schedule.warmup_from."""
    # Runtime fields (RUNTIME_FIELDS): may differ between a run and its resumption.
    run_dir: Path | None = None
    """Where metrics.jsonl and result.json go (and checkpoints, unless checkpoint_dir)."""
    checkpoint_dir: Path | None = None
    """Where checkpoints go; default run_dir/checkpoints; None without a run_dir: none."""
    checkpoint_interval: int = 0
    """Checkpoint every this many steps (0: only at the end, and at stop_at)."""
    keep_checkpoints: int = 2
    """Most recent checkpoints kept; older ones are deleted."""
    resume: bool = False
    """Continue from the latest checkpoint in checkpoint_dir (a fresh start if there is none)."""
    stop_at: int | None = None
    """End this invocation after this step with a checkpoint, the schedule still spanning the
    whole run (time-sliced or preemptible jobs resume from it)."""
    peak_flops: float | None = None
    """Peak FLOP/s of one device for MFU; default: known GPUs' bf16 peak, None on CPU."""
    progress: bool = True
    """Print a progress line every log_interval steps (rank 0)."""
    log_interval: int = 1
    """Steps between progress lines and metrics records."""

    def __post_init__(self) -> None:
        if isinstance(self.schedule, dict):
            object.__setattr__(self, "schedule", _build(ScheduleConfig, "schedule", self.schedule))
        for name in ("init_from", "run_dir", "checkpoint_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if self.betas is not None:
            object.__setattr__(self, "betas", tuple(self.betas))
        self.model_config()  # raises on an unknown name or a bad override
        if self.zero_stage not in (1, 2, 3):
            raise ConfigError(f"zero_stage must be 1, 2 or 3, got {self.zero_stage!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.grad_clip_schedule not in CLIP_MODES:
            raise ConfigError(
                f"grad_clip_schedule must be one of {list(CLIP_MODES)}, "
                f"got {self.grad_clip_schedule!r}"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("lr", "eps"):
            _check_number(name, getattr(self, name), positive=True)
        for name in ("weight_decay", "grad_clip"):
            _check_number(name, getattr(self, name), positive=False)
        if self.peak_flops is not None:
            _check_number("peak_flops", self.peak_flops, positive=True)
        betas = self.betas_or_default()
        if len(betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        for name in ("micro_batch", "grad_accum", "eval_windows", "keep_checkpoints",
                     "log_interval"):  # fmt: skip
            _check_int(name, getattr(self, name), low=1)
        _check_int("seq_len", self.seq_len, low=2)
        for name in ("seed", "eval_interval", "checkpoint_interval"):
            _check_int(name, getattr(self, name), low=0)
        for name in ("max_steps", "stop_at"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), low=1)
        if self.stop_at is not None and self.checkpoint_path() is None:
            raise ConfigError("stop_at needs a checkpoint_dir (or run_dir) to resume from")
        if self.resume and self.checkpoint_path() is None:
            raise ConfigError("resume needs a checkpoint_dir (or run_dir) to resume from")

    def model_config(self) -> ModelConfig:
        if not isinstance(self.model_overrides, dict):
            raise ConfigError(f"model_overrides must be a mapping, got {self.model_overrides!r}")
        overrides = {"max_seq_len": self.seq_len, **self.model_overrides}
        return ModelConfig.named(self.model, **overrides)

    def betas_or_default(self) -> tuple[float, ...]:
        return self.betas if self.betas is not None else DEFAULT_BETAS.get(self.optimizer, ())

    def checkpoint_path(self) -> Path | None:
        if self.checkpoint_dir is not None:
            return self.checkpoint_dir
        return self.run_dir / "checkpoints" if self.run_dir is not None else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("init_from", "run_dir", "checkpoint_dir"):
            if data[name] is not None:
                data[name] = str(data[name])
        if data["betas"] is not None:
            data["betas"] = list(data["betas"])
        return data

    def fingerprint(self) -> str:
        """Hash of what the run computes (runtime fields excluded): a resumed run must match."""
        data = {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(f"a train config must be a mapping, got {type(data).__name__}")
        return super().from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        return cls.from_dict(read_mapping(path))


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The fields of a train config YAML, not yet validated (callers may add some first)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read train config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"train config {path} must be a mapping of fields")
    return data


def _build(cls: type, what: str, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a mapping, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown} in {what}; known: {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:  # e.g. a list where a number belongs
        raise ConfigError(f"bad {what}: {exc}") from exc


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _check_number(name: str, value: object, positive: bool) -> None:
    ok = _is_number(value) and value != float("inf") and (value > 0 if positive else value >= 0)
    if not ok:
        raise ConfigError(f"{name} must be a {'positive' if positive else 'non-negative'} "
                          f"number, got {value!r}")  # fmt: skip


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
