"""The rooms' layering and acyclicity (pyproject's import-linter contracts) hold, and break
when a room imports one above it or two modules of a room import each other."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("corpus", "api", "dedup", "heuristics", "tokenizer", "trainer")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # this tree's packages, not the installed ones
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("web"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, statement: str) -> None:
    module.write_text(module.read_text() + f"\n{statement}  # noqa\n")


def test_the_rooms_keep_their_contracts() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_core_importing_the_pipeline_breaks_the_layers(tree_copy: Path) -> None:
    add_import(tree_copy / "corpus/core/errors.py", "from corpus.pipeline.curate import curate")
    result = lint(tree_copy)
    assert result.returncode == 1
    assert "Rooms are layered: each imports only the rooms below it BROKEN" in result.stdout
    assert "corpus.core.errors -> corpus.pipeline.curate" in result.stdout


def test_a_leaf_importing_the_store_breaks_the_layers(tree_copy: Path) -> None:
    add_import(tree_copy / "heuristics/rules.py", "from corpus.store.catalog import Catalog")
    result = lint(tree_copy)
    assert result.returncode == 1
    assert "heuristics.rules -> corpus.store.catalog" in result.stdout


def test_a_cycle_inside_a_room_breaks_acyclicity(tree_copy: Path) -> None:
    # versions imports catalog; catalog importing versions back closes a cycle
    add_import(tree_copy / "corpus/store/catalog.py", "import corpus.store.versions")
    result = lint(tree_copy)
    assert result.returncode == 1
    assert "No import cycles between the modules of a room BROKEN" in result.stdout
