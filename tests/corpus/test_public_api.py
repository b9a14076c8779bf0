"""The README's Python API example, run as written, checked against the catalog's own tables;
then the API's filters and its errors on bad input."""

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.compute as pc
import pytest

import corpus
from corpus.core.errors import CodecorpusError, ConfigError, DatasetNotFound, VersionNotFound
from corpus.store.catalog import DECISIONS, FILES, SHARDS
from corpus.store.export import UnknownLanguage
from corpus.store.mixtures import get_mixture
from corpus.store.versions import scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> list[str]:
    """The ```python blocks of the README's "Python API" section, in order."""
    text = README.read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_block(code: str, namespace: dict[str, Any]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    return out.getvalue()


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict[str, Any]:
    """The first block, run in a fresh folder as a newcomer would (relative paths and all)."""
    folder = tmp_path_factory.mktemp("readme_api")
    before = Path.cwd()
    os.chdir(folder)
    try:
        namespace: dict[str, Any] = {"__name__": "__readme__"}
        namespace["output"] = run_block(readme_blocks()[0], namespace)
        namespace["folder"] = folder
        yield namespace
    finally:
        os.chdir(before)


def test_readme_has_the_example_and_the_training_block() -> None:
    first, second = readme_blocks()
    assert "corpus.create_mixture" in first and "corpus.train" in second


def test_readme_example_returns_what_the_catalog_holds(example) -> None:
    catalog = example["catalog"]
    assert catalog.settings.home == example["folder"] / ".codecorpus"
    version = corpus.get_version("sample", "v1", catalog=catalog)
    assert "v1" in example["output"] and example["ingested"].added > 0

    python = example["python"]
    assert isinstance(python, pl.DataFrame) and python.columns == ["repo", "path", "size",
                                                                    "content"]  # fmt: skip
    files = scan_version(catalog, "sample", version, FILES).to_arrow()
    wanted = files.filter(pc.and_(pc.equal(files["lang"], "Python"), pc.greater(files["size"],
                                                                                2000)))  # fmt: skip
    assert python.height > 0
    assert sorted(python["path"].to_list()) == sorted(wanted["path"].to_pylist())
    # the content is the file's bytes, except where a formatter or PII redaction rewrote it
    rewritten = {r["path"] for r in wanted.to_pylist() if r["formatter"] is not None}
    for path, content, size in python.select("path", "content", "size").iter_rows():
        assert (len(content.encode()) == size) or path in rewritten, path

    dropped = example["dropped"]
    decisions = scan_version(catalog, "sample", version, DECISIONS).to_arrow()
    really = decisions.filter(pc.is_valid(decisions["drop_reason"]))
    assert dropped.height == really.num_rows > 0 and dropped["drop_reason"].null_count() == 0
    assert sorted(dropped["path"].to_list()) == sorted(really["path"].to_pylist())

    assert example["stats"] == version.stats

    manifest = catalog.table("sample", SHARDS).scan().to_arrow().to_pylist()
    train = [r for r in manifest if r["version"] == "v1" and r["split"] == "train"]
    listed = corpus.list_shards("sample", "v1", split="train", catalog=catalog).to_pylist()
    assert sorted(r["prefix"] for r in listed) == sorted(r["prefix"] for r in train)
    assert [r["prefix"] for r in listed] == [r["prefix"] for r in sorted(
        listed, key=lambda r: (r["tokenizer"], r["lang"], r["split"], r["prefix"]))]  # fmt: skip

    mixture = example["mixture"]
    (component,) = mixture.components
    assert component.lang == "Python"
    assert {s["prefix"] for s in component.shards} == {
        r["prefix"] for r in train if r["lang"] == "Python"
    }
    assert get_mixture(catalog, mixture.id).to_dict() == mixture.to_dict()
    assert corpus.get_mixture(mixture.id, catalog=catalog).to_dict() == mixture.to_dict()


def test_readme_training_block(example) -> None:
    pytest.importorskip("deepspeed", reason="training needs the [train] extra")
    output = run_block(readme_blocks()[1], example)
    assert example["result"]["steps"] == 2 and "2 steps, validation loss" in output
    assert (example["folder"] / "runs" / "tiny" / "result.json").is_file()


def test_filters_reach_the_rows(example) -> None:
    from pyiceberg.expressions import EqualTo

    catalog = example["catalog"]
    quality = corpus.read_decisions("sample", "v1", drop_reason="quality", catalog=catalog)
    reasons = set(quality["drop_reason"].to_pylist())
    assert reasons and all(r.startswith("quality:") for r in reasons)
    one = sorted(reasons)[0]
    exact = corpus.read_decisions("sample", "v1", drop_reason=[one], catalog=catalog)
    assert set(exact["drop_reason"].to_pylist()) == {one}
    assert exact.num_rows == quality.filter(pc.equal(quality["drop_reason"], one)).num_rows
    kept = corpus.read_decisions("sample", "v1", kept=True, columns=["drop_reason"],
                                 catalog=catalog)  # fmt: skip
    files = corpus.read_files("sample", "v1", columns=["file_id"], catalog=catalog)
    assert kept.num_rows == files.num_rows and kept["drop_reason"].null_count == kept.num_rows

    folded = corpus.read_files("sample", "v1", languages="python", columns=["path"],
                               catalog=catalog)  # fmt: skip
    expression = corpus.read_files("sample", "v1", filter=EqualTo("lang", "Python"),
                                   columns=["path"], catalog=catalog)  # fmt: skip
    assert sorted(folded["path"].to_pylist()) == sorted(expression["path"].to_pylist())
    assert folded.num_rows > 0
    assert corpus.read_files("sample", "v1", limit=3, catalog=catalog).num_rows == 3
    assert corpus.list_shards("sample", "v1", language="Haskell", catalog=catalog).num_rows == 0


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda c: corpus.read_files("nope", "v1", catalog=c), DatasetNotFound, "nope"),
        (lambda c: corpus.list_versions("nope", catalog=c), DatasetNotFound, "sample"),
        (lambda c: corpus.read_files("sample", "v9", catalog=c), VersionNotFound, "v1"),
        (lambda c: corpus.read_files("sample", "v1", filter="size >>> 3", catalog=c),
         ConfigError, "not a row filter"),
        (lambda c: corpus.read_files("sample", "v1", filter="stars2 > 3", catalog=c),
         ConfigError, "the columns are"),
        (lambda c: corpus.read_files("sample", "v1", columns=["sizee"], catalog=c),
         ConfigError, "sizee"),
        (lambda c: corpus.read_files("sample", "v1", languages=["Klingon"], catalog=c),
         UnknownLanguage, "Klingon"),
        (lambda c: corpus.read_decisions("sample", "v1", drop_reason="quality:vibes", catalog=c),
         ConfigError, "quality:vibes"),
        (lambda c: corpus.read_files("sample", "v1", limit=-1, catalog=c), ConfigError, "limit"),
        (lambda c: corpus.list_shards("sample", "v1", split="test", catalog=c), ConfigError,
         "validation"),
        (lambda c: corpus.ingest("samples", "sample", layout="flat", catalog=c), ConfigError,
         "auto, repos or repo"),
        (lambda c: corpus.curate("sample", "v2", config=42, catalog=c), ConfigError, "YAML path"),
        (lambda c: corpus.open_catalog(42), ConfigError, "folder or Settings"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(example, call, error, says) -> None:
    with pytest.raises(error, match=re.escape(says)) as raised:
        call(example["catalog"])
    assert isinstance(raised.value, CodecorpusError)
