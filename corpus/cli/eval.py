"""`codecorpus eval`: HumanEval pass@k and bits per byte of a trained run, and their table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus.core.errors import ConfigError

eval_app = typer.Typer(help="Evaluate trained runs: pass@k, bits per byte.",
                       no_args_is_help=True)  # fmt: skip
RunArg = Annotated[Path, typer.Argument(help="Run folder (codecorpus train --out).")]


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ConfigError(f"--k takes integers separated by commas, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ConfigError(f"--k values must be >= 1, got {text!r}")
    return ks


@eval_app.command("humaneval")
def humaneval_command(
    run: RunArg,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Completions per problem.")] = 1,
    k: Annotated[str, typer.Option("--k", help="pass@k to report, e.g. 1,10.")] = "1",
    temperature: Annotated[
        float | None, typer.Option(help="Default: 0 (greedy) for 1 sample, else 0.8.")
    ] = None,
    top_p: Annotated[float, typer.Option("--top-p")] = 0.95,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 256,
    problems: Annotated[
        int | None, typer.Option("--problems", help="Only the first N problems.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Wall seconds per completion.")] = 5.0,
    workers: Annotated[int, typer.Option(help="Completions executed at once.")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Generate SAMPLES completions per HumanEval problem, run each contained, score pass@k."""
    from corpus.cli.render import console
    from trainer.evaluation.humaneval import evaluate_model
    from trainer.evaluation.record import record_eval
    from trainer.evaluation.sandbox import SandboxLimits
    from trainer.loading import load_model

    ks = _ks(k)
    loaded = load_model(run)
    temp = temperature if temperature is not None else (0.0 if samples == 1 else 0.8)
    limits = SandboxLimits(timeout=timeout, cpu_seconds=max(1, int(timeout) + 1))
    summary = evaluate_model(loaded, samples, ks, loaded.source / "eval", temperature=temp,
                             top_p=top_p, max_new_tokens=max_new_tokens, limit=problems,
                             seed=seed, limits=limits, workers=workers)  # fmt: skip
    record_eval(loaded.source, "humaneval", summary)
    scores = ", ".join(f"{n} {summary[n]:.2%}" for n in summary if n.startswith("pass@"))
    console.print(f"HumanEval {summary['problems']} problems x {samples} samples: {scores}; "
                  f"per sample: {loaded.source / 'eval' / 'humaneval_samples.jsonl'}")  # fmt: skip
    if not summary["isolated"]:
        console.print("[yellow]warning:[/] namespaces unavailable here: completions ran with "
                      "rlimits and the guard only (no network/PID/mount isolation)")  # fmt: skip


@eval_app.command("bpb")
def bpb_command(
    run: RunArg,
    documents: Annotated[
        int, typer.Option("--documents", help="Validation documents per language (max).")
    ] = 200,
    humaneval: Annotated[bool, typer.Option(help="Also the HumanEval Python probe.")] = True,
) -> None:
    """Bits per byte per language on the run's validation shards (and on HumanEval)."""
    from corpus.cli.render import console
    from trainer.evaluation.bpb import evaluate_bpb
    from trainer.evaluation.record import record_eval
    from trainer.loading import load_model

    loaded = load_model(run)
    validation = loaded.lineage.get("validation") or {}
    if not validation:
        console.print(f"[yellow]warning:[/] {loaded.source} lists no validation shards "
                      "(lineage.json): only the HumanEval probe is measured")  # fmt: skip
    result = evaluate_bpb(loaded, validation, documents, humaneval)
    record_eval(loaded.source, "bits_per_byte", result)
    _print_bpb(console, result)


def _print_bpb(console, result: dict) -> None:
    from rich.table import Table

    table = Table(title="bits per byte")
    for column in ("source", "bits/byte", "bytes", "tokens", "bytes/token"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for name, v in result.get("bits_per_byte_by_language", {}).items():
        table.add_row(name, f"{v['bits_per_byte']:.4f}", f"{v['bytes']:,}", f"{v['tokens']:,}",
                      f"{v['bytes'] / v['tokens']:.2f}")  # fmt: skip
    if "humaneval_bits_per_byte" in result:
        table.add_row("HumanEval (probe)", f"{result['humaneval_bits_per_byte']:.4f}", "", "", "")
    console.print(table)


@eval_app.command("show")
def show_command(run: RunArg) -> None:
    """The evaluations recorded for RUN, with what made its model."""
    from corpus.cli.render import console
    from trainer.evaluation.record import read_evals
    from trainer.loading import read_lineage

    evals = read_evals(run)
    lineage = read_lineage(run)
    if lineage:
        console.print(f"model of {lineage.get('dataset')}@{lineage.get('version')}, mixture "
                      f"{str(lineage.get('mixture'))[:12]}, tokenizer "
                      f"{str(lineage.get('tokenizer'))[:12]}")  # fmt: skip
    if not evals:
        console.print(f"no evaluations recorded in {run}: run `codecorpus eval bpb {run}` or "
                      f"`codecorpus eval humaneval {run}`")  # fmt: skip
        return
    if "bits_per_byte" in evals:
        _print_bpb(console, evals["bits_per_byte"])
    if "humaneval" in evals:
        h = evals["humaneval"]
        scores = ", ".join(f"{n} {h[n]:.2%}" for n in h if n.startswith("pass@"))
        console.print(f"HumanEval: {h['problems']} problems x {h['samples']} samples, {scores}")
