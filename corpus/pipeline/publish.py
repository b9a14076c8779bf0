"""The commit half of curate: a version's tables, then (by the caller) its registry row.

Each table commit is retried against concurrent runs (`Catalog.commit`) and
tagged with the version name; none makes the version visible: only the
registry row does, once every table holds the version's snapshot.
"""

import json
import logging
from typing import Any

from corpus.core.summary import CallSummary
from corpus.pipeline.steps import Progress
from corpus.pipeline.tokenizer_phase import commit_version_rows
from corpus.store.catalog import DECISIONS, FILES, MINHASH, SHARDS, Catalog
from corpus.store.versions import commit_version_files

log = logging.getLogger("corpus.pipeline.curate")


def commit_tables(
    catalog: Catalog,
    dataset: str,
    version: str,
    summary: CallSummary,
    minhash_files: list[str],
    shard_rows: list[dict[str, Any]] | None,
    on_step: Progress,
) -> dict[str, int]:
    """Commit the version's data files table by table; returns each table's snapshot id."""
    properties = {"codecorpus.version": version}
    files = {DECISIONS: summary.data_files, FILES: summary.extra_files, MINHASH: minhash_files}
    snapshots: dict[str, int] = {}
    for table, uris in files.items():
        snapshots[table] = commit_version_files(catalog, dataset, table, version, uris, properties)
        on_step("commit", {"table": table, "snapshot_id": snapshots[table]})
    if shard_rows is not None:
        snapshots[SHARDS] = commit_version_rows(catalog, dataset, SHARDS, version, shard_rows)
        on_step("commit", {"table": SHARDS, "snapshot_id": snapshots[SHARDS]})
    return snapshots


def logged_steps(on_step: Progress | None) -> Progress:
    """Log each finished step (with the run's bound context) before the caller's callback."""

    def step(name: str, result: dict[str, Any]) -> None:
        small = {k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}
        log.info("step %s done %s", name, json.dumps(small, sort_keys=True))
        if on_step is not None:
            on_step(name, result)

    return step
