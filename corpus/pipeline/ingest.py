"""Ingest: sources -> `<ds>.raw`, one Iceberg snapshot per ingest that adds rows.

Workers read their units, apply language identification and intake rules,
drop rows whose (file id, bytes) the table already holds, and write Parquet
under the table's data folder. The driver then commits every file in one
`add_files` snapshot. An ingest that finds nothing new commits nothing.
"""

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from corpus.core.cluster import RunnerConfig, ray_session, share
from corpus.core.errors import SourceError
from corpus.core.rowkeys import ROW_KEY, key_set, latest_rows, row_keys
from corpus.core.schema import RAW_SCHEMA
from corpus.core.summary import CallSummary
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.engines import map_units
from corpus.pipeline.ingest_worker import IngestWorker
from corpus.sources import Layout, Unit, discover
from corpus.store.catalog import RAW, Catalog


@dataclass
class IngestReport:
    dataset: str
    ingest_id: str
    snapshot_id: int | None
    summary: CallSummary = field(default_factory=CallSummary)

    @property
    def added(self) -> int:
        return self.summary.tally.total_files


def new_ingest_id() -> str:
    """Sorts by time, so the newest ingest of a file wins at curation."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def ingest(
    sources: Sequence[str],
    dataset: str,
    catalog: Catalog,
    config: CurationConfig | None = None,
    runner: RunnerConfig | None = None,
    layout: Layout = Layout.AUTO,
    columns: dict[str, str] | None = None,
    ingest_id: str | None = None,
    on_progress: Callable[[CallSummary, int], None] | None = None,
) -> IngestReport:
    """Ingest `sources` into `<dataset>.raw`; returns what was seen, added and skipped."""
    config = config or CurationConfig()
    runner = runner or RunnerConfig()
    ingest_id = ingest_id or new_ingest_id()
    units = _discover_all(sources, layout, columns)
    table = catalog.ensure_table(dataset, RAW, RAW_SCHEMA)
    known = _known_keys(table)
    report = IngestReport(dataset, ingest_id, None)
    folder = f"{table.location().rstrip('/')}/data/ingest={ingest_id}"
    with ray_session(runner):
        args = (config.to_dict(), ingest_id, folder, share(known), runner.batch_rows)
        rows = [u.to_row() for u in units]
        for result in map_units(rows, IngestWorker, args, runner):
            report.summary.merge_table(result)
            if on_progress is not None:
                on_progress(report.summary, len(units))
    if report.summary.data_files:
        properties = {
            "codecorpus.ingest_id": ingest_id,
            "codecorpus.sources": json.dumps(list(sources)),
            "codecorpus.files": str(report.added),
        }
        files = sorted(report.summary.data_files)
        catalog.commit(
            dataset, RAW, lambda _, tx: tx.add_files(files, snapshot_properties=properties)
        )
        report.snapshot_id = catalog.table(dataset, RAW).current_snapshot().snapshot_id
    return report


def _discover_all(
    sources: Sequence[str], layout: Layout, columns: dict[str, str] | None
) -> list[Unit]:
    if not sources:
        raise SourceError("give at least one source (folder, archive, .parquet/.jsonl or URI)")
    seen: dict[tuple[str, str], Unit] = {}
    for spec in sources:
        for unit in discover(spec, layout, columns):
            seen.setdefault((unit.kind, unit.uri), unit)  # the same source twice reads once
    return list(seen.values())


def _known_keys(table) -> np.ndarray:
    if table.current_snapshot() is None:
        return np.array([], dtype="S16")
    latest, _ = latest_rows(table.scan(selected_fields=ROW_KEY).to_arrow())
    return key_set(row_keys(latest))
