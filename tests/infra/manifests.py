"""Helpers for the infra/ checks: file locations, YAML loading, Kubernetes quantities."""

import re
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"

_SUFFIXES = {
    "": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def quantity(value: str | int | float) -> Fraction:
    """A Kubernetes resource quantity ("500m", "64Gi", "16") as an exact number."""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Fraction(match.group(1)) * _SUFFIXES[match.group(2) or ""]


def documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of a manifest file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def pod_templates(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod template) of a Deployment, RayCluster or RayJob."""
    spec = doc["spec"]
    if doc["kind"] == "RayJob":
        if "submitterPodTemplate" in spec:
            yield "submitter", spec["submitterPodTemplate"]
        spec = spec["rayClusterSpec"]
    if doc["kind"] in ("RayCluster", "RayJob"):
        yield "head", spec["headGroupSpec"]["template"]
        for group in spec.get("workerGroupSpecs", []):
            yield f"worker group {group['groupName']}", group["template"]
    elif "template" in spec:
        yield doc["kind"], spec["template"]


def tool(*names: str) -> str:
    """The first of `names` on PATH, else skip (CI installs them; see .ci/run and [dev])."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"none of {', '.join(names)} is installed; .ci/run and the dev extra install it")
