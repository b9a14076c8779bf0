"""Curate runs' records: one row per run in `codecorpus_runs`, in the catalog's own database,
so every API replica and worker sees a run's status and finished phases."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from corpus.core.errors import CodecorpusError
from corpus.core.settings import Settings
from corpus.store.sql import RUNS, engine


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
        self.engine = engine(self.settings)

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
