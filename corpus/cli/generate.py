"""`codecorpus generate RUN`: complete a prompt with a trained run or an exported model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus.core.errors import ConfigError


def generate_command(
    run: Annotated[Path, typer.Argument(help="Run folder (codecorpus train --out) or export.")],
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Prompt text.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the prompt here.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n")] = 128,
    temperature: Annotated[float, typer.Option(help="0: greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    stop: Annotated[
        list[str], typer.Option("--stop", help="Stop before this text (repeatable).")
    ] = [],  # noqa: B006 - typer needs a literal default
) -> None:
    """Print the completion of --prompt (or --file) by the model in RUN."""
    from corpus.cli.render import console
    from trainer.generate import SamplingConfig, generate
    from trainer.loading import load_model

    if (prompt is None) == (file is None):
        raise ConfigError("give exactly one of --prompt TEXT and --file PATH")
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"--file {file} does not exist")
        prompt = file.read_text()
    loaded = load_model(run)
    if loaded.tokenizer is None:
        raise ConfigError(f"{loaded.source} keeps no tokenizer.model: train it with "
                          "`codecorpus train` (which stores it) or export it again")  # fmt: skip
    sampling = SamplingConfig(max_new_tokens, temperature, top_p, seed,
                              tuple(_unescape(s) for s in stop))  # fmt: skip
    tok = loaded.tokenizer
    (done,) = generate(loaded.model, [tok.encode(prompt)], sampling, eod_id=tok.eod_id,
                       decode=tok.decode)  # fmt: skip
    console.print(prompt + done.text, markup=False, highlight=False, end="")
    console.print(f"\n[dim]-- {len(done.ids)} tokens, finished by {done.finish}[/]")


def _unescape(text: str) -> str:
    """'\\n' typed on a command line -> a newline; other characters stay as they are."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
