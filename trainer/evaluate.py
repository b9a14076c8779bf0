"""Validation loss per language, over windows spread across the data-parallel ranks.

Window i of a language goes to rank i % world_size; sums of token losses and token counts are
all-reduced, so the result does not depend on the number of ranks. Every rank runs the same
number of forward passes (a rank short of windows runs a padding window of weight 0): under
ZeRO-3 each forward gathers the parameters collectively, and a missing call would hang.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from trainer.distributed import World


def validation_loss(
    engine: Any, windows: Mapping[str, np.ndarray], batch_size: int, world: World
) -> tuple[float, dict[str, float]]:
    """(token-weighted loss over all languages, loss per language). Languages without
    windows are left out; no windows at all give (nan, {})."""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    languages = sorted(lang for lang, w in windows.items() if len(w))
    if not languages:
        return math.nan, {}
    totals = torch.zeros(len(languages), 2, dtype=torch.float64, device=world.device)
    was_training = engine.training
    engine.eval()
    with torch.no_grad():
        for i, language in enumerate(languages):
            everything = windows[language]
            mine = everything[world.rank :: world.size]
            per_rank = math.ceil(len(everything) / world.size)
            for start in range(0, per_rank, batch_size):
                chunk = mine[start : start + batch_size]
                weight = 1.0
                if len(chunk) == 0:
                    chunk, weight = everything[:1], 0.0
                tensor = torch.from_numpy(np.ascontiguousarray(chunk)).to(world.device)
                logits, _ = engine(tensor[:, :-1])
                losses = F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)),
                    tensor[:, 1:].reshape(-1),
                    reduction="sum",
                )
                totals[i, 0] += float(losses) * weight
                totals[i, 1] += (tensor.size(0) * (tensor.size(1) - 1)) * weight
    if was_training:
        engine.train()
    dist.all_reduce(totals)
    sums, counts = totals[:, 0].tolist(), totals[:, 1].tolist()
    by_language = {lang: s / c for lang, s, c in zip(languages, sums, counts, strict=True)}
    return sum(sums) / sum(counts), by_language
