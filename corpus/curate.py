"""Curate: the latest raw snapshot -> stages -> an immutable, named version.

Each later issue registers its stage in `CURATE_STAGES`. Workers read raw data
files, skip rows superseded by a newer ingest, apply the stages and write the
version's decisions (every file, no content) and files (kept, with content).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from corpus.catalog import DECISIONS, FILES, RAW, Catalog, data_file_uris
from corpus.config import CurationConfig, RunnerConfig
from corpus.curate_worker import CURATE_STAGES, CurateWorker, stage_columns
from corpus.errors import CodecorpusError, VersionExists
from corpus.licenses.reference import spdx_list_version
from corpus.licenses.scope import evidence_rows
from corpus.licenses.stage import EVIDENCE
from corpus.optout import OptOutRegistry
from corpus.rowkeys import ROW_KEY, drop_superseded, key_set, latest_rows, row_keys
from corpus.runner import map_units, ray_session, share
from corpus.schema import decisions_schema, files_schema
from corpus.summary import CallSummary
from corpus.tally import Tally
from corpus.versions import (
    Registry,
    Version,
    code_version,
    commit_version_files,
    validate_version_name,
)
from heuristics.licenses import OPT_OUT


@dataclass
class CurateReport:
    version: Version
    summary: CallSummary = field(default_factory=CallSummary)


def curate(
    dataset: str,
    version_name: str,
    catalog: Catalog,
    config: CurationConfig | None = None,
    runner: RunnerConfig | None = None,
    on_progress: Callable[[CallSummary, int], None] | None = None,
) -> CurateReport:
    """Apply the curate stages to the latest raw snapshot and publish `version_name`."""
    config = config or CurationConfig()
    runner = runner or RunnerConfig()
    validate_version_name(version_name)
    registry = Registry(catalog, dataset)
    if registry.exists(version_name):
        raise VersionExists(
            f"version {version_name!r} of {dataset!r} already exists; versions are immutable, "
            f"pick another name"
        )
    raw = catalog.table(dataset, RAW)
    snapshot = raw.current_snapshot()
    if snapshot is None:
        raise CodecorpusError(f"dataset {dataset!r} has no ingested files yet")
    _, superseded = latest_rows(
        raw.scan(selected_fields=ROW_KEY, snapshot_id=snapshot.snapshot_id).to_arrow()
    )
    evidence = _license_evidence(raw, snapshot.snapshot_id, superseded)
    opt_out = OptOutRegistry(catalog).snapshot()
    extra = stage_columns()
    decisions_table = catalog.ensure_table(dataset, DECISIONS, decisions_schema(extra), "version")
    files_table = catalog.ensure_table(dataset, FILES, files_schema(extra), "version")
    folders = [
        f"{t.location().rstrip('/')}/data/version={version_name}"
        for t in (decisions_table, files_table)
    ]
    units = [{"uri": uri} for uri in data_file_uris(raw, snapshot.snapshot_id)]
    summary = CallSummary()
    with ray_session(runner):
        superseded_keys = share(key_set(row_keys(superseded, ROW_KEY)))
        context = {EVIDENCE: share(evidence), OPT_OUT: opt_out.entries}
        args = (
            config.to_dict(), version_name, *folders, superseded_keys, runner.batch_rows, context,
        )  # fmt: skip
        for result in map_units(units, CurateWorker, args, runner, units_per_call=1):
            summary.merge_table(result)
            if on_progress is not None:
                on_progress(summary, len(units))
    properties = {"codecorpus.version": version_name}
    decisions_snapshot = commit_version_files(
        catalog, dataset, DECISIONS, version_name, summary.data_files, properties
    )
    files_snapshot = commit_version_files(
        catalog, dataset, FILES, version_name, summary.extra_files, properties
    )
    version = Version(
        name=version_name,
        created_at=datetime.now(UTC),
        raw_snapshot_id=snapshot.snapshot_id,
        decisions_snapshot_id=decisions_snapshot,
        files_snapshot_id=files_snapshot,
        config_fingerprint=config.fingerprint(),
        code_version=code_version(),
        config=config.to_dict(),
        stats=version_stats(summary.tally, summary.stripped_bytes),
        lineage={
            "raw_snapshot_id": snapshot.snapshot_id,
            "config_fingerprint": config.fingerprint(),
            "code_version": code_version(),
            "stages": ["intake", "language", "license_facts", *(s.name for s in CURATE_STAGES)],
            "opt_out_revision": opt_out.revision,
            "opt_out_entries": len(opt_out.entries),
            "spdx_license_list": spdx_list_version(),
        },
    )
    registry.register(version)
    return CurateReport(version, summary)


def _license_evidence(raw, snapshot_id: int, superseded: pa.Table) -> pa.Table:
    """Global step: every license evidence row of the snapshot (a few per repository)."""
    from pyiceberg.expressions import NotNull

    columns = (*ROW_KEY, "repo", "path", "license_evidence_kind", "license_evidence",
               "license_evidence_score")  # fmt: skip
    rows = raw.scan(
        row_filter=NotNull("license_evidence"), selected_fields=columns, snapshot_id=snapshot_id
    ).to_arrow()
    return evidence_rows(drop_superseded(rows, superseded))


def version_stats(tally: Tally, stripped_bytes: int = 0) -> dict:
    kept = tally.by_language(kept_only=True)
    return {
        "stripped_bytes": stripped_bytes,
        "files": tally.total_files,
        "bytes": tally.total_bytes,
        "kept_files": sum(v["files"] for v in kept.values()),
        "kept_bytes": sum(v["bytes"] for v in kept.values()),
        "languages": kept,
        "languages_all": tally.by_language(kept_only=False),
        "drop_reasons": tally.by_reason(),
        "tally": tally.to_rows(),
    }
