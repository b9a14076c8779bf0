"""Curate runs on Ray actors: progress recorded per phase, cancel, resubmit, bad requests."""

import time
from pathlib import Path

import pytest

from corpus.core.errors import ConfigError
from corpus.core.settings import Settings
from corpus.pipeline.ingest import ingest
from corpus.pipeline.run_actor import cancel, submit
from corpus.sources import Layout
from corpus.store.catalog import Catalog
from corpus.store.runs import RunNotFound, RunStatus, RunStore
from corpus.store.versions import Registry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

CURATION = {"tokenizer": {"vocab_size": 3000}}


def _wait(store: RunStore, run_id: str, done, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if done(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} stuck: {store.get(run_id)}")


@pytest.fixture
def settings(sample_corpus, tmp_path: Path) -> Settings:
    root, _ = sample_corpus
    settings = Settings(home=tmp_path / "home")
    ingest([str(root)], "ds", Catalog(settings), layout=Layout.REPOS)
    return settings


def test_submitted_run_publishes_and_records_each_phase(settings: Settings) -> None:
    run = submit(settings, "ds", "v1", CURATION)
    assert run.status == RunStatus.QUEUED  # submit returns before any work
    store = RunStore(settings)
    done = _wait(store, run.id, lambda r: r.status.finished)
    assert done.status == RunStatus.PUBLISHED, done.error
    names = [step["name"] for step in done.steps]
    assert names[0] == "stages" and "keep" in names and names[-1] == "committed"
    assert Registry(Catalog(settings), "ds").exists("v1")
    assert store.list("ds")[0].id == run.id


def test_cancel_leaves_no_version_and_resubmit_resumes(settings: Settings) -> None:
    store = RunStore(settings)
    run = submit(settings, "ds", "v1", CURATION)
    _wait(store, run.id, lambda r: any(s["name"] == "exact" for s in r.steps))
    cancelled = cancel(settings, run.id)
    assert cancelled.status == RunStatus.CANCELLED
    time.sleep(1.0)
    assert store.get(run.id).status == RunStatus.CANCELLED
    assert not Registry(Catalog(settings), "ds").exists("v1")
    again = submit(settings, "ds", "v1", CURATION)
    done = _wait(store, again.id, lambda r: r.status.finished)
    assert done.status == RunStatus.PUBLISHED, done.error
    assert any(s.get("resumed") for s in done.steps)  # the checkpoints of the first run


def test_failures_are_recorded_and_bad_requests_refused(settings: Settings) -> None:
    store = RunStore(settings)
    run = submit(settings, "nope", "v1", CURATION)
    failed = _wait(store, run.id, lambda r: r.status.finished)
    assert failed.status == RunStatus.FAILED and "nope" in failed.error
    with pytest.raises(ConfigError):
        submit(settings, "ds", "v2", {"dedup": {"threshold": 2}})
    with pytest.raises(RunNotFound):
        store.get("0" * 32)
