"""infra/Dockerfile: hadolint, then its structure with a Dockerfile parser (no engine here)."""

import fnmatch
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.infra.manifests import INFRA, REPO, tool

DOCKERFILE = INFRA / "Dockerfile"
ENTRYPOINT = INFRA / "docker-entrypoint.sh"


@pytest.fixture(scope="module")
def parsed():
    dockerfile_parse = pytest.importorskip("dockerfile_parse")
    return dockerfile_parse.DockerfileParser(path=str(DOCKERFILE))


def instructions(parsed, name: str) -> list[str]:
    return [i["value"] for i in parsed.structure if i["instruction"] == name]


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_user_healthcheck_entrypoint(parsed) -> None:
    assert parsed.baseimage.startswith("python:3.11-slim")
    users = instructions(parsed, "USER")
    assert users, "the image must not run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "Kubernetes checks runAsNonRoot on numeric uids only"
    (health,) = instructions(parsed, "HEALTHCHECK")
    assert "http://127.0.0.1:8000/health" in health
    assert "8000" in " ".join(instructions(parsed, "EXPOSE")).split()
    (entrypoint,) = instructions(parsed, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["tini", "--", "docker-entrypoint.sh"]
    assert json.loads(instructions(parsed, "CMD")[-1]) == ["serve"]
    assert any("/usr/local/bin/docker-entrypoint.sh" in c for c in instructions(parsed, "COPY"))


def _copy_sources(parsed) -> list[str]:
    sources = []
    for value in instructions(parsed, "COPY"):
        words = [w for w in value.split() if not w.startswith("--")]
        sources.extend(w.rstrip("/") for w in words[:-1])
    return sources


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path (or a parent) decides."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        stem = pattern.lstrip("!").rstrip("/")
        if stem.startswith("**"):
            continue  # only caches: never a COPY source
        if fnmatch.fnmatch(path, stem) or path == stem or path.startswith(stem + "/"):
            ignored = not negated
    return ignored


def test_every_copy_source_exists_and_is_in_the_context(parsed) -> None:
    patterns = [
        line.strip()
        for line in (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = _copy_sources(parsed)
    assert "corpus" in sources and "infra/docker-entrypoint.sh" in sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
        assert not _ignored(source, patterns), f"COPY {source} is excluded by the .dockerignore"
    assert _ignored(".venv", patterns) and _ignored(".codecorpus", patterns)


def test_image_holds_every_package_and_only_known_extras(parsed) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    sources = set(_copy_sources(parsed))
    missing = {p.rstrip("*") for p in packages} - sources
    assert not missing, f"packages the wheel includes but the image does not COPY: {missing}"
    args = dict(a.split("=", 1) for a in instructions(parsed, "ARG") if "=" in a)
    extras = set(project["project"]["optional-dependencies"])
    assert set(args["EXTRAS"].split(",")) <= extras
    assert {"cluster", "train"} <= set(args["EXTRAS"].split(","))
    assert args["TORCH_INDEX"].endswith("/whl/cpu"), "the default image takes the CPU torch build"
    (install,) = [r for r in instructions(parsed, "RUN") if "pip install" in r]
    assert "-c constraints.txt" in install and "${TORCH_INDEX}" in install


def _entrypoint(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip


def test_entrypoint_modes_run_the_real_commands() -> None:
    serve = _entrypoint("serve", "--help")
    assert serve.returncode == 0, serve.stderr
    assert "--host" in serve.stdout and "--port" in serve.stdout
    head = _entrypoint("ray-head", "--help")
    assert head.returncode == 0, head.stderr
    assert "--object-store-memory" in head.stdout
    unknown = _entrypoint("no-such-command")  # any other word goes to codecorpus
    assert unknown.returncode != 0
    assert "No such command" in unknown.stderr + unknown.stdout
