"""The process group and the DeepSpeed engine configuration of a training run.

Three ways a run gets its ranks: a launcher (deepspeed, torchrun, Ray Train) set RANK,
WORLD_SIZE, MASTER_ADDR/PORT and LOCAL_RANK; or a caller already initialised torch.distributed;
or neither (a plain function call, e.g. a sweep trial in a Ray task), and the run makes a world
of one on a free loopback port. Whatever this module set up it tears down again, environment
included, so a second run in the same process starts clean.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from corpus.core.errors import CodecorpusError
from trainer.train_config import TrainConfig

_LAUNCH_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")


class TrainError(CodecorpusError, RuntimeError):
    """The run cannot go on (a backend, an op build or a checkpoint failed)."""


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int
    cuda: bool

    @property
    def device(self) -> str:
        return f"cuda:{self.local_rank}" if self.cuda else "cpu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_cuda(config: TrainConfig) -> bool:
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("device: cuda asked for, but torch sees no CUDA device")
    return config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())


@contextmanager
def process_group(config: TrainConfig) -> Iterator[World]:
    """The run's world: the launcher's or the caller's process group, or one of size 1."""
    cuda = use_cuda(config)
    saved = {k: os.environ.get(k) for k in (*_LAUNCH_ENV, "DS_ACCELERATOR")}
    created = False
    try:
        if not cuda:
            # Before deepspeed is imported: it picks its accelerator once per process.
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        import deepspeed
        import torch
        import torch.distributed as dist

        if not dist.is_initialized() and not all(k in os.environ for k in _LAUNCH_ENV):
            os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0",
                              MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))  # fmt: skip
        os.environ.setdefault("LOCAL_RANK", "0")  # a caller's group: DeepSpeed still reads it
        local_rank = int(os.environ["LOCAL_RANK"])
        if cuda:
            torch.cuda.set_device(local_rank)  # before NCCL starts: one device per rank
        if not dist.is_initialized():
            try:
                deepspeed.init_distributed(
                    dist_backend="nccl" if cuda else "gloo", auto_mpi_discovery=False,
                    verbose=False,
                )  # fmt: skip
            except Exception as exc:
                if cuda:
                    raise
                raise TrainError(
                    "DeepSpeed could not start its CPU backend: it JIT-compiles a shared-memory "
                    "op on first use, which needs a working C++ compiler (g++, or $CXX) and "
                    f"ninja: {exc!r}"
                ) from exc
            created = True
        yield World(dist.get_rank(), dist.get_world_size(), local_rank, cuda)
        if created:
            dist.barrier()  # every rank is done before the store goes away
    finally:
        if created and dist.is_initialized():
            # DeepSpeed's, not torch's: it also drops DeepSpeed's cached groups of this world.
            deepspeed.comm.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def deepspeed_config(config: TrainConfig, world: World) -> dict[str, Any]:
    """The DeepSpeed JSON config: ZeRO stage, precision, optimizer, clipping, batch layout."""
    beta1, beta2 = config.betas_or_default()
    zero: dict[str, Any] = {"stage": config.zero_stage}
    if config.optimizer == "adamw":
        # torch's AdamW (foreach): no op to JIT-build on either device.
        optimizer = {
            "type": "AdamW",
            "params": {"lr": config.lr, "betas": [beta1, beta2], "eps": config.eps,
                       "torch_adam": True, "adam_w_mode": True},
        }  # fmt: skip
    else:
        optimizer = {"type": "Lion", "params": {"lr": config.lr, "betas": [beta1, beta2]}}
        if not world.cuda:
            # DeepSpeed's Lion is a CUDA kernel (FusedLion); on CPU only the offloaded
            # optimizer (DeepSpeedCPULion, a JIT-built C++ op) runs.
            zero["offload_optimizer"] = {"device": "cpu"}
    return {
        "train_micro_batch_size_per_gpu": config.micro_batch,
        "gradient_accumulation_steps": config.grad_accum,
        # The largest threshold: the run lowers it per step (clip_threshold); 0 = off.
        "gradient_clipping": config.grad_clip,
        "zero_optimization": zero,
        "optimizer": optimizer,
        "bf16": {"enabled": world.cuda},
        "steps_per_print": 2**62,
        "wall_clock_breakdown": False,
    }


def param_groups(model: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """Matrices decay, vectors (LayerNorm weights) do not. The optimizers decay by lr * wd, so
    the decoupled rate (LLM Foundry: wd * lr(t) / peak lr) is wd / peak lr here."""
    decay, plain = [], []
    for p in model.parameters():
        (decay if p.dim() >= 2 else plain).append(p)
    rate = config.weight_decay / config.lr
    return [{"params": decay, "weight_decay": rate}, {"params": plain, "weight_decay": 0.0}]


#: Dense bf16 peak FLOP/s by a substring of the CUDA device name (vendor data sheets).
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989e12), ("H100", 989e12), ("A100", 312e12), ("L40S", 362e12), ("A10G", 125e12),
)  # fmt: skip


def peak_flops(config: TrainConfig, world: World) -> float | None:
    """Peak FLOP/s of one device: the config's, a known GPU's bf16 peak, else None."""
    if config.peak_flops is not None:
        return config.peak_flops
    if not world.cuda:
        return None
    import torch

    name = torch.cuda.get_device_name(world.local_rank)
    return next((flops for key, flops in PEAK_BF16_FLOPS if key in name), None)
