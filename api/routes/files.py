"""Files of a version: filtered listings with keyset pagination, and one file in full.

Listings scan `<ds>.decisions` (every file, no content) or, with `content=true`,
`<ds>.files` (kept files with content), pinned to the version's snapshots. The
filters are pushed down to the Iceberg scan; pages are ordered by file_id and read
only the data files that can hold them (`api.listing`).
"""

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    IsNull,
    NotNull,
    StartsWith,
)
from pyiceberg.table import DataScan

from api.auth import ReadAccess
from api.deps import CatalogDep, StateDep, VersionCache, VersionDep
from api.pagination import FILE_ID, decode_cursor, encode_cursor, filter_hash
from api.problems import bad_request, not_found
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas import FileDetail, FilePage, FileSummary
from corpus.store.catalog import DECISIONS, FILES
from corpus.store.versions import scan_version

router = APIRouter(
    prefix="/datasets/{dataset}/versions/{version}/files",
    tags=["files"],
    responses={**AUTH, **problems(404)},
)
UNKNOWN = "unknown"
REASON = re.compile(r"^[a-z][a-z_]*:[a-z_]*$")
SUMMARY = [n for n in FileSummary.model_fields if n not in ("kept", "content")]
DETAIL = [n for n in FileDetail.model_fields if n not in ("kept", "content", "signals")]
#: Columns that are not quality signals (shown as fields, or internal and never shown).
NOT_SIGNALS = {*DETAIL, "version", "content", "source", "ingest_id", "license_evidence_kind",
               "license_evidence", "license_evidence_score"}  # fmt: skip

ContentFlag = Annotated[
    bool, Query(description="Include file content (kept files only: only they store it)")
]


def _row_filter(
    lang: str | None,
    license: str | None,
    repo: str | None,
    drop_reason: str | None,
    kept: bool | None,
) -> BooleanExpression:
    parts: list[BooleanExpression] = []
    if lang is not None:
        parts.append(IsNull("lang") if lang == UNKNOWN else EqualTo("lang", lang))
    if license is not None:
        parts.append(EqualTo("license", license))
    if repo is not None:
        parts.append(EqualTo("repo", repo))
    if drop_reason is not None:
        family = drop_reason.endswith(":")
        parts.append(
            StartsWith("drop_reason", drop_reason)
            if family
            else EqualTo("drop_reason", drop_reason)
        )
    if kept is not None:
        parts.append(IsNull("drop_reason") if kept else NotNull("drop_reason"))
    expr: BooleanExpression = AlwaysTrue()
    for part in parts:
        expr = And(expr, part)
    return expr


def _check_filters(
    reasons: list[str], drop_reason: str | None, kept: bool | None, content: bool
) -> None:
    if drop_reason is not None and not REASON.match(drop_reason):
        raise bad_request(
            "invalid-filter",
            f"drop_reason {drop_reason!r} is not a reason: give one such as "
            f"{', '.join(reasons[:8]) or 'quality:max_line_length'}, or a stage prefix "
            "ending in ':' (e.g. dedup:)",
        )
    if drop_reason is not None and kept:
        raise bad_request(
            "invalid-filter", "kept=true and drop_reason contradict: kept files have no reason"
        )
    if content and (kept is False or drop_reason is not None):
        raise bad_request(
            "invalid-filter",
            "content is stored only for kept files: drop kept=false/drop_reason, "
            "or list dropped files with content=false",
        )


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _summary(row: dict[str, Any], content: bool) -> FileSummary:
    fields = {n: _clean(row.get(n)) for n in SUMMARY}
    if content:
        fields["content"] = row.get("content")
    return FileSummary(**fields, kept=row.get("drop_reason") is None)


@router.get(
    "", response_model=FilePage, responses={**NOT_MODIFIED, **problems(400)},
    operation_id="list_files",
)  # fmt: skip
def list_files(
    _: ReadAccess,
    ref: VersionDep,
    cache: VersionCache,
    state: StateDep,
    lang: Annotated[
        str | None, Query(max_length=100, description="Language; 'unknown' for none")
    ] = None,
    license: Annotated[
        str | None, Query(max_length=500, description="SPDX expression, exactly")
    ] = None,
    repo: Annotated[str | None, Query(max_length=500, description="Repository, exactly")] = None,
    drop_reason: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=REASON.pattern,
            description="A drop reason, or a stage prefix such as 'dedup:'",
        ),
    ] = None,
    kept: Annotated[bool | None, Query(description="Only kept (true) or dropped files")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Files per page")] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=512, pattern=r"^[A-Za-z0-9_-]+$", description="next_cursor of a page"),
    ] = None,
    content: ContentFlag = False,
) -> Response:
    """Files of a version, filtered, ordered by file_id, a page at a time."""
    version = ref.version
    reasons = sorted(version.stats.drop_reasons)
    _check_filters(reasons, drop_reason, kept, content)
    settings = state.settings
    maximum = settings.max_content_page_size if content else settings.max_page_size
    if limit is None:
        limit = min(settings.page_size, maximum)
    if limit > maximum:
        raise bad_request(
            "invalid-limit",
            f"limit {limit} exceeds the maximum of {maximum} files per page"
            + (" with content=true" if content else "")
            + "; follow next_cursor for more",
        )
    filters = filter_hash(
        {"dataset": ref.dataset, "version": version.name,
         "snapshot": version.decisions_snapshot_id, "lang": lang, "license": license,
         "repo": repo, "drop_reason": drop_reason, "kept": kept, "content": content}
    )  # fmt: skip
    after = decode_cursor(cursor, filters) if cursor is not None else None
    if cache.fresh:
        return cache.not_modified()
    expr = _row_filter(lang, license, repo, drop_reason, kept)

    def page() -> FilePage:
        table = FILES if content else DECISIONS

        def scan() -> DataScan:
            scan = scan_version(state.catalog, ref.dataset, version, table)
            available = set(scan.projection().column_names)
            wanted = (*SUMMARY, *(["content"] if content else []))
            return scan.filter(expr).select(*(c for c in wanted if c in available))

        key = (ref.dataset, table, version.name, version.decisions_snapshot_id, str(expr))
        rows = state.plans.plan(key, scan).first_rows(limit + 1, after)
        records = rows.to_pylist() if rows is not None else []
        more = len(records) > limit
        return FilePage(
            dataset=ref.dataset,
            version=version.name,
            files=[_summary(r, content) for r in records[:limit]],
            next_cursor=encode_cursor(records[limit - 1]["file_id"], filters) if more else None,
        )

    return cache.replay(page)


@router.get(
    "/{file_id}", response_model=FileDetail, responses=NOT_MODIFIED, operation_id="get_file"
)
def get_file(
    _: ReadAccess,
    ref: VersionDep,
    cache: VersionCache,
    catalog: CatalogDep,
    file_id: Annotated[str, Path(description="32 hex chars (listed by the files route)")],
    content: ContentFlag = False,
) -> Response:
    """One file: its facts, license, quality signals, decision, duplicate and token count."""
    version = ref.version
    missing = not_found(
        "file-not-found",
        f"version {version.name!r} of {ref.dataset!r} has no file {file_id!r}; file ids are "
        f"32 hex characters, listed by GET /v1/datasets/{ref.dataset}/versions/"
        f"{version.name}/files",
    )
    if not FILE_ID.match(file_id):
        raise missing
    if cache.fresh:
        return cache.not_modified()
    rows = (
        scan_version(catalog, ref.dataset, version)
        .filter(EqualTo("file_id", file_id))
        .to_arrow()
        .to_pylist()
    )
    if not rows:
        raise missing
    row = rows[0]
    if content and row.get("drop_reason") is None:
        stored = (
            scan_version(catalog, ref.dataset, version, FILES)
            .filter(EqualTo("file_id", file_id))
            .select("content")
            .to_arrow()
        )
        row["content"] = stored["content"][0].as_py() if stored.num_rows else None
    fields = {n: _clean(row.get(n)) for n in DETAIL}
    signals = {k: _clean(v) for k, v in row.items() if k not in NOT_SIGNALS}
    detail = FileDetail(
        **fields,
        kept=row.get("drop_reason") is None,
        content=row.get("content") if content else None,
        signals=signals,
    )
    return cache.json(detail)
