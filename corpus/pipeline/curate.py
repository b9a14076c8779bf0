"""Curate: the latest raw snapshot -> stages -> an immutable, named version.

Three phases, each resumable from the run folder (a rerun after a crash skips
what finished):

1. Row-local stages (`CURATE_STAGES`) on Ray: every row staged by file
   partition, plus dedup candidates with their MinHash signatures.
2. The dedup stage (`corpus.pipeline.dedup_phase.run_dedup`): exact, then near duplicates.
3. Finish: staged rows + drops -> the version's decisions (every file, no
   content) and files (kept, with content); then commit, register, clean up.

A run holds its version name's publish lock from start to registration and
logs with its run id bound (`corpus.core.logs`), in Ray workers too.
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from corpus.core.cluster import RunnerConfig, ray_session, share
from corpus.core.errors import CodecorpusError, ConfigError, VersionExists
from corpus.core.exchange import delete_folder, join, read_marker, write_marker
from corpus.core.logs import bind, set_phase
from corpus.core.rowkeys import ROW_KEY, drop_superseded, key_set, latest_rows, row_keys
from corpus.core.schema import decisions_schema, files_schema
from corpus.core.summary import CallSummary
from corpus.core.tally import Tally
from corpus.licenses.reference import spdx_list_version
from corpus.licenses.scope import evidence_rows
from corpus.licenses.stage import EVIDENCE
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.dedup_phase import Progress, run_dedup
from corpus.pipeline.engines import map_units
from corpus.pipeline.publish import commit_tables, logged_steps
from corpus.pipeline.stage_worker import (
    CURATE_STAGES,
    CurateWorker,
    finish_step,
    stage_columns,
)
from corpus.pipeline.steps import run_step
from corpus.pipeline.tokenizer_phase import (
    shards_schema,
    token_stats,
    version_tokenizer,
)
from corpus.store.catalog import DECISIONS, FILES, MINHASH, RAW, SHARDS, Catalog, data_file_uris
from corpus.store.locks import publish_lock
from corpus.store.optout import OptOutRegistry
from corpus.store.versions import (
    Lineage,
    Registry,
    Version,
    VersionStats,
    code_version,
    validate_version_name,
)
from dedup.candidates import sha_key_set
from dedup.records import MINHASH_SCHEMA
from heuristics.licenses import OPT_OUT
from tokenizer.store import TokenizerStore

log = logging.getLogger(__name__)


@dataclass
class CurateReport:
    version: Version
    summary: CallSummary = field(default_factory=CallSummary)
    dedup: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""


def curate(
    dataset: str,
    version_name: str,
    catalog: Catalog,
    config: CurationConfig | None = None,
    runner: RunnerConfig | None = None,
    on_progress: Callable[[CallSummary, int], None] | None = None,
    dedup_against: str | None = None,
    on_step: Progress | None = None,
    run_id: str | None = None,
) -> CurateReport:
    """Apply the curate stages to the latest raw snapshot and publish `version_name`.

    `dedup_against` names a previous version whose persisted MinHash signatures
    are reused for unchanged content instead of being recomputed. `run_id` (a new
    one by default) is bound to every log record of the run.
    """
    validate_version_name(version_name)
    run_id = run_id or uuid.uuid4().hex
    with bind(run_id=run_id, dataset=dataset, version=version_name, phase="start"):
        try:
            with publish_lock(catalog.settings, dataset, version_name):
                log.info("curate run %s of %s@%s started", run_id, dataset, version_name)
                report = _curate(
                    dataset, version_name, catalog, config or CurationConfig(),
                    runner or RunnerConfig(), on_progress, dedup_against, logged_steps(on_step),
                )  # fmt: skip
        except Exception as exc:
            log.error("curate run %s failed: %s", run_id, exc)
            raise
        report.run_id = run_id
        log.info("published %s@%s", dataset, version_name)
        return report


def _curate(
    dataset: str,
    version_name: str,
    catalog: Catalog,
    config: CurationConfig,
    runner: RunnerConfig,
    on_progress: Callable[[CallSummary, int], None] | None,
    dedup_against: str | None,
    on_step: Progress,
) -> CurateReport:
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
    minhash_table = catalog.ensure_table(dataset, MINHASH, MINHASH_SCHEMA, "version")
    decisions_folder, files_folder, minhash_folder = (
        f"{t.location().rstrip('/')}/data/version={version_name}"
        for t in (decisions_table, files_table, minhash_table)
    )
    reuse_files, reusable = _reusable_signatures(catalog, dataset, registry, dedup_against, config)
    run = run_folder(
        catalog, dataset, version_name, snapshot.snapshot_id, config, runner, dedup_against
    )
    units = [{"uri": uri} for uri in data_file_uris(raw, snapshot.snapshot_id)]
    with ray_session(runner):
        set_phase("stages")
        first = read_marker(join(run, "steps", "stages"))
        if first is None:
            context = {EVIDENCE: share(evidence), OPT_OUT: opt_out.entries}
            superseded_keys = share(key_set(row_keys(superseded, ROW_KEY)))
            args = (
                config.to_dict(),
                version_name,
                run,
                runner.partitions,
                superseded_keys,
                share(reusable),
                runner.batch_rows,
                context,
            )
            staged = CallSummary()
            for result in map_units(units, CurateWorker, args, runner, units_per_call=1):
                staged.merge_table(result)
                if on_progress is not None:
                    on_progress(staged, len(units))
            first = staged.to_table().to_pylist()[0]
            write_marker(join(run, "steps", "stages"), first)
            on_step("stages", {"files": first["seen"], "bytes": first["bytes_seen"]})
        else:
            on_step("stages", {"resumed": True})
        dedup_stats: dict[str, Any] = {}
        set_phase("dedup")
        if config.dedup.exact or config.dedup.near:
            dedup_stats = run_dedup(
                join(run, "dedup"),
                config.dedup,
                runner.partitions,
                version_name,
                minhash_folder,
                reuse_files,
                on_step,
            )
        set_phase("tokenizer")
        tokenizer_sha = version_tokenizer(
            catalog, dataset, version_name, snapshot.snapshot_id, config, runner, run, on_step
        )
        model_uri = shard_dir = None
        if tokenizer_sha is not None:
            model_uri = TokenizerStore(catalog.settings.resolved_warehouse()).model_path(
                tokenizer_sha
            )
            shards_table = catalog.ensure_table(dataset, SHARDS, shards_schema(), "version")
            shard_dir = (
                f"{shards_table.location().rstrip('/')}/data/version={version_name}"
                f"/tokenizer={tokenizer_sha[:16]}"
            )
        set_phase("finish")
        finished = run_step(
            join(run, "steps", "finish"),
            finish_step,
            [
                (
                    run,
                    p,
                    version_name,
                    decisions_folder,
                    files_folder,
                    model_uri,
                    shard_dir,
                    asdict(config.shards),
                )
                for p in range(runner.partitions)
            ],
            combine=lambda results: {"calls": results},
        )
        on_step("finish", {"partitions": runner.partitions})
    summary = _final_summary(first, finished["calls"])
    set_phase("commit")
    shard_rows = [row for call in finished["calls"] for row in call.get("shards", [])]
    snapshots = commit_tables(
        catalog, dataset, version_name, summary, dedup_stats.pop("minhash_files", []),
        shard_rows if tokenizer_sha is not None else None, on_step,
    )  # fmt: skip
    decisions_snapshot, files_snapshot = snapshots[DECISIONS], snapshots[FILES]
    minhash_snapshot, shards_snapshot = snapshots[MINHASH], snapshots.get(SHARDS)
    stats = version_stats(summary.tally, summary.stripped_bytes)
    stats["dedup"] = _dedup_stats(dedup_stats, summary.tally, config, reusable.size)
    stats.update(token_stats(finished["calls"], shard_rows, stats, tokenizer_sha))
    version = Version(
        name=version_name,
        created_at=datetime.now(UTC),
        raw_snapshot_id=snapshot.snapshot_id,
        decisions_snapshot_id=decisions_snapshot,
        files_snapshot_id=files_snapshot,
        config_fingerprint=config.fingerprint(),
        code_version=code_version(),
        config=config.to_dict(),
        stats=VersionStats.from_dict(stats),
        lineage=Lineage.from_dict(
            {
                "raw_snapshot_id": snapshot.snapshot_id,
                "config_fingerprint": config.fingerprint(),
                "code_version": code_version(),
                "stages": [
                    "intake",
                    "language",
                    "license_facts",
                    *(s.name for s in CURATE_STAGES),
                    "dedup",
                    *(["tokens", "shards"] if tokenizer_sha else []),
                ],
                "opt_out_revision": opt_out.revision,
                "opt_out_entries": len(opt_out.entries),
                "spdx_license_list": spdx_list_version(),
                "minhash_snapshot_id": minhash_snapshot,
                "dedup_against": dedup_against,
                "tokenizer": tokenizer_sha,
                "shards_snapshot_id": shards_snapshot,
            }
        ),
    )
    # every table committed; the version is not visible until the registry row commits
    on_step("committed", {"decisions_snapshot_id": decisions_snapshot})
    set_phase("publish")
    registry.register(version)
    delete_folder(run)  # stage checkpoints are only needed until the version is published
    return CurateReport(version, summary, stats["dedup"])


def run_folder(
    catalog: Catalog,
    dataset: str,
    version: str,
    snapshot_id: int,
    config: CurationConfig,
    runner: RunnerConfig,
    dedup_against: str | None,
) -> str:
    """Where a run keeps its checkpoints: the same inputs find the same folder on a rerun."""
    key = json.dumps([snapshot_id, config.fingerprint(), runner.partitions, dedup_against])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return join(catalog.settings.resolved_warehouse(), "_runs", dataset, f"{version}-{digest}")


def _reusable_signatures(
    catalog: Catalog,
    dataset: str,
    registry: Registry,
    previous: str | None,
    config: CurationConfig,
) -> tuple[list[str], Any]:
    """Data files and content-hash keys of a previous version's persisted signatures."""
    import numpy as np
    from pyiceberg.expressions import EqualTo

    if previous is None or not config.dedup.near:
        return [], np.empty(0, dtype="S16")
    old = registry.get(previous)
    signature_settings = ("num_perm", "ngram", "seed")
    old_dedup = old.config.get("dedup", {})
    differs = [k for k in signature_settings if old_dedup.get(k) != getattr(config.dedup, k)]
    if differs:
        raise ConfigError(
            f"cannot reuse the signatures of {previous!r}: its dedup {', '.join(differs)} "
            f"differ from this run's; curate without --dedup-against to recompute them"
        )
    table = catalog.table(dataset, MINHASH)
    snapshot_id = old.lineage.minhash_snapshot_id
    if snapshot_id is None:
        raise CodecorpusError(f"version {previous!r} has no persisted MinHash signatures")
    files = data_file_uris(table, snapshot_id, EqualTo("version", previous))
    hashes = table.scan(
        row_filter=EqualTo("version", previous),
        selected_fields=("content_sha256",),
        snapshot_id=snapshot_id,
    ).to_arrow()
    return files, sha_key_set(hashes.column("content_sha256"))


def _final_summary(first: dict[str, Any], calls: list[dict[str, Any]]) -> CallSummary:
    summary = CallSummary(
        stripped_bytes=first["stripped_bytes"],
        bytes_seen=first["bytes_seen"],
        units=first["units"],
        seen=first["seen"],
    )
    table = pa.Table.from_pylist(calls, schema=summary.to_table().schema)
    merged = CallSummary()
    merged.merge_table(table)
    summary.data_files, summary.extra_files, summary.tally = (
        merged.data_files,
        merged.extra_files,
        merged.tally,
    )
    return summary


def _dedup_stats(
    stats: dict[str, Any], tally: Tally, config: CurationConfig, reused: int
) -> dict[str, Any]:
    """The stage's counters plus its settings and removals per language from the tally."""
    removed: dict[str, dict[str, int]] = {}
    for row in tally.to_rows():
        reason = row["drop_reason"]
        if reason and reason.startswith("dedup:"):
            entry = removed.setdefault(reason, {})
            entry[row["lang"] or "unknown"] = entry.get(row["lang"] or "unknown", 0) + row["files"]
    dedup = config.dedup
    return {
        **stats,
        "settings": {
            "bands": dedup.bands,
            "rows": dedup.rows,
            "num_perm": dedup.num_perm,
            "ngram": dedup.ngram,
            "threshold": dedup.threshold,
        },
        "removed_by_language": removed,
        "reused_signatures": reused,
    }


def _license_evidence(raw, snapshot_id: int, superseded: pa.Table) -> pa.Table:
    """Global step: every license evidence row of the snapshot (a few per repository)."""
    from pyiceberg.expressions import NotNull

    columns = (
        *ROW_KEY,
        "repo",
        "path",
        "license_evidence_kind",
        "license_evidence",
        "license_evidence_score",
    )
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
