"""Real files found offline for the heuristics tests, and helpers to run the stage on them.

Sources, in order of preference: the standard library of the running Python, then
distributions codecorpus depends on (ray, pydantic, rich, enry, boto3, moto, werkzeug);
a test whose file is missing here is skipped with the path it looked for.
"""

import glob
import importlib.util
import sysconfig
from dataclasses import replace
from pathlib import Path
from typing import Any

import enry
import pyarrow as pa
import pytest

from corpus.language import identify
from corpus.pipeline.config import CurationConfig
from corpus.sources.intake import decode
from heuristics.config import HeuristicsConfig
from heuristics.stage import HeuristicsStage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOTEBOOK = FIXTURES / "languages" / "gaps" / "analysis.ipynb"

COLUMNS = {
    "path": pa.string(), "lang": pa.string(), "content": pa.string(), "size": pa.int64(),
    "is_generated": pa.bool_(), "drop_reason": pa.string(),
}  # fmt: skip


def stdlib_file(relative: str) -> Path:
    path = Path(sysconfig.get_paths()["stdlib"]) / relative
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    return path


def package_file(package: str, pattern: str) -> Path:
    """The first (sorted) file matching `pattern` inside an installed package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"package {package} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(glob.glob(str(root / pattern)))
    if not found:
        pytest.skip(f"no {pattern} in {root}")
    return Path(found[0])


def row(path: Path | str, content: str | None = None, name: str | None = None, **extra) -> dict:
    """A raw row as ingest makes it: decoded content, linguist language and is_generated."""
    name = name or Path(path).name
    data = Path(path).read_bytes() if content is None else content.encode()
    text, _, reason = decode(data, 8000)
    out = {
        "path": name,
        "lang": identify(name, data),
        "content": text,
        "size": len(data),
        "is_generated": bool(enry.is_generated(name, data[:65536])),
        "drop_reason": reason.value if reason else None,
    }
    out.update(extra)
    return out


def text_row(name: str, content: str, lang: str | None = None, **extra) -> dict:
    """A hand-made row (edge cases)."""
    out = {
        "path": name, "lang": lang if lang is not None else identify(name, content.encode()),
        "content": content, "size": len(content.encode()), "is_generated": False,
        "drop_reason": None,
    }  # fmt: skip
    out.update(extra)
    return out


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema(COLUMNS))


def config(**heuristics: Any) -> CurationConfig:
    """Curation config with heuristics overrides; `languages=None` unless given."""
    heuristics.setdefault("languages", None)
    return replace(CurationConfig(), heuristics=HeuristicsConfig(**heuristics))


class Stages:
    """Builds one stage per distinct config (building the code-point tables costs ~0.3 s)."""

    def __init__(self) -> None:
        self._built: dict[str, HeuristicsStage] = {}

    def __call__(self, **heuristics: Any) -> HeuristicsStage:
        cfg = config(**heuristics)
        key = cfg.fingerprint()
        if key not in self._built:
            self._built[key] = HeuristicsStage(cfg)
        return self._built[key]

    def run(self, rows: list[dict[str, Any]], **heuristics: Any) -> pa.Table:
        return self(**heuristics)(table(rows))

    def reasons(self, rows: list[dict[str, Any]], **heuristics: Any) -> list[str | None]:
        return self.run(rows, **heuristics).column("drop_reason").to_pylist()
