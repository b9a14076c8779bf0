"""Structured logs: JSON lines with the run's context, in the driver and in Ray workers."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.core.logs import ENV, LogSettings, bind, configure, context, ray_runtime_env, set_phase


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]):
    """The root logger restored after a test that calls configure()."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_bound_context(captured: pytest.CaptureFixture[str]) -> None:
    configure(LogSettings(format="json"))
    log = logging.getLogger("corpus.test")
    log.info("outside")
    with bind(run_id="r1", dataset="ds", version="v1", phase="start"):
        set_phase("dedup")
        log.info("inside %d", 7)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        log.info("explicit phase", extra={"phase": "finish"})
    lines = [json.loads(line) for line in captured.readouterr().err.splitlines()]
    assert [line["msg"] for line in lines] == ["outside", "inside 7", "failed", "explicit phase"]
    assert lines[0]["run_id"] is None and lines[0]["level"] == "INFO"
    assert {k: lines[1][k] for k in ("run_id", "dataset", "version", "phase", "logger")} == {
        "run_id": "r1", "dataset": "ds", "version": "v1", "phase": "dedup",
        "logger": "corpus.test",
    }  # fmt: skip
    assert "ValueError: boom" in lines[2]["error"]
    assert lines[3]["phase"] == "finish"
    assert lines[1]["ts"].endswith("+00:00")
    assert context()["run_id"] is None  # the binding ended with its block


def test_text_is_the_default_and_quiet(captured: pytest.CaptureFixture[str]) -> None:
    configure(LogSettings())
    with bind(run_id="0123456789abcdef0123"):
        logging.getLogger("corpus.test").info("progress")  # the CLI shows progress itself
        logging.getLogger("corpus.test").warning("careful")
    text = captured.readouterr().err
    assert "progress" not in text
    assert "WARNING corpus.test: careful [run 0123456789ab]" in text


def test_workers_inherit_the_context_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with bind(run_id="r2", dataset="ds", version="v2", phase="stages"):
        env = ray_runtime_env()
    assert env["worker_process_setup_hook"] == "corpus.core.logs.configure_worker"
    assert env["env_vars"][ENV["run_id"]] == "r2" and ENV["phase"] not in env["env_vars"]
    for name, value in env["env_vars"].items():  # as a Ray worker process sees them
        monkeypatch.setenv(name, value)
    assert context() == {"run_id": "r2", "dataset": "ds", "version": "v2", "phase": None}
    with pytest.raises(TypeError, match="unknown log context"), bind(run="x"):
        pass


#: A driver like curate's: binds a run, then runs a worker class through `map_units`.
DRIVER = """
import logging, os
from corpus.core.cluster import RunnerConfig, ray_session
from corpus.core.logs import bind, configure
from corpus.pipeline.engines import map_units
import pyarrow as pa

class Worker:
    def __init__(self):
        logging.getLogger("corpus.test").info("worker built")
    def __call__(self, units):
        logging.getLogger("corpus.test").info("units %d", units.num_rows)
        return pa.table({"n": [units.num_rows]})

configure()
runner = RunnerConfig(workers=1, ray_address=os.environ["RAY_ADDRESS"])
with bind(run_id="run-in-workers", dataset="ds", version="v1"):
    with ray_session(runner):
        logging.getLogger("corpus.test").info("driver")
        units = [{"u": i} for i in range(3)]
        print(sum(t["n"][0].as_py() for t in map_units(units, Worker, (), runner, 1)))
"""


@pytest.mark.slow
def test_ray_workers_log_json_lines_with_the_run_id(ray_host: dict[str, str]) -> None:
    import os

    env = {**os.environ, **ray_host, "CODECORPUS_LOG_FORMAT": "json"}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "3", proc.stderr[-3000:]
    driver = [json.loads(line) for line in proc.stderr.splitlines()]
    assert [line["msg"] for line in driver] == ["driver"]
    assert driver[0]["run_id"] == "run-in-workers"
    worker = worker_lines(ray_host, "run-in-workers")
    messages = {line["msg"] for line in worker}
    assert {"worker built", "units 1"} <= messages
    assert any(m.startswith("Worker ready in worker process") for m in messages)
    assert all(line["version"] == "v1" and line["dataset"] == "ds" for line in worker)


def worker_lines(ray_host: dict[str, str], run_id: str) -> list[dict]:
    """JSON lines of the workers that served `run_id` (each Ray worker serves one job)."""
    lines = []
    for path in Path(ray_host["CODECORPUS_TEST_RAY_LOGS"]).glob("worker-*.err"):
        entries = [json.loads(t) for t in path.read_text().splitlines() if t.startswith("{")]
        if any(e.get("run_id") == run_id for e in entries):
            assert all(e["run_id"] == run_id for e in entries), path  # no other run's lines
            lines += entries
    return lines
