"""Token shards of a version: the manifest, and downloads of `.bin`/`.idx` files.

A shard is addressed by `shard_id`, derived from its files' sha256s, never by a
path: the file served is always one the manifest lists. Downloads support single
byte ranges, carry the file's sha256 as ETag and stream from the warehouse.
"""

import hashlib
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pyiceberg.expressions import EqualTo

from api.auth import ReadAccess
from api.caching import IMMUTABLE, REVALIDATE, Cached, matches, quote
from api.deps import CatalogDep, IfNoneMatch, SettingsDep, VersionDep, VersionRef
from api.problems import Problem, bad_request, not_found
from api.ranges import open_file, parse_range, stream
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas import Shard, ShardFile, ShardList
from corpus.store.catalog import SHARDS, Catalog

router = APIRouter(
    prefix="/datasets/{dataset}/versions/{version}/shards",
    tags=["shards"],
    responses={**AUTH, **problems(404)},
)
HEX = re.compile(r"^[0-9a-f]{8,64}$")
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
Kind = Literal["bin", "idx"]


def shard_id(row: dict[str, Any]) -> str:
    """Stable id: the same two files always give the same id, whatever their location."""
    return hashlib.sha256(f"{row['bin_sha256']}:{row['idx_sha256']}".encode()).hexdigest()[:16]


def _manifest(catalog: Catalog, ref: VersionRef) -> tuple[int, list[dict[str, Any]]]:
    """(shards table snapshot, the version's rows) at the table's current snapshot."""
    if not catalog.has_table(ref.dataset, SHARDS):
        return 0, []
    table = catalog.table(ref.dataset, SHARDS)
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0, []
    rows = (
        table.scan(
            row_filter=EqualTo("version", ref.version.name), snapshot_id=snapshot.snapshot_id
        )
        .to_arrow()
        .to_pylist()
    )
    rows.sort(key=lambda r: (r["tokenizer"], r["lang"], r["split"], r["prefix"]))
    return snapshot.snapshot_id, rows


def _public(request: Request, ref: VersionRef, row: dict[str, Any]) -> Shard:
    ident = shard_id(row)
    base = f"/v1/datasets/{ref.dataset}/versions/{ref.version.name}/shards/{ident}"
    return Shard(
        shard_id=ident,
        lang=row["lang"],
        split=row["split"],
        tokenizer=row["tokenizer"],
        dtype=row["dtype"],
        tokens=row["tokens"],
        documents=row["documents"],
        bin=ShardFile(sha256=row["bin_sha256"], bytes=row["bin_bytes"], url=f"{base}/bin"),
        idx=ShardFile(sha256=row["idx_sha256"], bytes=row["idx_bytes"], url=f"{base}/idx"),
    )


@router.get(
    "", response_model=ShardList, responses={**NOT_MODIFIED, **problems(400)},
    operation_id="list_shards",
)  # fmt: skip
def list_shards(
    _: ReadAccess,
    request: Request,
    ref: VersionDep,
    catalog: CatalogDep,
    if_none_match: IfNoneMatch = None,
    tokenizer: Annotated[
        str | None,
        Query(pattern=HEX.pattern, description="Tokenizer sha256 or a prefix (>= 8 hex)"),
    ] = None,
    lang: Annotated[str | None, Query(max_length=100, description="Language")] = None,
    split: Annotated[Literal["train", "validation"] | None, Query()] = None,
) -> Response:
    """The version's token shards (Megatron indexed datasets), per tokenizer, language and
    split, with sha256s, sizes, token and document counts and download URLs.

    Revalidate with If-None-Match: shards of another tokenizer may be added to a version."""
    if tokenizer is not None and not HEX.match(tokenizer):
        raise bad_request(
            "invalid-filter",
            f"tokenizer {tokenizer!r} is not a sha256 or a prefix of one (8 to 64 lowercase hex)",
        )
    snapshot, rows = _manifest(catalog, ref)
    cache = Cached.for_request(
        request, if_none_match, ref.version.decisions_snapshot_id, snapshot,
        cache_control=REVALIDATE,
    )  # fmt: skip
    if cache.fresh:
        return cache.not_modified()
    selected = [
        r
        for r in rows
        if (tokenizer is None or r["tokenizer"].startswith(tokenizer))
        and (lang is None or r["lang"] == lang)
        and (split is None or r["split"] == split)
    ]
    answer = ShardList(
        dataset=ref.dataset,
        version=ref.version.name,
        shards=[_public(request, ref, r) for r in selected],
        tokens=sum(r["tokens"] for r in selected),
        documents=sum(r["documents"] for r in selected),
    )
    return cache.json(answer)


ShardIdPath = Annotated[str, Path(description="shard_id from the manifest")]
RangeHeader = Annotated[
    str | None, Header(alias="Range", description="One byte range, e.g. bytes=0-1048575")
]
IfRange = Annotated[
    str | None, Header(alias="If-Range", description="Honour Range only if the ETag still matches")
]
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The whole file",
    },
    206: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The requested range (Content-Range says which)",
    },
    **NOT_MODIFIED,
    **problems(416),
}


def _download(
    ref: VersionRef,
    catalog: Catalog,
    chunk: int,
    ident: str,
    kind: str,
    range_header: str | None,
    if_none_match: str | None,
    if_range: str | None,
    head: bool,
) -> Response:
    _, rows = _manifest(catalog, ref)
    row = next((r for r in rows if shard_id(r) == ident), None)
    if row is None:
        raise not_found(
            "shard-not-found",
            f"version {ref.version.name!r} of {ref.dataset!r} has no shard {ident[:64]!r}; "
            f"GET /v1/datasets/{ref.dataset}/versions/{ref.version.name}/shards lists them",
        )
    sha, expected = row[f"{kind}_sha256"], row[f"{kind}_bytes"]
    etag = quote(sha)
    name = SAFE.sub("_", f"{ref.dataset}-{ref.version.name}-{row['lang']}-{row['split']}")
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{name}-{ident}.{kind}"',
    }
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    fs, path, size = open_file(f"{row['prefix']}.{kind}", catalog.settings)
    if size != expected:
        raise Problem(
            500,
            "shard-file-missing",
            f"shard {ident} .{kind} is listed with {expected} bytes but the warehouse has "
            f"{'no file' if size is None else f'{size} bytes'}; the version's shards need "
            "rewriting (`codecorpus shards write`)",
        )
    honour = if_range is None or if_range.strip() == etag
    span = parse_range(range_header, size) if honour else None
    start, end = span if span is not None else (0, size - 1)
    length = end - start + 1 if size else 0
    headers["Content-Length"] = str(length)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    media = "application/octet-stream"
    if head or length == 0:
        return Response(status_code=status, headers=headers, media_type=media)
    body = stream(fs, path, start, length, chunk)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media)


@router.get(
    "/{shard_id}/{kind}",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    operation_id="download_shard_file",
)
def download_shard_file(
    _: ReadAccess,
    ref: VersionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    shard_id: ShardIdPath,
    kind: Annotated[Kind, Path(description="bin (tokens) or idx (sizes and pointers)")],
    range_header: RangeHeader = None,
    if_none_match: IfNoneMatch = None,
    if_range: IfRange = None,
) -> Response:
    """A shard's `.bin` or `.idx` file, streamed; one byte range per request (206)."""
    return _download(
        ref, catalog, settings.download_chunk_bytes, shard_id, kind, range_header,
        if_none_match, if_range, head=False,
    )  # fmt: skip


@router.head(
    "/{shard_id}/{kind}",
    response_class=Response,
    responses={200: {"description": "Headers of the whole file"}, 206: {"description": "Range"},
               **NOT_MODIFIED, **problems(416)},
    operation_id="head_shard_file",
)  # fmt: skip
def head_shard_file(
    _: ReadAccess,
    ref: VersionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    shard_id: ShardIdPath,
    kind: Annotated[Kind, Path(description="bin or idx")],
    range_header: RangeHeader = None,
    if_none_match: IfNoneMatch = None,
    if_range: IfRange = None,
) -> Response:
    """Size, ETag (sha256) and range support of a shard file, without the body."""
    return _download(
        ref, catalog, settings.download_chunk_bytes, shard_id, kind, range_header,
        if_none_match, if_range, head=True,
    )  # fmt: skip
