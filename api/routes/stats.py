"""GET .../stats: files, bytes and tokens of a version, grouped by language and/or reason.

Served from the statistics stored with the version at publish time, never by
scanning the corpus: the cost does not grow with the corpus.
"""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import ReadAccess
from api.deps import VersionCache, VersionDep
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas import StatsRow, StatsTotals, VersionStats
from corpus.store.versions import Version

router = APIRouter(
    prefix="/datasets/{dataset}/versions/{version}",
    tags=["stats"],
    responses={**AUTH, **problems(404)},
)


class GroupBy(StrEnum):
    LANG = "lang"
    DROP_REASON = "drop_reason"
    BOTH = "lang,drop_reason"


@router.get("/stats", response_model=VersionStats, responses=NOT_MODIFIED, operation_id="get_stats")
async def get_stats(
    _: ReadAccess,
    ref: VersionDep,
    cache: VersionCache,
    group_by: Annotated[
        GroupBy, Query(description="Group by language, drop reason (null: kept), or both")
    ] = GroupBy.LANG,
) -> Response:
    """Files and bytes per group, with tokens of the kept files where counted."""
    if cache.fresh:
        return cache.not_modified()
    return cache.replay(lambda: _stats_body(ref.dataset, ref.version, group_by))


def _stats_body(dataset: str, version: Version, group_by: GroupBy) -> dict:
    by = group_by.value.split(",")
    answer = VersionStats(
        dataset=dataset,
        version=version.name,
        group_by=by,
        totals=StatsTotals.of(version.stats),
        rows=StatsRow.grouped(version.stats, by),
    )
    body = answer.model_dump(mode="json", by_alias=True)
    body["rows"] = [row.model_dump(mode="json", exclude_unset=True) for row in answer.rows]
    return body
