"""infra/compose.yaml: its wiring, `docker compose config` (or docker-compose) and the spec schema.

`config` loads, interpolates and validates the file without a Docker engine. The compose
specification's JSON schema ships with docker-compose (Debian's package, which .ci/run
installs); nothing is downloaded.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.manifests import INFRA, tool

COMPOSE = INFRA / "compose.yaml"
SECRETS = {"POSTGRES_PASSWORD": "test-password", "RAY_AUTH_TOKEN": "test-token"}
SCHEMA_PLACES = [
    Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json"),
    Path("/usr/share/docker-compose/compose_spec.json"),
]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    return [tool("docker-compose")]


def _config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`compose config` with only `env` (and PATH/HOME): a developer's shell cannot leak in."""
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [*_compose_command(), "--project-directory", str(path.parent), "-f", str(path), "config"],
        capture_output=True, text=True, env={**clean, **env}, timeout=60, check=False,
    )  # fmt: skip


def test_services_are_wired_together(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "ray-head", "ray-worker", "api"} <= set(services)
    postgres = services["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    api = services["api"]
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "ray-head": {"condition": "service_healthy"},
    }
    env = api["environment"]
    assert env["CODECORPUS_CATALOG_URI"].startswith("postgresql+psycopg2://")
    assert "@postgres:5432/" in env["CODECORPUS_CATALOG_URI"]
    assert env["RAY_ADDRESS"] == env["CODECORPUS_API_RAY_ADDRESS"] == "ray-head:6379"
    assert services["ray-head"]["healthcheck"]["test"][:2] == ["CMD", "ray"]
    worker = services["ray-worker"]
    assert "--address=ray-head:6379" in worker["command"]
    assert "container_name" not in worker and "ports" not in worker, "workers must scale"
    assert worker["depends_on"] == {"ray-head": {"condition": "service_healthy"}}


def test_the_warehouse_is_one_volume_at_one_path(compose: dict[str, Any]) -> None:
    services = compose["services"]
    warehouse = services["api"]["environment"]["CODECORPUS_WAREHOUSE"]
    path = warehouse.split("file://", 1)[1]  # ${CODECORPUS_WAREHOUSE:-file:///data/warehouse}
    path = path.rstrip("}")
    for name in ("ray-head", "ray-worker", "api", "curate"):
        assert f"warehouse:{path}" in services[name]["volumes"], name
        assert services[name]["environment"]["CODECORPUS_WAREHOUSE"] == warehouse
    assert "warehouse" in compose["volumes"]


def test_compose_config_validates_and_interpolates() -> None:
    result = _config(COMPOSE, SECRETS)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    api = rendered["services"]["api"]
    uri = "postgresql+psycopg2://codecorpus:test-password@postgres:5432/catalog"
    assert api["environment"]["CODECORPUS_CATALOG_URI"] == uri
    assert api["environment"]["RAY_AUTH_TOKEN"] == "test-token"
    assert api["environment"]["CODECORPUS_WAREHOUSE"] == "file:///data/warehouse"
    assert rendered["services"]["ray-head"]["build"]["dockerfile"].endswith("infra/Dockerfile")


def test_compose_config_refuses_missing_secrets_and_unknown_keys(tmp_path: Path) -> None:
    missing = _config(COMPOSE, {"RAY_AUTH_TOKEN": "t"})
    assert missing.returncode != 0
    assert "set POSTGRES_PASSWORD in infra/.env" in missing.stderr + missing.stdout
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["api"]["healtcheck"] = broken["services"]["postgres"]["healthcheck"]
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _config(path, SECRETS)
    assert result.returncode != 0
    assert "healtcheck" in result.stderr + result.stdout


def test_compose_file_matches_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = next((p for p in SCHEMA_PLACES if p.exists()), None)
    if schema_path is None:
        pytest.skip("no compose-spec schema on this machine (Debian's docker-compose ships one)")
    schema = json.loads(schema_path.read_text())
    # It names draft 2019-09 with a trailing '#', which jsonschema does not look up by itself.
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors
    broken = {**compose, "services": {**compose["services"], "api": {"imagee": "x"}}}
    assert list(validator.iter_errors(broken)), "the schema must reject unknown service keys"
