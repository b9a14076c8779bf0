"""`codecorpus heuristics`: explain one file's quality decision; report a version's drops."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

heuristics_app = typer.Typer(
    help="Quality heuristics: explain a file's decision, report a version's drops and stripping.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML curation config (see docs).", exists=True)
]


def _config(path: Path | None, preset: str | None):
    from dataclasses import replace

    from corpus.pipeline.config import CurationConfig

    config = CurationConfig.from_file(path) if path else CurationConfig()
    if preset is not None:
        config = replace(config, heuristics=replace(config.heuristics, preset=preset))
    return config


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@heuristics_app.command("explain")
def explain(
    path: Annotated[Path, typer.Argument(help="File to explain.", exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    preset: Annotated[
        str | None, typer.Option(help="Override the preset: codex, starcoder, starcoder2, replit.")
    ] = None,
    lang: Annotated[str | None, typer.Option(help="Language instead of linguist's.")] = None,
    show_content: Annotated[
        bool, typer.Option("--show-content", help="Print the content after formatters.")
    ] = False,
) -> None:
    """Signals of PATH, every rule's verdict with its thresholds, and the decision."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.pipeline.explain import explain_file

    result = explain_file(path, _config(config, preset), lang)
    console.print(f"[bold]{result.path}[/]: {result.lang or 'unknown language'}, "
                  f"preset {result.preset}")  # fmt: skip
    signals = Table(title="signals", title_justify="left")
    signals.add_column("signal")
    signals.add_column("value", justify="right")
    for name, value in result.signals.items():
        signals.add_row(name, _cell(value))
    console.print(signals)
    rules = Table(title="rules, in order", title_justify="left")
    for name in ("rule", "verdict", "signals", "thresholds"):
        rules.add_column(name)
    style = {"drop": "[bold red]drop", "keep": "[green]keep", "n/a": "[dim]n/a"}
    for verdict in result.verdicts:
        rules.add_row(
            verdict.rule, style[verdict.outcome],
            ", ".join(f"{k}={_cell(v)}" for k, v in verdict.signals.items()),
            ", ".join(f"{k}={_cell(v)}" for k, v in verdict.thresholds.items()),
        )  # fmt: skip
    console.print(rules)
    if result.upstream_reason:
        console.print(f"[red]dropped before heuristics[/]: {result.upstream_reason}")
    elif result.decision:
        console.print(f"decision: [bold red]drop[/] ({result.decision})")
    else:
        console.print("decision: [bold green]keep[/]")
    if show_content and result.content is not None:
        console.print(result.content, markup=False, highlight=False)


@heuristics_app.command("report")
def report(
    dataset: Annotated[str, typer.Argument(help="Dataset whose version to report.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version name; default the latest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead.")] = False,
) -> None:
    """Per rule x language: files and bytes dropped; per formatter: bytes stripped."""
    from rich.table import Table

    from corpus.cli.render import console, human_bytes
    from corpus.core.errors import CodecorpusError
    from corpus.store.catalog import Catalog
    from corpus.store.versions import Registry, scan_version
    from heuristics.report import REPORT_COLUMNS, heuristics_report

    catalog = Catalog()
    registry = Registry(catalog, dataset)
    if version is None:
        versions = registry.list()
        if not versions:
            raise CodecorpusError(
                f"dataset {dataset!r} has no versions yet; run `codecorpus curate {dataset} -v v1`"
            )
        chosen = versions[-1]
    else:
        chosen = registry.get(version)
    scan = scan_version(catalog, dataset, chosen)
    missing = set(REPORT_COLUMNS) - set(scan.table_metadata.schema().column_names)
    if missing:
        raise CodecorpusError(
            f"{dataset}@{chosen.name} was curated without the heuristics stage "
            f"(no {sorted(missing)} columns); curate a new version to report on"
        )
    rows = heuristics_report(scan.select(*REPORT_COLUMNS).to_arrow())
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    table = Table(title=f"heuristics of {dataset}@{chosen.name}", title_justify="left")
    for name in ("rule / formatter", "language", "files", "bytes dropped", "bytes stripped"):
        table.add_column(name, justify="left" if name[0] in "rl" else "right")
    for row in rows:
        table.add_row(
            row.step, row.lang, f"{row.files:,}",
            human_bytes(row.bytes_dropped) if row.bytes_dropped else "-",
            human_bytes(row.bytes_stripped) if row.bytes_stripped else "-",
        )  # fmt: skip
    console.print(table)
    if not rows:
        console.print("the heuristics dropped and rewrote nothing in this version")
