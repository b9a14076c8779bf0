"""`codecorpus`: ingest sources, curate versions, inspect datasets, run the demo."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from corpus.cli.ablate import ablate
from corpus.cli.config import config_app
from corpus.cli.dedup import dedup_app
from corpus.cli.diff_export import export_command, versions_diff
from corpus.cli.eval import eval_app
from corpus.cli.export_model import export_model_command
from corpus.cli.gc import gc_command
from corpus.cli.generate import generate_command
from corpus.cli.governance import decontam_app, pii_app
from corpus.cli.heuristics import heuristics_app
from corpus.cli.keys import api_app
from corpus.cli.licenses import licenses_app, optout_app
from corpus.cli.lookup import index_app, lookup_command
from corpus.cli.mixtures import mixtures_app
from corpus.cli.plan import plan
from corpus.cli.sweep import sweep
from corpus.cli.tokenizer import shards_app, tokenizer_app
from corpus.cli.train import train_command
from corpus.core.errors import CodecorpusError, ConfigError

app = typer.Typer(
    help="Curate license-clean, deduplicated code corpora on Ray, versioned in Apache Iceberg.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
versions_app = typer.Typer(help="List and inspect published versions.", no_args_is_help=True)
app.add_typer(versions_app, name="versions")
app.add_typer(licenses_app)
app.add_typer(optout_app, name="optout")
app.add_typer(heuristics_app, name="heuristics")
app.add_typer(dedup_app, name="dedup")
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(shards_app, name="shards")
app.add_typer(api_app)  # `keys` and `serve`
app.add_typer(mixtures_app, name="mixtures")
app.add_typer(config_app, name="config")
app.add_typer(index_app, name="index")
app.command("lookup")(lookup_command)
app.add_typer(eval_app, name="eval")
app.add_typer(pii_app, name="pii")
app.add_typer(decontam_app, name="decontam")
versions_app.command("diff")(versions_diff)
app.command("export")(export_command)
app.command("plan")(plan)
app.command("gc")(gc_command)
app.command("train")(train_command)
app.command("sweep")(sweep)
app.command("ablate")(ablate)
app.command("generate")(generate_command)
app.command("export-model")(export_model_command)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML curation config (see docs).", exists=True)
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Parallel Ray actors; default: all CPUs.")
]
EngineOpt = Annotated[
    str, typer.Option("--engine", help="tasks (default, lowest overhead) | data (Ray Data).")
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Running Ray cluster to use."),
]


def _config(path: Path | None):
    from corpus.pipeline.config import CurationConfig

    return CurationConfig.from_file(path) if path else CurationConfig()


def _runner(workers: int | None, ray_address: str | None, engine: str = "tasks"):
    from corpus.core.cluster import RunnerConfig

    return RunnerConfig(workers=workers, ray_address=ray_address, engine=engine)


def _columns(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours or not theirs:
            raise ConfigError(f"--column expects ours=theirs, got {pair!r}")
        mapping[ours] = theirs
    return mapping


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Folders, archives, .parquet/.jsonl, URIs.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to ingest into.")],
    layout: Annotated[
        str, typer.Option(help="auto | repos | repo (how folders map to repos).")
    ] = "auto",
    column: Annotated[
        list[str], typer.Option(help="Map a table column: ours=theirs, e.g. content=text.")
    ] = [],  # noqa: B006 - typer needs a literal default
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    engine: EngineOpt = "tasks",
) -> None:
    """Read sources into DATASET's raw table (one snapshot per ingest that adds files)."""
    from corpus.cli.render import console, tally_table, unit_progress
    from corpus.pipeline.ingest import ingest as run_ingest
    from corpus.sources import Layout
    from corpus.store.catalog import Catalog

    curation = _config(config)  # a bad config fails before any progress is shown
    with unit_progress("ingest") as progress:
        report = run_ingest(
            sources, dataset, Catalog(), curation, _runner(workers, ray_address, engine),
            Layout(layout), _columns(column), on_progress=progress,
        )  # fmt: skip
    console.print(tally_table(f"ingest {report.ingest_id} into {dataset}", report.summary.tally))
    s = report.summary
    console.print(
        f"seen {s.seen:,} files, added {report.added:,}, already present {s.skipped:,}; "
        + (f"snapshot {report.snapshot_id}" if report.snapshot_id else "nothing new to commit")
    )


@app.command()
def curate(
    dataset: Annotated[str, typer.Argument(help="Dataset to curate.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Name of the new version.")],
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    engine: EngineOpt = "tasks",
    partitions: Annotated[
        int, typer.Option("--partitions", help="Partitions of the dedup steps (memory per task).")
    ] = 8,
    dedup_against: Annotated[
        str | None,
        typer.Option(
            "--dedup-against",
            help="Previous version whose stored MinHash signatures are reused (incremental).",
        ),
    ] = None,
    lookup_index: Annotated[
        bool,
        typer.Option(
            "--lookup-index",
            help="Also build the version's lookup index once it is published (as `codecorpus "
            "index build`; in Redis when CODECORPUS_LOOKUP_REDIS_URL is set).",
        ),
    ] = False,
) -> None:
    """Apply the curation stages to the latest raw snapshot and publish a version."""
    from dataclasses import replace

    from corpus.cli.render import (
        console,
        dedup_line,
        governance_line,
        step_printer,
        tally_table,
        tokens_line,
        unit_progress,
    )
    from corpus.pipeline.curate import curate as run_curate
    from corpus.store.catalog import Catalog

    runner = replace(_runner(workers, ray_address, engine), partitions=partitions)
    curation = _config(config)  # a bad config fails before any progress is shown
    with unit_progress("curate") as progress:
        report = run_curate(
            dataset, version, Catalog(), curation, runner,
            on_progress=progress, dedup_against=dedup_against, on_step=step_printer(),
        )  # fmt: skip
    console.print(tally_table(f"{dataset} version {version}", report.summary.tally))
    console.print(governance_line(report.version.stats.governance))
    console.print(dedup_line(report.version.stats.dedup))
    console.print(tokens_line(report.version.stats))
    console.print(
        f"published {dataset}@{version} (config {report.version.config_fingerprint[:12]}, "
        f"run {report.run_id})"
    )
    if lookup_index:
        from corpus.cli.lookup import build as build_lookup_index

        build_lookup_index(dataset, version)


@app.command()
def datasets() -> None:
    """List datasets: raw snapshots, files and bytes per language."""
    from corpus.cli.datasets import dataset_overview
    from corpus.cli.render import console

    tables = dataset_overview()
    if not tables:
        console.print(
            "no datasets yet: run `codecorpus demo` or `codecorpus ingest SOURCE -d NAME`"
        )
    for table in tables:
        console.print(table)


@versions_app.command("list")
def versions_list(dataset: Annotated[str, typer.Argument()]) -> None:
    """Versions of DATASET, oldest first."""
    from corpus.cli.render import console, versions_table
    from corpus.store.catalog import Catalog
    from corpus.store.versions import Registry

    console.print(versions_table(dataset, Registry(Catalog(), dataset).list()))


@versions_app.command("show")
def versions_show(dataset: Annotated[str, typer.Argument()], name: str) -> None:
    """Lineage and statistics of one version."""
    from corpus.cli.render import cluster_table, console, dedup_line, tally_table, tokens_line
    from corpus.store.catalog import Catalog
    from corpus.store.versions import Registry

    version = Registry(Catalog(), dataset).get(name)
    console.print_json(
        data={
            "name": version.name,
            "created_at": str(version.created_at),
            "lineage": version.lineage.to_dict(),
            "config": version.config,
        }
    )
    console.print(tally_table(f"{dataset}@{name}", version.stats.to_tally()))
    dedup = version.stats.dedup
    console.print(dedup_line(dedup))
    console.print(tokens_line(version.stats))
    if dedup is not None and dedup.near:
        console.print(cluster_table(dedup))


@app.command()
def demo(
    max_mb: Annotated[int, typer.Option(help="Size of the sample corpus in MiB.")] = 64,
    workers: WorkersOpt = None,
) -> None:
    """Build a real sample corpus from the installed Python distributions, ingest it, curate
    it and publish a version: the main job on the embedded default, end to end."""
    from corpus.cli.demo import run_demo

    run_demo(max_bytes=max_mb << 20, workers=workers)


def main() -> None:
    from corpus.core.logs import configure

    configure()  # CODECORPUS_LOG_FORMAT=json: JSON lines with the run id on stderr
    try:
        app()
    except CodecorpusError as exc:
        from rich.markup import escape

        from corpus.cli.render import console

        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)  # one line
        sys.exit(2)
