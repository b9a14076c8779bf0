"""CLI: license distribution of a version, one repository explained, the opt-out registry."""

from pathlib import Path
from typing import Annotated

import typer

licenses_app = typer.Typer()
optout_app = typer.Typer(help="Manage the opt-out registry (authors who asked to be left out).",
                         no_args_is_help=True)  # fmt: skip


@licenses_app.command("licenses")
def licenses(
    dataset: Annotated[str, typer.Argument()],
    version: Annotated[str | None, typer.Option(help="Version; default: the latest.")] = None,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 30,
) -> None:
    """License distribution of a version: files, bytes and repos per SPDX expression and class."""
    import polars as pl
    from rich.table import Table

    from corpus.cli.render import console, human_bytes
    from corpus.store.catalog import Catalog
    from corpus.store.versions import Registry, scan_version

    catalog = Catalog()
    registry = Registry(catalog, dataset)
    chosen = registry.get(version) if version else _latest(registry)
    columns = ("repo", "license", "license_class", "size")
    frame = pl.from_arrow(scan_version(catalog, dataset, chosen).select(*columns).to_arrow())
    total = max(1, frame.height)
    grouped = (
        frame.group_by(["license", "license_class"])
        .agg(
            pl.len().alias("files"),
            pl.col("size").sum().alias("bytes"),
            pl.col("repo").n_unique().alias("repos"),
        )
        .sort(["files", "license"], descending=[True, False], nulls_last=True)
    )
    table = Table(title=f"licenses of {dataset}@{chosen.name}", title_justify="left")
    for name in ("license", "class", "files", "%", "bytes", "repos"):
        table.add_column(name, justify="left" if name in ("license", "class") else "right")
    for row in grouped.head(top).iter_rows(named=True):
        table.add_row(
            row["license"] or "(none)", row["license_class"], f"{row['files']:,}",
            f"{100 * row['files'] / total:.1f}", human_bytes(row["bytes"]), f"{row['repos']:,}",
        )  # fmt: skip
    console.print(table)
    if grouped.height > top:
        console.print(f"... {grouped.height - top} more expressions (use --top)")


def _latest(registry):
    from corpus.core.errors import VersionNotFound

    versions = registry.list()
    if not versions:
        raise VersionNotFound(f"dataset {registry.dataset!r} has no versions yet; run curate")
    return versions[-1]


@licenses_app.command("license-check")
def license_check(path: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Explain the license decision for one local repository folder: every piece of evidence
    (license files, manifests, README sections, NOTICE files, SPDX headers), the rule that
    combined them per folder, and any conflict between them."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.licenses.explain import explain_folder

    report = explain_folder(path)
    evidence = Table(title=f"license evidence in {path}", title_justify="left")
    for name in ("file", "kind", "states", "score", "note"):
        evidence.add_column(name)
    for row in report.evidence:
        evidence.add_row(row["path"], row["kind"], row["expression"] or "-",
                         f"{row['score']:.3f}", row["note"])  # fmt: skip
    console.print(evidence if report.evidence else "no license evidence found")
    scopes = Table(title="decision per folder", title_justify="left")
    for name in ("folder", "files", "license", "class", "evidence", "rule"):
        scopes.add_column(name)
    for row in report.folders:
        scopes.add_row(row["folder"] or "/", str(row["files"]), row["license"] or "(none)",
                       row["class"], row["source"] or "-", row["rule"])  # fmt: skip
    console.print(scopes)
    for row in report.folders:
        if row["conflict"]:
            console.print(f"conflict in {row['folder'] or '/'}: {row['conflict']} "
                          f"-> {row['license']} ({row['class']}) is kept")  # fmt: skip


@optout_app.command("add")
def optout_add(
    pattern: Annotated[str, typer.Argument(help="Repository, owner or repo/path glob.")],
    by: Annotated[str, typer.Option("--by", help="Who asked (name or e-mail).")],
    kind: Annotated[str, typer.Option(help="repo | owner | glob")] = "repo",
    reason: Annotated[str | None, typer.Option(help="Ticket or note.")] = None,
) -> None:
    """Register an opt-out; every later version drops matching files (governance:opt_out)."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.optout import OptOutRegistry

    entry = OptOutRegistry(Catalog()).add(kind, pattern, by, reason)
    console.print(f"opt-out {entry} added: {kind} {pattern!r}, requested by {by}")


@optout_app.command("list")
def optout_list(
    all_entries: Annotated[bool, typer.Option("--all", help="Include removed entries.")] = False,
) -> None:
    """Opt-out entries with who asked and when."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.optout import OptOutRegistry

    snapshot = OptOutRegistry(Catalog()).snapshot(include_removed=all_entries)
    table = Table(title=f"opt-out registry (revision {snapshot.revision})", title_justify="left")
    for name in ("id", "kind", "pattern", "requested by", "requested at", "removed at", "reason"):
        table.add_column(name)
    for e in snapshot.entries:
        table.add_row(e["entry_id"], e["kind"], e["pattern"], e["requested_by"],
                      f"{e['requested_at']:%Y-%m-%d %H:%M}",
                      f"{e['removed_at']:%Y-%m-%d %H:%M}" if e["removed_at"] else "",
                      e["reason"] or "")  # fmt: skip
    console.print(table)


@optout_app.command("remove")
def optout_remove(entry_id: Annotated[str, typer.Argument()]) -> None:
    """Withdraw an entry (kept, marked removed, for the audit trail)."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.optout import OptOutRegistry

    OptOutRegistry(Catalog()).remove(entry_id)
    console.print(f"opt-out {entry_id} removed")
