"""`codecorpus versions diff` and `codecorpus export`: compare two versions, write one out.

The commands are registered in `corpus.cli.main`; heavy imports happen inside them.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

TOP_TRANSITIONS = 20


def versions_diff(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    a: Annotated[str, typer.Argument(help="Old version.")],
    b: Annotated[str, typer.Argument(help="New version.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the diff as JSON (the API's /diff body).")
    ] = False,
) -> None:
    """Files added, removed and changed from A to B by language, decisions that changed
    (old reason -> new reason), and kept files, bytes and tokens per language."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.diff import diff_versions

    diff = diff_versions(Catalog(), dataset, a, b)
    if as_json:
        typer.echo(json.dumps(diff, indent=2))
        return
    for table in diff_tables(diff):
        console.print(table)
    changed = [f"{k} {_short(v['a'])} -> {_short(v['b'])}" for k, v in diff["lineage"].items()
               if v["changed"]]  # fmt: skip
    console.print("lineage: " + ("; ".join(changed) if changed else "same"))
    if diff["identical"]:
        console.print(f"{dataset}@{a} and {dataset}@{b} hold the same files and decisions")


def diff_tables(diff: dict[str, Any]) -> list:
    """Rich tables of a diff: summary, per language, top reason transitions."""
    from rich.table import Table

    from corpus.cli.render import human_bytes

    a, b, summary = diff["a"]["name"], diff["b"]["name"], diff["summary"]
    head = Table(title=f"{diff['dataset']}: {a} -> {b}", title_justify="left")
    for name in ("", "files", "bytes", "tokens"):
        head.add_column(name, justify="left" if not name else "right")
    for category in ("added", "removed", "changed", "unchanged"):
        entry = summary[category]
        head.add_row(category, f"{entry['files']:,}", human_bytes(entry["bytes"]), "")
    head.add_section()
    kept = summary["kept"]
    for label, key in ((f"kept in {a}", "a"), (f"kept in {b}", "b")):
        head.add_row(label, f"{kept[key]['files']:,}", human_bytes(kept[key]["bytes"]),
                     _count(kept[key]["tokens"]))  # fmt: skip
    delta = kept["delta"]
    head.add_row("[bold]kept delta", _signed(delta["files"]), _signed_bytes(delta["bytes"]),
                 _signed(delta["tokens"]))  # fmt: skip
    head.add_section()
    for name, files in summary["transitions"].items():
        head.add_row(name.replace("_", " "), f"{files:,}", "", "")

    langs = Table(title="per language (kept delta = kept in B - kept in A)", title_justify="left")
    columns = ("language", "added", "removed", "changed", "kept files", "kept bytes", "tokens")
    for name in columns:
        langs.add_column(name, justify="left" if name == "language" else "right")
    for lang, entry in sorted(diff["languages"].items(), key=lambda kv: _weight(kv[1])):
        d = entry["kept"]["delta"]
        langs.add_row(
            lang, *(_files_bytes(entry[c]) for c in ("added", "removed", "changed")),
            _signed(d["files"]), _signed_bytes(d["bytes"]), _signed(d["tokens"]),
        )  # fmt: skip

    moves = Table(title=f"decisions that changed (top {TOP_TRANSITIONS})", title_justify="left")
    for name in (f"in {a}", f"in {b}", "files", "bytes"):
        moves.add_column(name, justify="right" if name in ("files", "bytes") else "left")
    for row in diff["transitions"][:TOP_TRANSITIONS]:
        moves.add_row(row["from"] or "[green]kept", row["to"] or "[green]kept",
                      f"{row['files']:,}", human_bytes(row["bytes"]))  # fmt: skip
    return [head, langs, moves] if diff["transitions"] else [head, langs]


def _weight(entry: dict[str, Any]) -> tuple[int, int]:
    """Languages with the most movement first."""
    moved = sum(entry[c]["files"] for c in ("added", "removed", "changed"))
    return (-moved, -abs(entry["kept"]["delta"]["files"]))


def _files_bytes(entry: dict[str, int]) -> str:
    from corpus.cli.render import human_bytes

    return f"{entry['files']:,} ({human_bytes(entry['bytes'])})" if entry["files"] else "-"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    return "-" if value is None else f"{value:+,}"


def _signed_bytes(value: int) -> str:
    from corpus.cli.render import human_bytes

    return ("+" if value >= 0 else "-") + human_bytes(abs(value))


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if len(text) == 64 else text


def export_command(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version to export.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must be empty).")],
    fmt: Annotated[
        str, typer.Option("--format", help="parquet (zstd) | jsonl (one object per line).")
    ] = "parquet",
    lang: Annotated[
        list[str],
        typer.Option("--lang", help="Only this language (repeatable; 'unknown': no language)."),
    ] = [],  # noqa: B006 - typer needs a literal default
    include_dropped: Annotated[
        bool,
        typer.Option(
            "--include-dropped",
            help="Every file of the version with its decision; dropped files have no content "
            "(the files table keeps content for kept files only), so theirs is null.",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a previous export in --out.")
    ] = False,
    rows_per_file: Annotated[
        int, typer.Option("--rows-per-file", help="Rows per output file at most.")
    ] = 100_000,
    mb_per_file: Annotated[
        int, typer.Option("--mb-per-file", help="MiB of content per output file at most.")
    ] = 128,
) -> None:
    """Write a version's kept files with content (or, with --include-dropped, every file) to
    --out as rolling Parquet or JSONL files sorted by file_id, with manifest.json (version,
    lineage, files, rows, sha256 of each file)."""
    from rich.table import Table

    from corpus.cli.render import console, human_bytes
    from corpus.store.catalog import Catalog
    from corpus.store.export import ExportLimits, export_version

    limits = ExportLimits(rows_per_file=rows_per_file, bytes_per_file=mb_per_file << 20)
    manifest = export_version(
        Catalog(), dataset, version, out, fmt, lang or None, include_dropped, overwrite, limits
    )
    table = Table(title=f"{dataset}@{version} -> {out}", title_justify="left")
    for name in ("file", "rows", "kept", "size", "sha256"):
        table.add_column(name, justify="left" if name in ("file", "sha256") else "right")
    for entry in manifest["files"]:
        table.add_row(entry["path"], f"{entry['rows']:,}", f"{entry['kept_rows']:,}",
                      human_bytes(entry["bytes"]), entry["sha256"][:16])  # fmt: skip
    console.print(table)
    console.print(
        f"exported {manifest['rows']:,} rows ({manifest['kept_rows']:,} kept) in "
        f"{len(manifest['files'])} {fmt} files; manifest: {out / 'manifest.json'}"
    )
