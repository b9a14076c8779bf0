"""`codecorpus dedup`: what a version's dedup matched, and against what."""

from typing import Annotated

import typer

dedup_app = typer.Typer(
    help="Deduplication: list the duplicates a version dropped and what they duplicated.",
    no_args_is_help=True,
)


@dedup_app.command("matches")
def matches(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: Annotated[str, typer.Argument(help="Version whose dedup drops to list.")],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Only files new since this version that matched one of its files "
            "(default: the version's --dedup-against, if any).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to print.")] = 50,
) -> None:
    """Files VERSION dropped as duplicates, with the kept file each one duplicated."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.dedup_report import duplicate_matches

    catalog = Catalog()
    rows, total, previous = duplicate_matches(catalog, dataset, version, against, limit)
    scope = f"new since {previous} and matching its files" if previous else "all"
    table = Table(title=f"{dataset}@{version}: duplicates dropped ({scope}), {total:,} in all")
    for column in ("file", "reason", "kept file", "cluster"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row['repo']}/{row['path']}",
            row["drop_reason"],
            f"{row['kept_repo']}/{row['kept_path']}",
            row["dup_cluster"][:16],
        )
    console.print(table)
