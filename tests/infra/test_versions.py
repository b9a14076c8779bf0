"""Pins: the Ray the KubeRay manifests name is the Ray constraints.txt installs and this
environment runs; the exact torch pin lives only in constraints.txt."""

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from packaging.requirements import Requirement

from tests.infra.manifests import INFRA, REPO, documents


def constraint_pins(path: Path = REPO / "constraints.txt") -> dict[str, str]:
    """name -> exact version of every `name==version` line of a constraints file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"constraints.txt pins exactly, not {line!r}"
            pins[requirement.name] = spec.version
    return pins


def ray_versions(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, value) of every `rayVersion` key anywhere in a manifest document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "rayVersion":
                yield where, str(value)
            else:
                yield from ray_versions(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from ray_versions(item, f"{where}[{i}]")


def manifest_ray_versions() -> list[tuple[str, str]]:
    found = []
    for path in sorted((INFRA / "kuberay").rglob("*.yaml")):
        for doc in documents(path):
            found += ray_versions(doc, f"{path.relative_to(REPO)}:{doc.get('kind')}")
    return found


def project_requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, requirements in project["optional-dependencies"].items():
        found += [(f"[{extra}]", Requirement(r)) for r in requirements]
    return found


def test_kuberay_manifests_name_the_pinned_and_installed_ray() -> None:
    pinned = constraint_pins()["ray"]
    found = manifest_ray_versions()
    assert {where.split(":")[0] for where, _ in found} >= {
        "infra/kuberay/raycluster.yaml",
        "infra/kuberay/curate/rayjob.yaml",
    }, found
    wrong = [(where, version) for where, version in found if version != pinned]
    assert not wrong, f"rayVersion differs from constraints.txt's ray=={pinned}: {wrong}"
    assert ray.__version__ == pinned, (
        f"installed ray {ray.__version__} but constraints.txt pins {pinned}: reinstall with "
        "`pip install -c constraints.txt -e .[dev]` or move the pin and the manifests together"
    )


def test_every_ray_requirement_admits_the_pin() -> None:
    pinned = constraint_pins()["ray"]
    rays = [(where, r) for where, r in project_requirements() if r.name == "ray"]
    assert rays, "pyproject.toml requires ray"
    for where, requirement in rays:
        assert requirement.specifier.contains(pinned), f"{where} {requirement} excludes {pinned}"


def test_exact_torch_pin_only_in_constraints() -> None:
    pinned = constraint_pins()["torch"]
    torches = [(where, r) for where, r in project_requirements() if r.name == "torch"]
    assert torches, "the train and megatron extras require torch"
    for where, requirement in torches:
        assert all(s.operator not in ("==", "===") for s in requirement.specifier), (
            f"{where} pins torch exactly ({requirement}); the exact pin belongs in constraints.txt"
        )
        assert requirement.specifier.contains(pinned), f"{where} {requirement} excludes {pinned}"


def test_ray_versions_finds_nested_keys() -> None:
    """The walk sees a RayJob's rayVersion under spec.rayClusterSpec, where KubeRay puts it."""
    job = {"kind": "RayJob", "spec": {"rayClusterSpec": {"rayVersion": "2.9.0"}, "x": [{}]}}
    assert list(ray_versions(job, "job")) == [("job.spec.rayClusterSpec", "2.9.0")]


def test_constraint_pins_reject_ranges(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("# comment\ntorch==2.13.0  # cpu\nray>=2.60\n")
    with pytest.raises(AssertionError, match="pins exactly"):
        constraint_pins(tmp_path / "c.txt")
