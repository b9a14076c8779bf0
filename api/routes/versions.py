"""Versions of a dataset: the list, and one version with lineage, config and stats."""

from fastapi import APIRouter, Response

from api.auth import ReadAccess
from api.deps import DatasetPath, StateDep, VersionCache, VersionDep
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas import Lineage, StatsSummary, VersionDetail, VersionList, VersionSummary

router = APIRouter(
    prefix="/datasets/{dataset}/versions", tags=["versions"], responses={**AUTH, **problems(404)}
)


@router.get("", response_model=VersionList, operation_id="list_versions")
def list_versions(_: ReadAccess, dataset: DatasetPath, state: StateDep) -> VersionList:
    """Published versions of a dataset, oldest first."""
    return VersionList(
        dataset=dataset, versions=[VersionSummary.of(v) for v in state.versions.versions(dataset)]
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
            lineage=Lineage.of(version),
            config=version.config,
            stats=StatsSummary.of(version.stats),
        )
    )
