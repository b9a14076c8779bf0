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
UNKNOWN = "unknown"


class GroupBy(StrEnum):
    LANG = "lang"
    DROP_REASON = "drop_reason"
    BOTH = "lang,drop_reason"


def _rows(version: Version, group_by: GroupBy) -> list[StatsRow]:
    stats = version.stats
    languages = stats.get("languages", {})
    tally = [{**r, "lang": r["lang"] or UNKNOWN} for r in stats.get("tally", [])]
    if group_by is GroupBy.BOTH:
        return [
            StatsRow(
                lang=r["lang"],
                drop_reason=r["drop_reason"],
                kept=r["drop_reason"] is None,
                files=r["files"],
                bytes=r["bytes"],
                **(_tokens(languages.get(r["lang"], {})) if r["drop_reason"] is None else {}),
            )
            for r in sorted(tally, key=lambda r: (r["lang"], r["drop_reason"] or ""))
        ]
    if group_by is GroupBy.LANG:
        groups: dict[str, dict[str, int]] = {}
        for r in tally:
            g = groups.setdefault(r["lang"], dict.fromkeys(("files", "bytes", "kf", "kb"), 0))
            g["files"] += r["files"]
            g["bytes"] += r["bytes"]
            if r["drop_reason"] is None:
                g["kf"] += r["files"]
                g["kb"] += r["bytes"]
        return [
            StatsRow(
                lang=lang,
                files=g["files"],
                bytes=g["bytes"],
                kept_files=g["kf"],
                kept_bytes=g["kb"],
                **_tokens(languages.get(lang, {})),
            )
            for lang, g in sorted(groups.items())
        ]
    reasons: dict[str | None, dict[str, int]] = {}
    for r in tally:
        g = reasons.setdefault(r["drop_reason"], {"files": 0, "bytes": 0})
        g["files"] += r["files"]
        g["bytes"] += r["bytes"]
    rows = []
    for reason, g in sorted(reasons.items(), key=lambda kv: kv[0] or ""):
        extra = {"tokens": stats.get("tokens")} if reason is None else {}
        rows.append(StatsRow(drop_reason=reason, kept=reason is None, **g, **extra))
    return rows


def _tokens(entry: dict) -> dict:
    return {"tokens": entry.get("tokens"), "chars_per_token": entry.get("chars_per_token")}


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
    stats = version.stats
    answer = VersionStats(
        dataset=dataset,
        version=version.name,
        group_by=group_by.value.split(","),
        totals=StatsTotals(
            files=stats.get("files", 0),
            bytes=stats.get("bytes", 0),
            kept_files=stats.get("kept_files", 0),
            kept_bytes=stats.get("kept_bytes", 0),
            tokens=stats.get("tokens"),
        ),
        rows=_rows(version, group_by),
    )
    body = answer.model_dump(mode="json", by_alias=True)
    body["rows"] = [row.model_dump(mode="json", exclude_unset=True) for row in answer.rows]
    return body
