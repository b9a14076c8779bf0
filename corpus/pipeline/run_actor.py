"""Curate runs submitted as Ray actors, with their progress in the catalog database.

A run is a row of `codecorpus_runs` (`corpus.store.runs`) and a named, detached Ray
actor that executes `corpus.pipeline.curate.curate` and records each phase as it
finishes. Nothing runs in the submitting process (an API request returns at
once); cancelling kills the actor, which leaves no visible version, and
submitting the same version again resumes from the run's checkpoints.
"""

import contextlib
import traceback
from typing import Any

from corpus.core.settings import Settings
from corpus.store.runs import Run, RunStatus, RunStore

NAMESPACE = "codecorpus"


class _RunActor:
    """Executes one curate run; its progress goes to the run store."""

    def __init__(self, settings: dict[str, Any], run_id: str) -> None:
        self.settings = Settings(**settings)
        self.run_id = run_id

    def execute(self) -> str:
        from corpus.core.cluster import RunnerConfig
        from corpus.pipeline.config import CurationConfig
        from corpus.pipeline.curate import curate
        from corpus.store.catalog import Catalog

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

    from corpus.core.cluster import RunnerConfig
    from corpus.core.logs import bind, ray_runtime_env
    from corpus.pipeline.config import CurationConfig
    from corpus.store.versions import validate_version_name

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
