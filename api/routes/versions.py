"""Versions of a dataset: the list, and one version with lineage, config and stats."""

from typing import Any

from fastapi import APIRouter, Response

from api.auth import ReadAccess
from api.deps import DatasetPath, StateDep, VersionCache, VersionDep
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas import (
    Counts,
    DedupSummary,
    LanguageTotals,
    Lineage,
    ShardsSummary,
    StatsSummary,
    VersionDetail,
    VersionList,
    VersionSummary,
)
from corpus.store.versions import Version

router = APIRouter(
    prefix="/datasets/{dataset}/versions", tags=["versions"], responses={**AUTH, **problems(404)}
)


def summary(version: Version) -> VersionSummary:
    stats = version.stats
    return VersionSummary(
        name=version.name,
        created_at=version.created_at,
        config_fingerprint=version.config_fingerprint,
        files=stats.get("files", 0),
        kept_files=stats.get("kept_files", 0),
        kept_bytes=stats.get("kept_bytes", 0),
        tokens=stats.get("tokens"),
        tokenizer=version.lineage.get("tokenizer"),
    )


def lineage(version: Version) -> Lineage:
    lin = version.lineage
    return Lineage(
        raw_snapshot_id=version.raw_snapshot_id,
        decisions_snapshot_id=version.decisions_snapshot_id,
        files_snapshot_id=version.files_snapshot_id,
        shards_snapshot_id=lin.get("shards_snapshot_id"),
        minhash_snapshot_id=lin.get("minhash_snapshot_id"),
        config_fingerprint=version.config_fingerprint,
        code_version=version.code_version,
        stages=list(lin.get("stages", [])),
        tokenizer=lin.get("tokenizer"),
        dedup_against=lin.get("dedup_against"),
        opt_out_revision=lin.get("opt_out_revision"),
        opt_out_entries=lin.get("opt_out_entries"),
        spdx_license_list=lin.get("spdx_license_list"),
    )


def _dedup(stats: dict[str, Any]) -> DedupSummary | None:
    dedup = stats.get("dedup")
    if not dedup:
        return None
    return DedupSummary(
        exact_removed=dedup.get("exact", {}).get("removed", 0),
        near_removed=dedup.get("near", {}).get("removed", 0),
        near_clusters=dedup.get("near", {}).get("clusters", 0),
        candidates=dedup.get("candidates", 0),
    )


def stats_summary(version: Version) -> StatsSummary:
    stats = version.stats
    shards = stats.get("shards")
    return StatsSummary(
        files=stats.get("files", 0),
        bytes=stats.get("bytes", 0),
        kept_files=stats.get("kept_files", 0),
        kept_bytes=stats.get("kept_bytes", 0),
        stripped_bytes=stats.get("stripped_bytes", 0),
        tokens=stats.get("tokens"),
        languages={
            lang: LanguageTotals(
                files=e["files"],
                bytes=e["bytes"],
                tokens=e.get("tokens"),
                chars_per_token=e.get("chars_per_token"),
            )
            for lang, e in stats.get("languages", {}).items()
        },
        drop_reasons={
            reason: Counts(files=e["files"], bytes=e["bytes"])
            for reason, e in stats.get("drop_reasons", {}).items()
        },
        dedup=_dedup(stats),
        shards=ShardsSummary(**shards) if shards else None,
    )


@router.get("", response_model=VersionList, operation_id="list_versions")
def list_versions(_: ReadAccess, dataset: DatasetPath, state: StateDep) -> VersionList:
    """Published versions of a dataset, oldest first."""
    return VersionList(
        dataset=dataset, versions=[summary(v) for v in state.versions.versions(dataset)]
    )


@router.get(
    "/{version}", response_model=VersionDetail, responses=NOT_MODIFIED, operation_id="get_version"
)
async def get_version(_: ReadAccess, ref: VersionDep, cache: VersionCache) -> Response:
    """One version: lineage (snapshots, config fingerprint, code, tokenizer), its curation
    config and a summary of its statistics. Immutable: cached with an ETag."""
    if cache.fresh:
        return cache.not_modified()
    version = ref.version
    return cache.replay(
        lambda: VersionDetail(
            dataset=ref.dataset,
            name=version.name,
            created_at=version.created_at,
            lineage=lineage(version),
            config=version.config,
            stats=stats_summary(version),
        )
    )
