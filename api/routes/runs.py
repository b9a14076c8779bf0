"""/v1/runs: submit a curate run (202 + Location), follow its phases, cancel it.

A run executes on Ray as a detached actor (`corpus.pipeline.run_actor`); the request only
records it and starts the actor, so it answers at once whatever the corpus size.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import Field, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from api.auth import ReadAccess, WriteAccess
from api.deps import StateDep
from api.problems import not_found
from api.responses import AUTH, problems
from api.schemas import Schema
from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.run_actor import cancel, submit
from corpus.store.runs import Run, RunNotFound, RunStore

router = APIRouter(prefix="/runs", tags=["runs"], responses=AUTH)


def _curation(value: Any, _: ValidatorFunctionWrapHandler) -> CurationConfig:
    """The config's own strict validation (`'no'` is not a bool, `'0.7'` not a number), so
    the API accepts exactly what `curate --config` does; OpenAPI still shows every section."""
    if isinstance(value, CurationConfig):
        return value
    try:
        return CurationConfig.from_dict(value)
    except ConfigError as exc:
        raise PydanticCustomError("invalid_config", "{detail}", {"detail": str(exc)}) from None


class RunRequest(Schema):
    dataset: str = Field(min_length=1, max_length=128, description="Dataset to curate")
    version: str = Field(min_length=1, max_length=128, description="Name of the new version")
    config: Annotated[CurationConfig, WrapValidator(_curation)] = Field(
        default_factory=CurationConfig,
        description="Curation config sections (as `codecorpus curate --config`); omitted "
        "sections and fields keep their defaults",
    )
    partitions: int = Field(default=8, ge=1, le=4096)
    dedup_against: str | None = Field(default=None, max_length=128)


class RunStep(Schema):
    name: str
    at: str
    seconds: float | None = None
    resumed: bool | None = None


class RunOut(Schema):
    id: str
    dataset: str
    version: str
    status: str = Field(description="queued, running, published, failed or cancelled")
    steps: list[RunStep] = Field(description="Phases finished so far, in order")
    error: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class RunList(Schema):
    runs: list[RunOut]


def _out(run: Run) -> RunOut:
    steps = [
        RunStep(name=s["name"], at=s["at"], seconds=s.get("seconds"), resumed=s.get("resumed"))
        for s in run.steps
    ]
    return RunOut(
        id=run.id,
        dataset=run.dataset,
        version=run.version,
        status=run.status.value,
        steps=steps,
        error=run.error,
        created_at=run.created_at.isoformat() if run.created_at else None,
        updated_at=run.updated_at.isoformat() if run.updated_at else None,
    )


def _ray(state) -> None:
    """Connect this process to Ray once (the configured cluster, else a local one)."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address=state.settings.ray_address or "local",
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
        )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses=problems(400, 404, 422),
    operation_id="submit_run",
)
def submit_run(body: RunRequest, _: WriteAccess, state: StateDep, response: Response) -> RunOut:
    """Start a curate run on Ray; poll the Location it answers with."""
    state.versions.versions(body.dataset)  # 404 for an unknown dataset, before anything starts
    _ray(state)
    run = submit(
        state.settings.catalog,
        body.dataset,
        body.version,
        body.config.to_dict(),  # complete: loads back to the same fingerprint
        {"partitions": body.partitions},
        body.dedup_against,
    )
    response.headers["Location"] = f"/v1/runs/{run.id}"
    return _out(run)


def _get(store: RunStore, run_id: str) -> Run:
    try:
        return store.get(run_id)
    except RunNotFound as exc:
        raise not_found("run-not-found", str(exc)) from exc


@router.get("", response_model=RunList, operation_id="list_runs")
def list_runs(
    _: ReadAccess,
    state: StateDep,
    dataset: Annotated[str | None, Query(max_length=128)] = None,
) -> RunList:
    """The newest runs first (at most 100)."""
    return RunList(runs=[_out(r) for r in RunStore(state.settings.catalog).list(dataset)])


@router.get("/{run_id}", response_model=RunOut, responses=problems(404), operation_id="get_run")
def get_run(run_id: str, _: ReadAccess, state: StateDep) -> RunOut:
    """A run's status and the phases it finished."""
    return _out(_get(RunStore(state.settings.catalog), run_id))


@router.delete(
    "/{run_id}", response_model=RunOut, responses=problems(404), operation_id="cancel_run"
)
def cancel_run(run_id: str, _: WriteAccess, state: StateDep) -> RunOut:
    """Cancel a run: its actor is killed and no version appears (a finished run is kept)."""
    _get(RunStore(state.settings.catalog), run_id)
    _ray(state)
    return _out(cancel(state.settings.catalog, run_id))
