"""Queries over a version's dedup decisions (for the CLI and, later, the API)."""

from typing import Any

import polars as pl
from pyiceberg.expressions import StartsWith

from corpus.store.catalog import Catalog
from corpus.store.versions import Registry, scan_version


def duplicate_matches(
    catalog: Catalog, dataset: str, version: str, against: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], int, str | None]:
    """(first `limit` matches, total, previous version) for a version's dedup drops.

    With a previous version (given, or the one the version was deduplicated
    against), only files that version did not have and whose kept copy it had.
    """
    registry = Registry(catalog, dataset)
    current = registry.get(version)
    previous = against or current.lineage.dedup_against
    columns = ("file_id", "repo", "path", "drop_reason", "dup_of", "dup_cluster")
    dropped = pl.from_arrow(
        scan_version(catalog, dataset, current)
        .filter(StartsWith("drop_reason", "dedup:"))
        .select(*columns)
        .to_arrow()
    )
    everything = pl.from_arrow(
        scan_version(catalog, dataset, current).select("file_id", "repo", "path").to_arrow()
    )
    if previous:
        known = pl.from_arrow(
            scan_version(catalog, dataset, registry.get(previous)).select("file_id").to_arrow()
        )
        dropped = dropped.join(known, on="file_id", how="anti").join(
            known, left_on="dup_of", right_on="file_id", how="semi"
        )
    kept = everything.rename({"file_id": "dup_of", "repo": "kept_repo", "path": "kept_path"})
    dropped = dropped.join(kept, on="dup_of", how="left").sort("file_id")
    return dropped.head(limit).to_dicts(), dropped.height, previous
