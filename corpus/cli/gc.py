"""`codecorpus gc DATASET`: expire old snapshots and delete files no named version needs."""

import re
from datetime import timedelta
from typing import Annotated

import typer

from corpus.core.errors import ConfigError

DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `45s`, `2w`; a bare number is days."""
    match = DURATION.match(text)
    if match is None:
        raise ConfigError(f"--older-than expects a duration like 7d, 12h or 30m, got {text!r}")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def gc_command(
    dataset: Annotated[str, typer.Argument(help="Dataset to clean.")],
    older_than: Annotated[
        str, typer.Option("--older-than", help="Only what is older than this (7d, 12h, 30m).")
    ] = "7d",
    retain_last: Annotated[
        int, typer.Option("--retain-last", help="Newest snapshots kept per table, whatever age.")
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; change nothing.")
    ] = False,
) -> None:
    """Expire old Iceberg snapshots of DATASET and delete files nothing reads any more.

    Snapshots of registered versions and tagged snapshots are always kept; so are runs
    in progress. Files younger than an hour are never deleted."""
    from corpus.cli.render import console, human_bytes
    from corpus.store.catalog import Catalog
    from corpus.store.gc import gc

    report = gc(Catalog(), dataset, parse_duration(older_than), retain_last, dry_run)
    verb = "would remove" if dry_run else "removed"
    for table, ids in sorted(report.snapshots.items()):
        console.print(f"{table}: {verb} {len(ids)} snapshot(s), {report.kept[table]} kept")
    for table, names in sorted(report.abandoned.items()):
        console.print(f"{table}: {verb} rows of unpublished version(s) {', '.join(names)}")
    for folder in report.run_folders:
        console.print(f"{verb} run folder {folder}")
    for path in report.files:
        console.print(f"{verb} {path}")
    console.print(
        f"gc {dataset} (cutoff {report.cutoff:%Y-%m-%d %H:%M} UTC): {verb} "
        f"{sum(map(len, report.snapshots.values()))} snapshot(s), {len(report.files)} file(s) "
        f"({human_bytes(report.bytes)}), {len(report.run_folders)} run folder(s)"
    )
