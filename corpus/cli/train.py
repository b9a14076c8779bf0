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
    from corpus.store.catalog import Catalog
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
    from corpus.store.mixtures import get_mixture
    from corpus.store.versions import Registry
    from trainer.data import MixtureSpec, local_prefix
    from trainer.train_config import TrainConfig, read_mapping

    catalog = Catalog()
    Registry(catalog, dataset).get(version)  # VersionNotFound names the known versions
    found = get_mixture(catalog, mixture)
    if (found.dataset, found.version) != (dataset, version):
        raise ConfigError(
            f"mixture {mixture} is over {found.dataset}@{found.version}, not {dataset}@{version}"
        )
    fields = read_mapping(config) if config else {}
    for name, value in (("max_steps", max_steps), ("zero_stage", zero_stage),
                        ("optimizer", optimizer), ("run_dir", out)):  # fmt: skip
        if value is not None:
            fields[name] = value
    fields["resume"] = resume or fields.get("resume", False)
    fields.setdefault("run_dir", catalog.settings.home / "runs" / "train" / found.id[:12])
    overrides = fields.get("model_overrides") or {}
    if isinstance(overrides, dict) and "vocab_size" not in overrides:
        fields["model_overrides"] = {
            **overrides,
            "vocab_size": _vocab_size(catalog, found.tokenizer),
        }
    train_config = TrainConfig.from_dict(fields)
    run_dir = train_config.run_dir
    spec = MixtureSpec.from_mixture(found, train_config.seq_len, seed, verify=verify)
    for component in spec.components:  # missing shards fail here, not in N ranks
        for ref in component.shards:
            local_prefix(component.language, ref)
    validation = _validation_prefixes(catalog, found)
    _print_plan(console, found, train_config)
    unvalidated = sorted(set(found.weights) - set(validation))
    if unvalidated:
        console.print(
            f"[yellow]warning:[/] {dataset}@{version} has no validation shards for "
            f"{unvalidated}: their validation loss is not measured (curate with "
            "shards.validation_fraction > 0)"
        )
    _keep_lineage(catalog, found, run_dir, validation)
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


def _keep_lineage(catalog: Catalog, mixture: Mixture, run_dir: Path,
                  validation: dict[str, list[str]]) -> None:  # fmt: skip
    """lineage.json (what made the model) and tokenizer.model, so the run stands alone."""
    from tokenizer.store import TokenizerStore
    from trainer.loading import write_lineage

    lineage = {"dataset": mixture.dataset, "version": mixture.version, "mixture": mixture.id,
               "tokenizer": mixture.tokenizer, "weights": dict(mixture.weights),
               "validation": validation}  # fmt: skip
    model = TokenizerStore(catalog.settings.resolved_warehouse()).load(mixture.tokenizer)
    write_lineage(run_dir, lineage, model)


def _vocab_size(catalog: Catalog, tokenizer: str) -> int:
    from tokenizer.store import TokenizerStore

    record = TokenizerStore(catalog.settings.resolved_warehouse()).record(tokenizer)
    return int(record["config"]["vocab_size"])


def _validation_prefixes(catalog: Catalog, mixture: Mixture) -> dict[str, list[str]]:
    """Validation shards of the mixture's languages in the version's manifest."""
    from pyiceberg.expressions import And, EqualTo

    from corpus.store.catalog import SHARDS

    wanted = And(
        And(EqualTo("version", mixture.version), EqualTo("tokenizer", mixture.tokenizer)),
        EqualTo("split", "validation"),
    )
    rows = catalog.table(mixture.dataset, SHARDS).scan(row_filter=wanted).to_arrow()
    prefixes: dict[str, list[str]] = {}
    for row in rows.sort_by("prefix").to_pylist():
        if row["lang"] in mixture.weights:
            prefixes.setdefault(row["lang"], []).append(row["prefix"])
    return prefixes


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
