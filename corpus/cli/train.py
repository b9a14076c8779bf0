"""`codecorpus train`: DeepSpeed ZeRO training on a stored mixture of a version's shards.

One rank runs in this process; `--nproc N` (and `--hostfile` for several nodes) runs the
deepspeed launcher, each rank reading the same job file (trainer.launch).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from corpus.core.errors import ConfigError

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
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import training_inputs
    from corpus.store.versions import Registry
    from trainer.data import local_prefix
    from trainer.train_config import TrainConfig, read_mapping

    catalog = Catalog()
    Registry(catalog, dataset).get(version)  # VersionNotFound names the known versions
    fields = read_mapping(config) if config else {}
    for name, value in (("max_steps", max_steps), ("zero_stage", zero_stage),
                        ("optimizer", optimizer), ("run_dir", out)):  # fmt: skip
        if value is not None:
            fields[name] = value
    fields["resume"] = resume or fields.get("resume", False)
    fields.setdefault("run_dir", catalog.settings.home / "runs" / "train" / mixture[:12])
    # validated before the mixture is resolved, which needs its seq_len
    train_config = TrainConfig.from_dict(fields)
    inputs = training_inputs(catalog, mixture, train_config.seq_len, dataset=dataset,
                             version=version, seed=seed, verify=verify)  # fmt: skip
    found, spec, validation = inputs.mixture, inputs.spec, inputs.validation
    overrides = fields.get("model_overrides") or {}
    if isinstance(overrides, dict) and "vocab_size" not in overrides:
        fields["model_overrides"] = {**overrides, "vocab_size": inputs.vocab_size}
        train_config = TrainConfig.from_dict(fields)
    run_dir = train_config.run_dir
    for component in spec.components:  # missing shards fail here, not in N ranks
        for ref in component.shards:
            local_prefix(component.language, ref)
    _print_plan(console, found, train_config)
    unvalidated = inputs.unvalidated
    if unvalidated:
        console.print(
            f"[yellow]warning:[/] {dataset}@{version} has no validation shards for "
            f"{unvalidated}: their validation loss is not measured (curate with "
            "shards.validation_fraction > 0)"
        )
    if nproc == 1 and hostfile is None:
        from trainer.train import train

        result = train(train_config, spec, validation).to_dict()
    else:
        result = _launch(train_config, spec, validation, nproc, hostfile)
    console.print(
        f"[bold]{result['steps']}[/] steps, {result['tokens']:,} tokens, "
        f"train loss {result['losses'][-1]:.4f}, validation loss {result['val_loss']:.4f}, "
        f"{result['tokens_per_s']:,.0f} tokens/s; run folder {run_dir}"
    )


def _launch(config: TrainConfig, spec: Any, validation: dict, nproc: int,
            hostfile: Path | None) -> dict[str, Any]:  # fmt: skip
    import json

    from trainer.launch import deepspeed_command, write_job

    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    if hostfile is not None and not hostfile.is_file():
        raise ConfigError(f"--hostfile {hostfile} does not exist")
    job = write_job(config.run_dir / "job.json", config, spec, validation)
    done = subprocess.run(deepspeed_command(job, nproc, hostfile=hostfile), check=False)
    result = config.run_dir / "result.json"
    if done.returncode != 0 or not result.is_file():
        from trainer.distributed import TrainError

        raise TrainError(f"the deepspeed launcher exited with {done.returncode}; see above")
    return json.loads(result.read_text())


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
