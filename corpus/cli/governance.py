"""`codecorpus pii explain` and `codecorpus decontam check`: what the governance stage would
find in one file, and why."""

import json
from pathlib import Path
from typing import Annotated

import typer

pii_app = typer.Typer(help="Personal data and secrets: explain one file.", no_args_is_help=True)
decontam_app = typer.Typer(help="Benchmark contamination: check files.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="File to read.", exists=True, dir_okay=False)]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML curation config (pii/decontam sections).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _config(path: Path | None):
    from corpus.pipeline.config import CurationConfig

    return CurationConfig.from_file(path) if path else CurationConfig()


def _text(path: Path) -> str:
    from corpus.core.errors import SourceError

    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path} is not UTF-8 text (byte {exc.start}); intake would drop it"
        ) from exc


@pii_app.command("explain")
def pii_explain(path: FileArg, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every span the PII stage finds in PATH: its kind, line, the text and its placeholder."""
    from rich.table import Table

    from corpus.cli.render import console
    from heuristics.pii import PiiKind, count_kinds, find_pii

    settings = _config(config).pii
    text = _text(path)
    kinds = frozenset(PiiKind(k) for k in settings.kinds)
    spans = [] if settings.mode == "off" else find_pii(text, str(path), kinds)
    rows = [
        {"kind": s.kind.value, "line": text.count("\n", 0, s.start) + 1,
         "text": text[s.start : s.end], "placeholder": s.kind.placeholder}
        for s in spans
    ]  # fmt: skip
    counts = {k.value: n for k, n in count_kinds(spans).items()}
    if as_json:
        print(json.dumps({"mode": settings.mode, "counts": counts, "spans": rows}, indent=2))
        return
    table = Table(title=f"{path}: mode {settings.mode}, {len(spans)} span(s)", title_justify="left")
    for column in ("kind", "line", "text", "placeholder"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["kind"], str(row["line"]), row["text"][:80], row["placeholder"])
    console.print(table)
    verdict = {"redact": "kept, spans replaced", "drop": "dropped (governance:pii)", "off": "kept"}
    console.print(f"decision: {verdict[settings.mode] if spans else 'kept, nothing found'}")


@decontam_app.command("check")
def decontam_check(
    paths: Annotated[list[Path], typer.Argument(help="Files to check.", exists=True)],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which benchmark items each file matches, and by which method."""
    from corpus.cli.render import console
    from heuristics.decontam import Decontaminator
    from heuristics.governance import benchmark_items, match_settings

    settings = _config(config).decontam
    matcher = Decontaminator(benchmark_items(settings), match_settings(settings))
    out = {str(p): [h.__dict__ for h in matcher.hits(_text(p))] for p in paths}
    if as_json:
        print(json.dumps(out, indent=2))
        return
    for path, hits in out.items():
        if not hits:
            console.print(f"{path}: clean")
        for hit in hits:
            console.print(f"{path}: {hit['benchmark']} {hit['item_id']} by {hit['method']} "
                          f"(score {hit['score']}) -> decontam:{hit['benchmark']}")  # fmt: skip
