"""Load a trained model for inference: from a run folder (any ZeRO stage or world size wrote
its checkpoint) or from a folder `export-model --format hf` wrote.

A run folder is what `train` writes (`checkpoints/latest`, `result.json`, metrics); the
`codecorpus train` command also leaves `lineage.json` (dataset, version, mixture, tokenizer)
and `tokenizer.model` there, so a run decodes text without the catalog.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.core.errors import CodecorpusError, ConfigError
from trainer.model_config import ModelConfig

if TYPE_CHECKING:
    from tokenizer.model import CodeTokenizer
    from trainer.model import MPT

LINEAGE = "lineage.json"
TOKENIZER = "tokenizer.model"
OURS = "codecorpus.json"  # beside an HF export: our ModelConfig and the lineage


class ModelNotFound(CodecorpusError):
    """The path holds neither a run's checkpoint nor an exported model."""


@dataclass
class LoadedModel:
    model: MPT
    config: ModelConfig
    source: Path
    """The run or export folder."""
    kind: str
    """"run" or "hf"."""
    tokenizer: CodeTokenizer | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    step: int | None = None
    """Optimizer steps of the checkpoint (runs only)."""
    seq_len: int | None = None
    """The context length it was trained with."""


def write_lineage(run_dir: Path, lineage: dict[str, Any], tokenizer_bytes: bytes | None) -> None:
    """Record what made a run (called by `codecorpus train`) and keep its tokenizer."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LINEAGE).write_text(json.dumps(lineage, indent=2, sort_keys=True))
    if tokenizer_bytes:
        (run_dir / TOKENIZER).write_bytes(tokenizer_bytes)


def read_lineage(folder: Path) -> dict[str, Any]:
    path = folder / LINEAGE
    return json.loads(path.read_text()) if path.is_file() else {}


def load_tokenizer(folder: Path) -> CodeTokenizer | None:
    """The SentencePiece model kept in a run or export folder, if any."""
    from tokenizer.model import CodeTokenizer

    path = folder / TOKENIZER
    return CodeTokenizer(path.read_bytes()) if path.is_file() else None


def checkpoint_dir(path: Path) -> Path | None:
    """The checkpoint folder of a run folder, or `path` itself if it is one."""
    for candidate in (path / "checkpoints", path):
        if (candidate / "latest").is_file():
            return candidate
    return None


def run_model_config(checkpoints: Path) -> tuple[ModelConfig, int, int]:
    """(model config, step, seq_len) of a checkpoint: from the client state that
    `trainer.checkpoint.save` stores in DeepSpeed's model-states file."""
    import torch

    from trainer.checkpoint import latest_tag
    from trainer.train_config import TrainConfig

    tag = latest_tag(checkpoints)
    files = sorted((checkpoints / tag).glob("*mp_rank_00_model_states.pt"))
    if not files:
        raise ModelNotFound(f"{checkpoints / tag} has no DeepSpeed model-states file")
    state = torch.load(files[0], map_location="cpu", weights_only=False)
    if "config" not in state:
        raise ModelNotFound(f"{files[0]} holds no train config (not written by codecorpus train)")
    train_config = TrainConfig.from_dict(state["config"])
    return train_config.model_config(), int(state.get("step", 0)), train_config.seq_len


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """The model in a run folder, its checkpoints folder, or an HF export folder."""
    from trainer.model import MPT

    folder = Path(path)
    if not folder.exists():
        raise ModelNotFound(f"{folder} does not exist: pass a run folder or an exported model")
    if (folder / OURS).is_file():
        return load_hf_export(folder, device)
    checkpoints = checkpoint_dir(folder)
    if checkpoints is None:
        raise ModelNotFound(
            f"{folder} holds no checkpoint (no checkpoints/latest) and no exported model "
            f"({OURS}): pass the run folder `codecorpus train --out` wrote"
        )
    from trainer.checkpoint import consolidated_weights

    config, step, seq_len = run_model_config(checkpoints)
    config = replace(config, attention="sdpa", dropout=0.0)
    model = MPT(config)
    quiet = io.StringIO()  # zero_to_fp32 prints its progress, tqdm draws a bar
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        weights = consolidated_weights(checkpoints)
    model.load_state_dict(weights)
    model = model.to(device).eval()
    run_dir = checkpoints.parent if checkpoints.name == "checkpoints" else checkpoints
    return LoadedModel(model, config, run_dir, "run", load_tokenizer(run_dir),
                       read_lineage(run_dir), step, seq_len)  # fmt: skip


def load_hf_export(folder: Path, device: str = "cpu") -> LoadedModel:
    """Our MPT from an HF export folder (weights from model.safetensors)."""
    from dataclasses import replace

    from safetensors.torch import load_file

    from trainer.model import MPT

    ours = json.loads((folder / OURS).read_text())
    config = replace(ModelConfig.from_dict(ours["model_config"]), attention="sdpa")
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ConfigError(f"{folder} has no model.safetensors: not a complete HF export")
    state = {k.removeprefix("transformer."): v for k, v in load_file(str(weights)).items()}
    if config.tie_embeddings:
        state.pop("lm_head.weight", None)
    model = MPT(config)
    model.load_state_dict(state)
    return LoadedModel(
        model.to(device).eval(),
        config,
        folder,
        "hf",
        load_tokenizer(folder),
        ours.get("lineage") or {},
        ours.get("step"),
        ours.get("seq_len"),
    )
