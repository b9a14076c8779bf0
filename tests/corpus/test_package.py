"""`corpus` itself: importing any part of it stays cheap, its API names all resolve, and every
subpackage says in its docstring what it holds."""

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import corpus

HEAVY = ("ray", "pyiceberg", "torch", "polars", "deepspeed", "rich")  # rich: the CLI renders
ROOT = Path(__file__).resolve().parents[2]


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)  # fmt: skip
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


@pytest.mark.parametrize(
    "code",
    ["import corpus.core.errors", "import corpus", "import corpus; corpus.read_files"],
)
def test_importing_corpus_pulls_in_no_heavy_library(code: str) -> None:
    assert _imported_after(code) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # the check above would pass vacuously if the probe could not see an import
    assert _imported_after("import corpus.core.errors, pyiceberg.table") == ["pyiceberg"]


def test_every_name_in_all_resolves_to_a_documented_function() -> None:
    assert corpus.__all__ == sorted(corpus.__all__)
    for name in corpus.__all__:
        value = getattr(corpus, name)
        assert callable(value) and inspect.getdoc(value), name
        assert value.__module__ == "corpus.public", name
    assert set(corpus.__all__) <= set(dir(corpus))
    with pytest.raises(AttributeError, match="no attribute 'read_everything'"):
        corpus.read_everything  # noqa: B018


def test_every_public_function_is_exported() -> None:
    from corpus import public

    defined = {
        name
        for name, value in vars(public).items()
        if inspect.isfunction(value) and value.__module__ == public.__name__
        and not name.startswith("_")
    }  # fmt: skip
    assert defined == set(corpus.__all__)


SUBPACKAGES = ["corpus", "corpus.core", "corpus.sources", "corpus.licenses", "corpus.pipeline",
               "corpus.store", "corpus.cli"]  # fmt: skip


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_docstring_says_what_it_holds(name: str) -> None:
    doc = inspect.getdoc(importlib.import_module(name)) or ""
    first = doc.split("\n\n", 1)[0]
    assert "TODO" not in doc and len(first.split()) >= 8, doc
    assert f"`{name.replace('.', '/')}/`" in (ROOT / "README.md").read_text(), name
