"""DeepSpeed ZeRO training of the MPT model on a mixture: `train(config, mixture) -> TrainResult`.

One optimizer step reads the loader's batch for that step (micro_batch * grad_accum windows
on each rank), runs grad_accum forward/backward passes through the DeepSpeed engine, then sets
the LR and the clipping threshold of the step (pure functions, trainer.schedules) and steps.
The train loss of a step is the mean over its micro-batches and ranks: every window is full,
so that is the loss of the global batch. Precision: bf16 with fp32 master weights on GPU,
fp32 on CPU.

`train` runs under a launcher (each rank calls it) or as a plain call, where it makes a world
of one itself (trainer.distributed). Rank 0 appends JSON lines to run_dir/metrics.jsonl
(steps and validations) and prints a progress line; every rank returns the same result.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from corpus.core.errors import ConfigError
from trainer.checkpoint import tag_for
from trainer.data import DataError, MixtureLoader, MixtureSpec, validation_windows
from trainer.distributed import (
    TrainError,
    World,
    deepspeed_config,
    param_groups,
    peak_flops,
    process_group,
)
from trainer.schedules import clip_threshold, lr_factor
from trainer.train_config import TrainConfig

__all__ = ["TrainConfig", "TrainError", "TrainResult", "train"]


@dataclass
class TrainResult:
    """What a run did; identical on every rank."""

    steps: int
    """Optimizer steps done (of the whole run, across resumptions)."""
    tokens: int
    """Input tokens trained on: steps * global batch * seq_len."""
    losses: list[float]
    """Train loss of each optimizer step (global batch mean)."""
    val_loss: float
    """Token-weighted validation loss over all languages at the end (nan without validation)."""
    val_loss_by_language: dict[str, float]
    tokens_per_s: float
    """Training throughput of all ranks together (validation and checkpoints excluded)."""
    mfu: float | None
    """Model FLOPs utilisation against the devices' peak; None where no peak is known."""
    checkpoint: Path | None
    """The last checkpoint written, if any."""
    total_steps: int = 0
    """Steps of the whole run (this invocation may stop earlier: stop_at)."""
    lrs: list[float] = field(default_factory=list)
    """Learning rate of each step."""
    world_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checkpoint"] = str(self.checkpoint) if self.checkpoint else None
        return data


def train(
    config: TrainConfig,
    mixture: MixtureSpec,
    validation: Mapping[str, Sequence[str | Path]] | None = None,
) -> TrainResult:
    """Train `config` on `mixture` (its seq_len is replaced by the config's).

    `validation`: validation shard prefixes per language for the per-language loss (None:
    no validation; val_loss is then nan).
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(mixture, MixtureSpec):
        raise ConfigError(f"mixture must be a trainer.data.MixtureSpec, got {mixture!r}")
    with process_group(config) as world, warnings.catch_warnings():
        # torch's deprecation notices for the collectives DeepSpeed calls: not ours to fix.
        warnings.filterwarnings("ignore", category=FutureWarning, module="torch.distributed")
        return _Run(config, mixture, validation or {}, world).run()


class _Run:
    def __init__(
        self,
        config: TrainConfig,
        mixture: MixtureSpec,
        validation: Mapping[str, Sequence[str | Path]],
        world: World,
    ) -> None:
        self.config, self.world = config, world
        self.spec = replace(mixture, seq_len=config.seq_len)
        self.loader = MixtureLoader(
            self.spec, config.micro_batch * config.grad_accum, world.rank, world.size
        )
        self.total = config.max_steps or self.loader.steps
        if self.total > self.loader.steps:
            raise ConfigError(
                f"max_steps={config.max_steps} but the mixture's {self.spec.tokens} tokens fill "
                f"only {self.loader.steps} steps of {self.global_batch} windows of "
                f"{config.seq_len + 1}: lower max_steps or raise the mixture's tokens"
            )
        config.schedule.check(self.total)
        self.stop = min(config.stop_at or self.total, self.total)
        self.model_config = config.model_config()
        if not world.cuda and "attention" not in config.model_overrides:
            # CPU FlexAttention has no backward: SDPA without the fallback warning.
            self.model_config = replace(self.model_config, attention="sdpa")
        self.windows = (
            validation_windows(validation, config.seq_len, config.eval_windows)
            if validation
            else {}
        )
        self.checkpoints = config.checkpoint_path()
        self.metrics = (
            config.run_dir / "metrics.jsonl" if config.run_dir and world.rank == 0 else None
        )

    @property
    def global_batch(self) -> int:
        return self.config.micro_batch * self.config.grad_accum * self.world.size

    # ------------------------------------------------------------------ setup

    def _engine(self) -> Any:
        import deepspeed
        import torch

        from trainer.checkpoint import consolidated_weights
        from trainer.model import MPT

        torch.manual_seed(self.config.seed)
        model = MPT(self.model_config)
        if self.config.init_from is not None:
            weights = consolidated_weights(self.config.init_from)
            try:
                model.load_state_dict(weights)
            except RuntimeError as exc:
                raise ConfigError(
                    f"init_from {self.config.init_from}: its weights do not fit model "
                    f"{self.config.model!r} ({exc})"
                ) from exc
        try:
            engine, _, _, _ = deepspeed.initialize(
                model=model,
                model_parameters=param_groups(model, self.config),
                config=deepspeed_config(self.config, self.world),
                dist_init_required=False,
            )
        except Exception as exc:
            if self.config.optimizer == "lionw" and "lion" in repr(exc).lower():
                raise TrainError(
                    "DeepSpeed's Lion could not be built/loaded on this machine (on CPU it "
                    "JIT-compiles the cpu_lion op: needs a C++ compiler and ninja; on GPU the "
                    f"fused_lion op: needs the CUDA toolkit). Use optimizer: adamw or fix: {exc}"
                ) from exc
            raise
        return engine

    # ------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        import torch
        import torch.distributed as dist

        config, world = self.config, self.world
        engine = self._engine()
        state = self._resume(engine)
        step, losses, lrs = state["step"], state["losses"], state["lrs"]
        seconds = state["train_seconds"]
        peak = peak_flops(config, world)
        flops_per_token = self.model_config.flops_per_token(config.seq_len)
        tokens_per_step = self.global_batch * config.seq_len
        checkpoint = state.get("checkpoint")
        val_loss, val_by_language, val_step = math.nan, {}, None
        micro = config.micro_batch
        while step < self.stop:
            lr = config.lr * lr_factor(config.schedule, step, self.total)
            clip = clip_threshold(
                config.grad_clip, config.grad_clip_schedule, config.schedule, step, self.total
            )
            for group in engine.optimizer.param_groups:
                group["lr"] = lr
            engine.optimizer.clip_grad = clip
            batch = self.loader.batch(step)
            # Every rank learns the largest id of the step, so all of them stop together.
            top = torch.tensor(int(batch.max()), device=world.device)
            dist.all_reduce(top, op=dist.ReduceOp.MAX)
            if int(top) >= self.model_config.vocab_size:
                raise DataError(
                    f"token id {int(top)} at step {step} is outside the model's "
                    f"vocabulary of {self.model_config.vocab_size}: set model_overrides "
                    "vocab_size to the tokenizer's size"
                )
            tensor = torch.from_numpy(batch).to(world.device)
            started = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float64, device=world.device)
            for m in range(config.grad_accum):
                window = tensor[m * micro : (m + 1) * micro]
                _, loss = engine(window[:, :-1], window[:, 1:])
                engine.backward(loss)
                engine.step()
                loss_sum += loss.detach().double()
            dist.all_reduce(loss_sum)
            loss_value = float(loss_sum) / (config.grad_accum * world.size)
            seconds += time.perf_counter() - started
            if not math.isfinite(loss_value):
                raise TrainError(f"the train loss is {loss_value} at step {step}: lower the lr")
            losses.append(loss_value)
            lrs.append(lr)
            step += 1
            if step % config.log_interval == 0 or step == self.stop:
                self._log_step(engine, step, loss_value, lr, clip, tokens_per_step,
                               seconds, flops_per_token, peak)  # fmt: skip
            eval_due = config.eval_interval and step % config.eval_interval == 0
            if self.windows and (eval_due or step == self.total):
                val_loss, val_by_language = self._validate(engine, step)
                val_step = step
            save_due = config.checkpoint_interval and step % config.checkpoint_interval == 0
            if self.checkpoints and (save_due or step in (self.stop, self.total)):
                checkpoint = self._save(engine, step, losses, lrs, seconds)
        if self.windows and val_step != step:  # stopped early, or resumed at the end
            val_loss, val_by_language = self._validate(engine, step)
        tokens = step * tokens_per_step
        rate = tokens / seconds if seconds > 0 else 0.0
        result = TrainResult(
            steps=step,
            tokens=tokens,
            losses=losses,
            val_loss=val_loss,
            val_loss_by_language=val_by_language,
            tokens_per_s=rate,
            mfu=rate * flops_per_token / (peak * world.size) if peak else None,
            checkpoint=checkpoint,
            total_steps=self.total,
            lrs=lrs,
            world_size=world.size,
        )
        if config.run_dir and world.rank == 0:
            (config.run_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
        engine.destroy()
        return result

    # ------------------------------------------------------------------ pieces

    def _resume(self, engine: Any) -> dict[str, Any]:
        fresh = {"step": 0, "losses": [], "lrs": [], "train_seconds": 0.0}
        if not self.config.resume:
            return fresh
        from trainer.checkpoint import load

        state = load(engine, self.checkpoints, self.world)
        if state is None:
            self._say(f"no checkpoint in {self.checkpoints}: starting from step 0")
            return fresh
        for name, mine in (("config", self.config.fingerprint()),
                           ("mixture", self.spec.fingerprint())):  # fmt: skip
            if state.get(f"{name}_fingerprint") != mine:
                raise ConfigError(
                    f"the checkpoint in {self.checkpoints} was written by a run with another "
                    f"{name}: resume with the same {name} (runtime fields may change)"
                )
        self.loader.load_state_dict(state["loader"])
        self._say(f"resumed from {self.checkpoints} at step {state['step']}")
        return {**state, "checkpoint": self.checkpoints / tag_for(state["step"])}

    def _save(self, engine: Any, step: int, losses: list[float], lrs: list[float],
              seconds: float) -> Path:  # fmt: skip
        from trainer.checkpoint import save

        self.loader.step = step
        client_state = {
            "step": step,
            "losses": list(losses),
            "lrs": list(lrs),
            "train_seconds": seconds,
            "loader": self.loader.state_dict(),
            "config_fingerprint": self.config.fingerprint(),
            "mixture_fingerprint": self.spec.fingerprint(),
            "config": self.config.to_dict(),
        }
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return save(engine, self.checkpoints, step, client_state, self.world,
                    self.config.keep_checkpoints)  # fmt: skip

    def _validate(self, engine: Any, step: int) -> tuple[float, dict[str, float]]:
        from trainer.evaluate import validation_loss

        loss, by_language = validation_loss(engine, self.windows, self.config.micro_batch,
                                            self.world)  # fmt: skip
        self._append({"step": step, "val_loss": loss, "val_loss_by_language": by_language})
        self._say(f"step {step}: validation loss {loss:.4f} " + " ".join(
            f"{lang} {value:.3f}" for lang, value in by_language.items()))  # fmt: skip
        return loss, by_language

    def _log_step(self, engine: Any, step: int, loss: float, lr: float, clip: float,
                  tokens_per_step: int, seconds: float, flops_per_token: float,
                  peak: float | None) -> None:  # fmt: skip
        norm = engine.get_global_grad_norm()
        rate = step * tokens_per_step / seconds if seconds > 0 else 0.0
        mfu = rate * flops_per_token / (peak * self.world.size) if peak else None
        self._append({
            "step": step, "loss": loss, "lr": lr, "grad_clip": clip,
            "grad_norm": None if norm is None else float(norm),
            "tokens": step * tokens_per_step, "tokens_per_s": rate, "mfu": mfu,
            "train_seconds": seconds,
        })  # fmt: skip
        self._say(
            f"step {step}/{self.total} loss {loss:.4f} lr {lr:.2e} clip {clip:.2f} "
            f"{rate:,.0f} tok/s" + (f" mfu {mfu:.1%}" if mfu is not None else "")
        )

    def _append(self, record: dict[str, Any]) -> None:
        if self.metrics is None:
            return
        self.metrics.parent.mkdir(parents=True, exist_ok=True)
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def _say(self, line: str) -> None:
        if self.config.progress and self.world.rank == 0:
            print(line, file=sys.stderr, flush=True)
