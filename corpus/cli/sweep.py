"""`codecorpus sweep`: a grid of training runs over unique-token budgets, epochs and model
sizes on a stored mixture, with the results table, the scaling-law fit and a PNG."""

from pathlib import Path
from typing import Annotated, Any

import typer


def sweep(
    dataset: Annotated[str, typer.Argument(help="Dataset of the mixture.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version of the mixture.")],
    mixture: Annotated[str, typer.Option("--mixture", "-m", help="Stored mixture id.")],
    config: Annotated[
        Path, typer.Option("--config", help="Sweep YAML (trainer/sweep_config.py).", exists=True)
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the results table, fit and PNG (resumable).")
    ],
    shard_root: Annotated[
        Path | None,
        typer.Option("--shard-root", help="Folder the version's shards were pulled into."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Running Ray cluster to use."),
    ] = None,
) -> None:
    """Train every trial of the grid not yet in OUT's table, then print the table, the fit of
    the data-constrained law and the PNG's path."""
    from corpus.cli.render import console, trial_printer
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import training_inputs
    from trainer.sweep import run_sweep
    from trainer.sweep_config import SweepConfig
    from trainer.sweep_grid import MixtureInfo, SweepError

    settings = SweepConfig.from_file(config)
    seq_len = settings.train.get("seq_len", 128)
    catalog = Catalog()
    inputs = training_inputs(catalog, mixture, seq_len, dataset=dataset, version=version,
                             seed=settings.seed, shard_root=shard_root)  # fmt: skip
    found, base, validation = inputs.mixture, inputs.spec, inputs.validation
    info = MixtureInfo.from_mixture(found, inputs.vocab_size)
    console.print(
        f"sweep on {dataset}@{version} mixture {mixture[:12]} ({', '.join(found.weights)}): "
        f"{settings.mode}, models {', '.join(settings.models)}; results in {out}"
    )
    tokenizer_bytes = None
    if settings.evaluate.enabled:
        from tokenizer.store import TokenizerStore

        tokenizer_bytes = TokenizerStore(catalog.settings.resolved_warehouse()).load(
            found.tokenizer)  # fmt: skip
    report = run_sweep(settings, base, info, out, validation=validation,
                       ray_address=ray_address, on_event=trial_printer(console, _finished),
                       tokenizer_bytes=tokenizer_bytes)  # fmt: skip
    if report.rows:
        console.print(_table(report.rows))
    for line in report.fit.lines():
        console.print(line)
    if report.png:
        console.print(f"table: {report.table} (and results.csv); figure: [bold]{report.png}[/]")
    if report.failed:
        listed = "; ".join(f"{tid}: {why}" for tid, why in report.failed.items())
        raise SweepError(
            f"{len(report.failed)} trial(s) failed ({listed}); fix the cause and rerun the same "
            "command: finished trials are kept"
        )


def _finished(info: dict) -> str:
    evals = "".join(f", {k} {v:.4f}" for k, v in (info.get("evals") or {}).items()
                    if isinstance(v, int | float))  # fmt: skip
    return (f"val loss {info['val_loss']:.4f}, {info['steps']} steps, "
            f"{info['tokens_per_s']:,.0f} tok/s, {info['wall_s']:.1f} s{evals}")  # fmt: skip


def _table(rows: list[dict]) -> Any:
    from rich.table import Table

    from trainer.plan import human

    languages = sorted({lang for row in rows for lang in row["val_loss_by_language"]})
    table = Table(title="sweep results (val loss in nats/token)")
    header = ["trial", "model", "N", "D", "U", "epochs", "val loss", *languages, "tok/s", "wall s"]
    for column in header:
        table.add_column(column, justify="left" if column in ("trial", "model") else "right")
    for row in rows:
        by_language = row["val_loss_by_language"]
        table.add_row(
            row["trial_id"], row["model"], human(row["params"]), human(row["tokens"]),
            human(row["unique_tokens"]), f"{row['epochs']:.2f}", f"{row['val_loss']:.4f}",
            *(f"{by_language[lang]:.4f}" if lang in by_language else "-" for lang in languages),
            f"{row['tokens_per_s']:,.0f}", f"{row['wall_s']:.1f}",
        )  # fmt: skip
    return table
