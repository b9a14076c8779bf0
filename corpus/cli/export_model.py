"""`codecorpus export-model RUN --format hf|gguf --out DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus.core.errors import ConfigError

FORMATS = ("hf", "gguf")


def export_model_command(
    run: Annotated[Path, typer.Argument(help="Run folder (codecorpus train --out).")],
    format: Annotated[str, typer.Option("--format", help="hf | gguf.")] = "hf",
    out: Annotated[Path, typer.Option("--out", help="New folder to write.")] = Path("model"),
) -> None:
    """Export RUN's model: Hugging Face MPT (transformers) or GGUF (llama.cpp)."""
    from corpus.cli.render import console
    from trainer.loading import load_model

    if format not in FORMATS:
        raise ConfigError(f"--format must be one of {list(FORMATS)}, got {format!r}")
    loaded = load_model(run)
    if format == "hf":
        from trainer.export_hf import export_hf

        path = export_hf(loaded, out)
    else:
        from trainer.export_gguf import export_gguf

        path = export_gguf(loaded, out)
    console.print(f"exported {loaded.source} (step {loaded.step}) as {format} to {path}")
