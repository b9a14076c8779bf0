"""Fixtures of the corpus tests: a fresh PostgreSQL database per test, a Ray host for
`codecorpus` subprocesses."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh database per test on the server at 127.0.0.1:5432, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"codecorpus_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


#: A Ray head of its own for tests that run several `codecorpus` processes: 8 logical CPUs
#: so concurrent runs really overlap (each job gets its own workers), and idle workers kept
#: (the default soft limit of one per CPU kills and restarts them between steps).
RAY_HOST = """
import sys, ray
ray.init(address="local", num_cpus=8, object_store_memory=256 << 20, include_dashboard=False,
         _system_config={"num_workers_soft_limit": 32})
print(ray.get_runtime_context().gcs_address, flush=True)
print(ray._private.worker._global_node.get_logs_dir_path(), flush=True)
sys.stdin.read()  # until the test session closes our stdin
ray.shutdown()
"""


@pytest.fixture(scope="session")
def ray_host() -> Iterator[dict[str, str]]:
    """Environment variables that connect `codecorpus` subprocesses to a shared Ray (and
    CODECORPUS_TEST_RAY_LOGS: where its workers' stderr goes, worker-*.err)."""
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # Ray's default for local clusters
    host = subprocess.Popen(
        [sys.executable, "-c", RAY_HOST], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        address = host.stdout.readline().strip()  # type: ignore[union-attr]
        logs = host.stdout.readline().strip()  # type: ignore[union-attr]
        if not address:
            pytest.fail("the Ray host did not start")
        yield {"RAY_ADDRESS": address, "RAY_AUTH_MODE": "token", "CODECORPUS_TEST_RAY_LOGS": logs}
    finally:
        host.stdin.close()  # type: ignore[union-attr]
        try:
            host.wait(timeout=60)
        except subprocess.TimeoutExpired:
            host.kill()
