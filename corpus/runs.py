"""Curate runs submitted as Ray actors, with their progress in the catalog database.

A run is a row of `codecorpus_runs` (in the same SQL database as the Iceberg
catalog, so every API replica and worker sees it) and a named, detached Ray
actor that executes `corpus.curate.curate` and records each phase as it
finishes. Nothing runs in the submitting process (an API request returns at
once); cancelling kills the actor, which leaves no visible version, and
submitting the same version again resumes from the run's checkpoints.
"""

import contextlib
import json
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from corpus.errors import CodecorpusError
from corpus.settings import Settings

NAMESPACE = "codecorpus"
metadata = sa.MetaData()
RUNS = sa.Table(
    "codecorpus_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.PUBLISHED, RunStatus.FAILED, RunStatus.CANCELLED)


class RunNotFound(CodecorpusError, LookupError):
    """No run has this id."""


@dataclass
class Run:
    id: str
    dataset: str
    version: str
    status: RunStatus
    config: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RunStore:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        uri = self.settings.resolved_catalog_uri()
        if uri.startswith("sqlite:"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        args = {"timeout": 30} if uri.startswith("sqlite:") else {}
        self.engine = sa.create_engine(uri, connect_args=args)
        metadata.create_all(self.engine, tables=[RUNS])

    def create(self, dataset: str, version: str, config: dict[str, Any]) -> Run:
        now = datetime.now(UTC)
        run = Run(
            uuid.uuid4().hex,
            dataset,
            version,
            RunStatus.QUEUED,
            config,
            created_at=now,
            updated_at=now,
        )
        with self.engine.begin() as db:
            db.execute(
                RUNS.insert().values(
                    id=run.id,
                    dataset=dataset,
                    version=version,
                    status=run.status.value,
                    config=json.dumps(config),
                    steps="[]",
                    created_at=now,
                    updated_at=now,
                )
            )
        return run

    def get(self, run_id: str) -> Run:
        with self.engine.connect() as db:
            row = db.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().first()
        if row is None:
            raise RunNotFound(f"no run {run_id!r}; list runs with GET /v1/runs")
        return _run(row)

    def list(self, dataset: str | None = None, limit: int = 100) -> list[Run]:
        query = RUNS.select().order_by(RUNS.c.created_at.desc()).limit(limit)
        if dataset is not None:
            query = query.where(RUNS.c.dataset == dataset)
        with self.engine.connect() as db:
            return [_run(row) for row in db.execute(query).mappings()]

    def set_status(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id)
                .values(status=status.value, error=error, updated_at=datetime.now(UTC))
            )

    def add_step(self, run_id: str, name: str, result: dict[str, Any]) -> None:
        with self.engine.begin() as db:
            steps = json.loads(
                db.execute(sa.select(RUNS.c.steps).where(RUNS.c.id == run_id)).scalar_one()
            )
            steps.append(
                {
                    "name": name,
                    "at": datetime.now(UTC).isoformat(),
                    **{k: v for k, v in result.items() if _small(v)},
                }
            )
            db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id)
                .values(steps=json.dumps(steps), updated_at=datetime.now(UTC))
            )


def _small(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None


def _run(row) -> Run:
    return Run(
        id=row["id"],
        dataset=row["dataset"],
        version=row["version"],
        status=RunStatus(row["status"]),
        config=json.loads(row["config"]),
        steps=json.loads(row["steps"]),
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class _RunActor:
    """Executes one curate run; its progress goes to the run store."""

    def __init__(self, settings: dict[str, Any], run_id: str) -> None:
        self.settings = Settings(**settings)
        self.run_id = run_id

    def execute(self) -> str:
        from corpus.catalog import Catalog
        from corpus.config import CurationConfig, RunnerConfig
        from corpus.curate import curate

        store = RunStore(self.settings)
        run = store.get(self.run_id)
        store.set_status(run.id, RunStatus.RUNNING)
        try:
            config = CurationConfig.from_dict(run.config.get("curation", {}))
            runner = RunnerConfig(**run.config.get("runner", {}))
            curate(
                run.dataset,
                run.version,
                Catalog(self.settings),
                config,
                runner,
                on_progress=lambda summary, total: None,
                dedup_against=run.config.get("dedup_against"),
                on_step=lambda name, result: store.add_step(run.id, name, result),
                run_id=run.id,
            )
        except Exception as exc:  # recorded for the user
            store.set_status(run.id, RunStatus.FAILED, f"{exc}\n{traceback.format_exc()}")
        else:
            store.set_status(run.id, RunStatus.PUBLISHED)
        finally:
            import ray

            ray.actor.exit_actor()  # a detached actor would otherwise live on
        return ""


def actor_name(run_id: str) -> str:
    return f"run-{run_id}"


def submit(
    settings: Settings,
    dataset: str,
    version: str,
    curation: dict[str, Any] | None = None,
    runner: dict[str, Any] | None = None,
    dedup_against: str | None = None,
) -> Run:
    """Record a run and start it on Ray; returns at once (the caller needs a connected Ray)."""
    import ray

    from corpus.config import CurationConfig, RunnerConfig
    from corpus.logs import bind, ray_runtime_env
    from corpus.versions import validate_version_name

    validate_version_name(version)
    CurationConfig.from_dict(curation or {})  # refuse bad configs before anything starts
    RunnerConfig(**(runner or {}))
    store = RunStore(settings)
    run = store.create(
        dataset,
        version,
        {"curation": curation or {}, "runner": runner or {}, "dedup_against": dedup_against},
    )
    with bind(run_id=run.id, dataset=dataset, version=version):
        runtime_env = ray_runtime_env()  # the actor's tasks inherit it: workers log the run id
    actor = (
        ray.remote(_RunActor)
        .options(
            name=actor_name(run.id),
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            max_restarts=0,
            runtime_env=runtime_env,
        )
        .remote(settings.model_dump(mode="json"), run.id)
    )
    actor.execute.remote()
    return run


def cancel(settings: Settings, run_id: str) -> Run:
    """Kill a run's actor (its tasks die with it); a finished run is left as it is."""
    import ray

    store = RunStore(settings)
    run = store.get(run_id)
    if run.status.finished:
        return run
    with contextlib.suppress(ValueError):  # ValueError: the actor is already gone
        ray.kill(ray.get_actor(actor_name(run_id), namespace=NAMESPACE), no_restart=True)
    store.set_status(run_id, RunStatus.CANCELLED)
    return store.get(run_id)
