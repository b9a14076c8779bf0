"""GET /v1/datasets/{dataset}/diff?from=A&to=B: what changed between two versions."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth import ReadAccess
from api.caching import Cached
from api.deps import CatalogDep, DatasetPath, IfNoneMatch, StateDep
from api.problems import Problem
from api.responses import AUTH, NOT_MODIFIED, problems
from api.schemas_diff import VersionDiff

router = APIRouter(prefix="/datasets/{dataset}", tags=["diff"], responses=AUTH)


@router.get(
    "/diff",
    response_model=VersionDiff,
    responses={**NOT_MODIFIED, **problems(404, 501)},
    operation_id="diff_versions",
)
def diff_versions(
    _: ReadAccess,
    request: Request,
    dataset: DatasetPath,
    state: StateDep,
    catalog: CatalogDep,
    from_: Annotated[str, Query(alias="from", max_length=128, description="Old version")],
    to: Annotated[str, Query(max_length=128, description="New version")],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Files added, removed, changed and decided differently from `from` to `to`, per
    language and drop reason, with kept bytes and token deltas. Both versions are
    immutable, so the answer is cached with an ETag."""
    a, b = state.versions.get(dataset, from_), state.versions.get(dataset, to)
    cache = Cached.for_request(
        request, if_none_match, a.decisions_snapshot_id, b.decisions_snapshot_id
    )
    if cache.fresh:
        return cache.not_modified()
    try:
        from corpus.store.diff import diff_versions as compute
    except ImportError as exc:  # pragma: no cover - only before corpus.store.diff lands
        raise Problem(501, "not-implemented", "version diff is not in this build") from exc
    answer = VersionDiff.model_validate(compute(catalog, dataset, a.name, b.name))
    return cache.json(answer)
