"""A curate process killed (SIGKILL) while publishing leaves no visible version, and a rerun
publishes the same version; the publish lock dies with its holder.

Kill points: after the data files are written but before any commit; after one
table commit; after every table commit but before the registry row. The kill
reuses the step callback of `tests/corpus/test_curate_resume.py`, in a process
of its own so that nothing (no `finally`, no lock release) runs after it. The
first, uninterrupted run also checks its JSON logs: every line, in the driver
and in its Ray workers, carries its run id.
"""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pyiceberg.expressions import EqualTo

from corpus.core.errors import VersionInProgress
from corpus.core.settings import Settings
from corpus.store.catalog import DECISIONS, Catalog, data_file_uris
from corpus.store.locks import publish_lock
from corpus.store.versions import Registry
from tests.corpus.publish_checks import (
    check_run,
    codecorpus,
    decisions,
    expected_counts,
    pg_settings,
    row_counts,
    run_folders,
    settings_env,
)
from tests.corpus.test_logs import worker_lines

pytestmark = pytest.mark.postgres

CONFIG = {"tokenizer": {"vocab_size": 3000}}
JSON_LOGS = {"CODECORPUS_LOG_FORMAT": "json"}
#: Runs curate like the CLI and kills itself (SIGKILL) when step argv[2] (with
#: result["table"] == argv[3], if given) is reported.
KILLER = """
import os, signal, sys
from corpus.store.catalog import Catalog
from corpus.core.cluster import RunnerConfig
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate

config, step, table = sys.argv[1], sys.argv[2], sys.argv[3]

def on_step(name, result):
    if name == step and result.get("table", "") == table:
        os.kill(os.getpid(), signal.SIGKILL)

runner = RunnerConfig(workers=1, partitions=1, ray_address=os.environ["RAY_ADDRESS"])
curate("ds", "v1", Catalog(), CurationConfig.from_file(config), runner, on_step=on_step)
"""
HOLDER = """
import sys, time
from corpus.store.locks import publish_lock
from corpus.core.settings import Settings
with publish_lock(Settings(), "ds", "v1"):
    print("held", flush=True)
    time.sleep(300)
"""


def _kill_at(env: dict[str, str], config: Path, step: str, table: str = "") -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(config), step, table],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


@pytest.mark.slow
def test_a_run_killed_while_publishing_leaves_no_version_and_a_rerun_publishes_it(
    sample_corpus, tmp_path: Path, postgres_uri: str, ray_host: dict[str, str]
) -> None:
    root, _ = sample_corpus
    settings = pg_settings(tmp_path / "home", postgres_uri)
    catalog = Catalog(settings)
    env = settings_env(settings, ray_host)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    check_run(codecorpus("ingest", str(root), "-d", "ds", "--layout", "repos", env=env))
    curate_args = ("curate", "ds", "--config", str(config), "--workers", "1", "--partitions", "1")
    logged = codecorpus(*curate_args, "--version", "v0", env={**env, **JSON_LOGS})
    stdout, stderr = logged.communicate(timeout=300)
    assert logged.returncode == 0, stderr[-3000:]
    run_id = re.search(r"run ([0-9a-f]{32})\)", stdout).group(1)  # type: ignore[union-attr]
    driver = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    assert {line["run_id"] for line in driver} == {run_id}
    assert {line["phase"] for line in driver} >= {"stages", "dedup", "commit", "publish"}
    assert worker_lines(ray_host, run_id), "Ray workers log the run id too"
    v0 = Registry(catalog, "ds").get("v0")
    v0_rows = decisions(catalog, "ds", v0)

    def v1_rows_in_current_state() -> int:
        table = catalog.table("ds", DECISIONS)
        return len(data_file_uris(table, row_filter=EqualTo("version", "v1")))

    # files written, nothing committed
    _kill_at(env, config, "finish")
    assert [v.name for v in Registry(catalog, "ds").list()] == ["v0"]
    written = tmp_path / "home" / "wh" / "ds" / "decisions" / "data" / "version=v1"
    assert any(written.glob("*.parquet")) and v1_rows_in_current_state() == 0
    assert len(run_folders(settings, "ds")) == 1, "a dead run keeps its checkpoints"
    # one table committed (the rerun resumes from the checkpoints), then all of them
    _kill_at(env, config, "commit", DECISIONS)
    assert v1_rows_in_current_state() > 0
    _kill_at(env, config, "committed")
    for _ in range(2):  # nothing of v1 is visible, v0 reads as before
        assert [v.name for v in Registry(catalog, "ds").list()] == ["v0"]
        assert decisions(catalog, "ds", Registry(catalog, "ds").get("v0")).equals(v0_rows)

    stdout = check_run(codecorpus(*curate_args, "--version", "v1", env=env))
    assert "published ds@v1" in stdout
    v1 = Registry(catalog, "ds").get("v1")
    assert decisions(catalog, "ds", v1).equals(v0_rows)  # the same config: the same version
    assert row_counts(catalog, "ds", v1) == expected_counts(v1)
    assert v1.stats["tokens_by_language"] == v0.stats["tokens_by_language"]
    assert run_folders(settings, "ds") == [], "a published run removes its checkpoints"


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_the_publish_lock_is_released_when_its_holder_is_killed(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if database == "postgresql":
        settings = pg_settings(tmp_path, request.getfixturevalue("postgres_uri"))
    else:
        settings = Settings(home=tmp_path)
    env = settings_env(settings, {})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        with pytest.raises(VersionInProgress), publish_lock(settings, "ds", "v1"):
            pass
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10  # the server notices the closed connection at once
    while True:
        try:
            with publish_lock(settings, "ds", "v1"):
                break
        except VersionInProgress:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
