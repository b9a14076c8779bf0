""" "Is this in the corpus?": near-duplicate and exact lookups of file content against a version's
lookup index, and whether a repository contributed files.

The index is built offline (`codecorpus index build`) and loaded on first use. Keys
with the `lookup` or `read` scope may ask; answers name files (id, repo, path,
decision) and similarities, never other files' content unless the key reads the
dataset (`include_content` needs the read scope). Requests are size-capped and rate
limited per key. A Redis index that cannot be reached answers 503 and serves again
as soon as Redis holds the index.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, _unauthorized, api_key_scheme, authenticate, bearer_scheme
from api.deps import VersionDep, VersionRef
from api.keys import ApiKey, Scope
from api.problems import Problem
from api.responses import AUTH, problems
from api.schemas_lookup import (
    LookupAnswer,
    LookupFile,
    LookupRequest,
    MatchOut,
    RepoAnswer,
)
from api.settings import ApiSettings
from api.state import AppState
from corpus.store.lookup_index import Index, IndexNotBuilt, add_exact_jaccard, lookup
from dedup.index import LookupIndexError

router = APIRouter(
    prefix="/datasets/{dataset}/versions/{version}",
    tags=["lookup"],
    responses={**AUTH, **problems(404, 409, 413, 429, 503)},
)
OPT_OUT = "/web#opt-out"


async def lookup_access(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """A key with the lookup or read scope (or anyone, with anonymous lookups on), within its
    rate limit."""
    state: AppState = request.app.state.codecorpus
    key = await authenticate(state, bearer.credentials if bearer is not None else header)
    principal = admit(state, key)
    take_turn(state, caller_of(key, request.client.host if request.client else None))
    return principal


def admit(state: AppState, key: ApiKey | None) -> Principal:
    """The caller if `key` (None: anonymous) may look up, else the 401/403 problem."""
    settings = state.settings
    if key is None and not (settings.anonymous_lookup or settings.anonymous_read):
        raise _unauthorized(
            "lookups need an API key with the lookup (or read) scope: an admin "
            "creates one with `codecorpus keys create NAME --scope lookup`"
        )
    if key is not None and not key.granted & {Scope.LOOKUP, Scope.READ}:
        raise Problem(
            403,
            "insufficient-scope",
            f"API key {key.id} has scopes {', '.join(key.scopes)}; lookups need lookup or read",
        )
    return Principal(key)


def caller_of(key: ApiKey | None, host: str | None) -> str:
    """Whom the rate limit counts: the key, or the client address of anonymous callers."""
    return f"key:{key.id}" if key else f"ip:{host or '-'}"


def take_turn(state: AppState, caller: str) -> None:
    """Spend one of the caller's lookups, or the 429 problem (nothing spent) when none is left."""
    settings = state.settings
    wait = state.lookup_limits.take(caller)
    if wait > 0:
        raise Problem(
            429,
            "rate-limited",
            f"more than {settings.lookup_burst} lookups at once or "
            f"{settings.lookup_rate:g}/s; retry after the Retry-After seconds",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


LookupAccess = Annotated[Principal, Depends(lookup_access)]


def _index(state: AppState, ref):
    """The loaded index (first use: read it, in the caller's thread)."""
    found = state.lookups.cached(ref.dataset, ref.version.name)
    return found if found is not None else state.lookups.get(ref.dataset, ref.version)


def _problem(exc: Exception) -> Problem:
    from dedup.index_redis import IndexUnavailable

    if isinstance(exc, IndexNotBuilt):
        return Problem(404, "index-not-built", str(exc))
    if isinstance(exc, IndexUnavailable):
        return Problem(503, "index-unavailable", str(exc), headers={"Retry-After": "5"})
    return Problem(409, "index-mismatch", str(exc))


async def _check_size(request: Request, state: AppState) -> None:
    length = request.headers.get("content-length")
    limit = state.settings.lookup_max_body_bytes
    if length is not None and length.isdigit() and int(length) > limit:
        raise Problem(
            413,
            "request-too-large",
            f"the request has {length} bytes, more than the {limit} a lookup accepts; "
            "send fewer or smaller files",
        )


async def size_cap(request: Request) -> None:
    await _check_size(request, request.app.state.codecorpus)


@router.post(
    "/lookup",
    response_model=LookupAnswer,
    operation_id="lookup_files",
    dependencies=[Depends(size_cap)],
)
async def lookup_files(
    principal: LookupAccess, ref: VersionDep, body: LookupRequest, request: Request
) -> Response:
    """Near-duplicates (estimated Jaccard, exact Jaccard on request) and exact sha256 matches of
    one file (`content`) or several (`files`) in the version."""
    state: AppState = request.app.state.codecorpus
    query = checked_query(state.settings, body, principal)
    index = state.lookups.cached(ref.dataset, ref.version.name)
    # The common request (a loaded in-process index, no warehouse read) is pure CPU work of
    # about a tenth of a millisecond: done here, it saves the thread hop and the GIL hand-offs
    # that cost more than the work under concurrent load.
    if index is not None and answers_inline(index, query):
        data = answer(state, ref, query, index)
    else:
        data = await run_in_threadpool(answer, state, ref, query, index)
    return Response(data, media_type="application/json")


@dataclass(frozen=True)
class Query:
    """A lookup request that passed the caps: the texts to look up and how."""

    body: LookupRequest
    texts: list[str]
    names: list[str | None]
    size: int
    """UTF-8 bytes of all the texts."""


def checked_query(settings: ApiSettings, body: LookupRequest, principal: Principal) -> Query:
    """The request's files within the service's caps (else the 413/403 problem)."""
    files = body.files or [LookupFile(name=None, content=body.content or "")]
    if len(files) > settings.lookup_max_files:
        raise Problem(
            413,
            "too-many-files",
            f"{len(files)} files in one lookup; the maximum is "
            f"{settings.lookup_max_files}: split the request",
        )
    size = 0
    for f in files:
        try:
            length = len(f.content.encode("utf-8"))
        except UnicodeEncodeError as exc:  # JSON's "\ud800" escapes: not text a file holds
            raise Problem(
                400,
                "invalid-content",
                f"file {f.name or '(content)'} is not valid Unicode: a lone surrogate "
                f"({f.content[exc.start]!r}) at character {exc.start}; send the file's text",
            ) from exc
        if length > settings.lookup_max_file_bytes:
            raise Problem(
                413,
                "file-too-large",
                f"file {f.name or '(content)'} is larger than "
                f"{settings.lookup_max_file_bytes} bytes",
            )
        size += length
    if body.include_content and (principal.key is None or Scope.READ not in principal.key.granted):
        raise Problem(
            403,
            "insufficient-scope",
            "include_content returns other files' content: "
            "it needs a key with the read scope of this dataset",
        )
    return Query(body, [f.content for f in files], [f.name for f in files], size)


#: Content a lookup hashes on the event loop (the numba kernel: about a millisecond per
#: 10-50 KB); larger requests, and any that read the warehouse or Redis, go to a thread.
INLINE_BYTES = 256 << 10


def answers_inline(index: Index, query: Query) -> bool:
    """Whether the answer is CPU work short enough for the event loop: an in-process index, a
    small request, nothing read from the warehouse."""
    body = query.body
    return (
        index.storage == "memory"
        and query.size <= INLINE_BYTES
        and not (body.exact_jaccard or body.include_content)
    )


def answer(state: AppState, ref: VersionRef, query: Query, index: Index | None) -> bytes:
    """The answer's JSON (the index loaded first when `index` is None)."""
    body = query.body
    try:
        index = index if index is not None else _index(state, ref)
        if body.min_jaccard is not None and body.min_jaccard < index.params.threshold:
            raise Problem(
                400,
                "invalid-threshold",
                f"min_jaccard {body.min_jaccard} is below the index threshold "
                f"{index.params.threshold}: the LSH finds no pairs under it reliably",
            )
        answers = lookup(index, query.texts, query.names, body.min_jaccard, body.limit)
    except (LookupIndexError, IndexNotBuilt) as exc:
        raise _problem(exc) from exc
    if body.exact_jaccard or body.include_content:
        add_exact_jaccard(state.catalog, ref.dataset, ref.version, query.texts, answers)
    contents = _contents(state, ref, answers) if body.include_content else {}
    return LookupAnswer.json_bytes(ref.dataset, ref.version.name, index, answers, contents, OPT_OUT)


def _contents(state: AppState, ref, answers) -> dict[str, str]:
    from pyiceberg.expressions import In

    from corpus.store.catalog import FILES
    from corpus.store.versions import scan_version

    ids = sorted(
        {m.entry.file_id for a in answers for m in a.near}
        | {e.file_id for a in answers for e in a.exact}
    )
    if not ids:
        return {}
    scan = scan_version(state.catalog, ref.dataset, ref.version, FILES).filter(In("file_id", ids))
    table = scan.select("file_id", "content").to_arrow()
    ids_read, bodies = table.column("file_id").to_pylist(), table.column("content").to_pylist()
    return dict(zip(ids_read, bodies, strict=True))


@router.get("/repos/{repo:path}", response_model=RepoAnswer, operation_id="lookup_repo")
def lookup_repo(
    _: LookupAccess,
    ref: VersionDep,
    request: Request,
    repo: Annotated[str, Path(max_length=500, description="owner/name (or a folder name)")],
) -> RepoAnswer:
    """Whether a repository contributed files to the version, and how many were kept."""
    state: AppState = request.app.state.codecorpus
    try:
        counts = _index(state, ref).repo(repo)
    except (LookupIndexError, IndexNotBuilt) as exc:
        raise _problem(exc) from exc
    files, kept = counts or (0, 0)
    return RepoAnswer(
        dataset=ref.dataset,
        version=ref.version.name,
        repo=repo,
        contributed=counts is not None,
        files=files,
        kept=kept,
        opt_out=OPT_OUT,
    )


__all__ = ["MatchOut", "router"]
