"""Checkpoints with exact resumption: DeepSpeed's engine state plus what the loop needs.

A checkpoint `step00000012` in the checkpoint folder holds, after 12 optimizer steps: the
engine's model and (partitioned) optimizer states as DeepSpeed writes them, the loop state
(`client_state`: steps done, the loader's state, the losses so far, the configs' fingerprints)
and each rank's RNG states. The LR and clipping threshold are pure functions of the step, so
nothing else is needed for the resumed run to compute the same numbers. `latest` names the
newest tag (DeepSpeed's convention, also read by its zero_to_fp32 tool).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from trainer.distributed import TrainError, World

_TAG = re.compile(r"^step(\d{8})$")


def tag_for(step: int) -> str:
    return f"step{step:08d}"


def latest_tag(directory: Path) -> str | None:
    latest = directory / "latest"
    if not latest.is_file():
        return None
    tag = latest.read_text().strip()
    if not (directory / tag).is_dir():
        raise TrainError(f"{latest} names checkpoint {tag!r}, which is not in {directory}")
    return tag


def save(
    engine: Any, directory: Path, step: int, client_state: dict[str, Any], world: World,
    keep: int,
) -> Path:  # fmt: skip
    """Write the checkpoint after `step` steps on every rank; keep the newest `keep`."""
    import torch
    import torch.distributed as dist

    tag = tag_for(step)
    engine.save_checkpoint(str(directory), tag=tag, client_state=client_state)
    rng = {"torch": torch.get_rng_state()}
    if world.cuda:
        rng["cuda"] = torch.cuda.get_rng_state(world.local_rank)
    torch.save(rng, directory / tag / f"rng_rank{world.rank}.pt")
    dist.barrier()
    if world.rank == 0:
        tags = sorted(p.name for p in directory.iterdir() if p.is_dir() and _TAG.match(p.name))
        for old in tags[: max(len(tags) - keep, 0)]:
            shutil.rmtree(directory / old, ignore_errors=True)
    dist.barrier()
    return directory / tag


def load(engine: Any, directory: Path, world: World) -> dict[str, Any] | None:
    """Restore the newest checkpoint into the engine and this rank's RNG; its client state,
    or None where the folder holds no checkpoint."""
    import torch

    tag = latest_tag(directory)
    if tag is None:
        return None
    path, client_state = engine.load_checkpoint(str(directory), tag=tag)
    if path is None or client_state is None:
        raise TrainError(f"DeepSpeed could not load checkpoint {directory / tag}")
    rng_file = directory / tag / f"rng_rank{world.rank}.pt"
    if not rng_file.is_file():
        raise TrainError(
            f"{rng_file} is missing: checkpoint {tag} was written by fewer ranks; resume "
            "with the world size it was saved with"
        )
    rng = torch.load(rng_file, weights_only=True)
    torch.set_rng_state(rng["torch"])
    if world.cuda and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], world.local_rank)
    return client_state


def consolidated_weights(directory: Path) -> dict[str, Any]:
    """The full fp32 weights of the newest checkpoint in `directory`, whatever ZeRO stage and
    world size wrote it (DeepSpeed's zero_to_fp32)."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    tag = latest_tag(directory)
    if tag is None:
        raise TrainError(f"init_from: {directory} holds no checkpoint (no 'latest' file)")
    return get_fp32_state_dict_from_zero_checkpoint(str(directory), tag=tag)
