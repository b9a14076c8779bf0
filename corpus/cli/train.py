"""`codecorpus train`: DeepSpeed ZeRO training on a stored mixture of a version's shards.

One rank runs in this process; `--nproc N` (and `--hostfile` for several nodes) runs the
deepspeed launcher, each rank reading the same job file (trainer.launch). The job itself is
prepared and run by `corpus.pipeline.train_job`, which `corpus.train` shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from corpus.store.mixtures import Mixture
    from trainer.train_config import TrainConfig


def train_command(
    dataset: Annotated[str, typer.Argument(help="Dataset the mixture belongs to.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version of the shards.")],
    mixture: Annotated[str, typer.Option("--mixture", "-m", help="Stored mixture id.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Train config YAML (trainer.train_config).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder; default CODECORPUS_HOME/runs/train/.")
    ] = None,
    nproc: Annotated[
        int, typer.Option("--nproc", help="Ranks per node (GPUs, or CPU processes).")
    ] = 1,
    hostfile: Annotated[
        Path | None, typer.Option("--hostfile", help="deepspeed hostfile: train on its nodes.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint.")
    ] = False,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop the run here.")] = None,
    zero_stage: Annotated[int | None, typer.Option("--zero-stage", help="1, 2 or 3.")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="adamw | lionw.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data order.")] = 0,
    verify: Annotated[bool, typer.Option("--verify", help="Hash every shard first.")] = False,
) -> None:
    """Train on MIXTURE of DATASET@VERSION: epochs per language as the mixture's plan says."""
    from corpus.cli.render import console
    from corpus.pipeline.train_job import prepare_training, run_training
    from corpus.store.catalog import Catalog
    from trainer.train_config import read_mapping

    fields = read_mapping(config) if config else {}
    for name, value in (("max_steps", max_steps), ("zero_stage", zero_stage),
                        ("optimizer", optimizer), ("run_dir", out)):  # fmt: skip
        if value is not None:
            fields[name] = value
    fields["resume"] = resume or fields.get("resume", False)
    job = prepare_training(Catalog(), dataset, version, mixture, fields, seed, verify)
    _print_plan(console, job.mixture, job.config)
    if job.unvalidated:
        console.print(
            f"[yellow]warning:[/] {dataset}@{version} has no validation shards for "
            f"{job.unvalidated}: their validation loss is not measured (curate with "
            "shards.validation_fraction > 0)"
        )
    result = run_training(job, nproc, hostfile)
    console.print(
        f"[bold]{result['steps']}[/] steps, {result['tokens']:,} tokens, "
        f"train loss {result['losses'][-1]:.4f}, validation loss {result['val_loss']:.4f}, "
        f"{result['tokens_per_s']:,.0f} tokens/s; run folder {job.config.run_dir}"
    )


def _print_plan(console: Any, mixture: Mixture, config: TrainConfig) -> None:
    from rich.table import Table

    table = Table(title=f"{mixture.dataset}@{mixture.version} mixture {mixture.id[:12]}")
    for column in ("language", "weight", "unique tokens", "tokens", "epochs"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for c in mixture.components:
        table.add_row(c.lang, f"{c.weight:.3f}", f"{c.unique_tokens:,}", f"{c.tokens:,}",
                      f"{c.epochs:.2f}")  # fmt: skip
    console.print(table)
    model = config.model_config()
    console.print(
        f"model {config.model} ({model.n_params():,} parameters), ZeRO-{config.zero_stage}, "
        f"{config.optimizer}, lr {config.lr:g} {config.schedule.name}; plan: "
        f"{mixture.plan.get('params', 0):,.0f} parameters for {mixture.token_budget:,} tokens"
    )
