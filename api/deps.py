"""Dependencies routes declare through `Annotated` aliases (the FastAPI template's style)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from starlette.concurrency import run_in_threadpool

from api.caching import Cached
from api.settings import ApiSettings
from api.state import AppState
from corpus.store.catalog import Catalog
from corpus.store.versions import Version


async def get_state(request: Request) -> AppState:
    return request.app.state.codecorpus


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> ApiSettings:
    """The app's settings (the environment's, read once, unless `create_app` got others)."""
    return state.settings


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


async def get_catalog(state: StateDep) -> Catalog:
    return state.catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]

DatasetPath = Annotated[str, Path(description="Dataset name (GET /v1/datasets lists them)")]
VersionPath = Annotated[str, Path(description="Version name (GET .../versions lists them)")]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="ETags from earlier answers; a match is answered 304 Not Modified",
    ),
]


# Dependencies that do no I/O are `async def`: FastAPI runs sync ones in a thread each.


@dataclass(frozen=True)
class VersionRef:
    dataset: str
    version: Version


async def resolve_version(
    dataset: DatasetPath, version: VersionPath, request: Request
) -> VersionRef:
    """The published version the path names (404 problem otherwise).

    A version seen before comes from memory on the event loop; only an unknown
    name reads the catalog, in the thread pool.
    """
    state: AppState = request.app.state.codecorpus  # not StateDep: one dependency less
    found = state.versions.cached(dataset, version)
    if found is None:
        found = await run_in_threadpool(state.versions.get, dataset, version)
    return VersionRef(dataset, found)


VersionDep = Annotated[VersionRef, Depends(resolve_version)]


async def version_cache(
    request: Request, ref: VersionDep, if_none_match: IfNoneMatch = None
) -> Cached:
    """ETag of a version-resolved answer: the version's decisions snapshot plus the request."""
    return Cached.for_request(
        request,
        if_none_match,
        ref.version.decisions_snapshot_id,
        bodies=request.app.state.codecorpus.bodies,
    )


VersionCache = Annotated[Cached, Depends(version_cache)]
