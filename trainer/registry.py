"""Trained runs found on disk, with what made them and how they scored (for /v1/models).

A model is a run folder under the runs root (`codecorpus train` writes to
CODECORPUS_HOME/runs/train/<mixture id prefix> by default) that holds a checkpoint. Its
record: the lineage (dataset, version, mixture, tokenizer), the training result, and every
evaluation recorded in eval/ (bits per byte, HumanEval pass@k). Reading needs no torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from corpus.core.errors import CodecorpusError
from trainer.evaluation.record import read_evals
from trainer.loading import read_lineage

_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class ModelRecordNotFound(CodecorpusError):
    """No trained run of that id."""


def model_record(folder: Path) -> dict[str, Any]:
    result_file = folder / "result.json"
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    latest = folder / "checkpoints" / "latest"
    return {
        "id": folder.name,
        "path": str(folder),
        "checkpoint": latest.read_text().strip() if latest.is_file() else None,
        "steps": result.get("steps"),
        "tokens": result.get("tokens"),
        "val_loss": result.get("val_loss"),
        "val_loss_by_language": result.get("val_loss_by_language") or {},
        "lineage": read_lineage(folder),
        "evals": read_evals(folder),
    }


def list_models(root: Path) -> list[dict[str, Any]]:
    """Every run folder under `root` with a checkpoint, by id."""
    if not root.is_dir():
        return []
    return [model_record(p) for p in sorted(root.iterdir())
            if (p / "checkpoints" / "latest").is_file()]  # fmt: skip


def get_model(root: Path, model_id: str) -> dict[str, Any]:
    folder = root / model_id
    if not _ID.match(model_id) or not (folder / "checkpoints" / "latest").is_file():
        raise ModelRecordNotFound(f"no trained run {model_id!r} under {root}")
    return model_record(folder)
