"""A curate run that dies after any step leaves no version; the rerun resumes to the same one."""

from pathlib import Path

import pyarrow as pa
import pytest

from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import Catalog
from corpus.store.versions import Registry, scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

CONFIG = CurationConfig.from_dict({"tokenizer": {"vocab_size": 3000}})
#: One step of each phase: row-local stages, dedup (exact, verify, union-find, keep),
#: tokenizer (sample, train), finish, and after every commit but before the registry row.
CRASH_AFTER = [
    "stages",
    "exact",
    "verify",
    "uf-00-settle",
    "keep",
    "tokenizer-sample",
    "tokenizer-train",
    "finish",
    "committed",
]


class Crash(RuntimeError):
    pass


def _version_rows(catalog: Catalog) -> tuple[pa.Table, dict]:
    version = Registry(catalog, "ds").get("v1")
    rows = scan_version(catalog, "ds", version).to_arrow().sort_by("file_id")
    return rows.drop_columns(["ingest_id"]), version.stats


@pytest.fixture(scope="module")
def reference(sample_corpus, tmp_path_factory) -> tuple[pa.Table, dict]:
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("reference")))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "v1", catalog, CONFIG)
    return _version_rows(catalog)


@pytest.mark.parametrize("step", CRASH_AFTER)
def test_crash_after_a_step_then_rerun_gives_the_same_version(
    sample_corpus, reference, tmp_path: Path, step: str
) -> None:
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    seen: list[str] = []

    def crash(name: str, result: dict) -> None:
        seen.append(name)
        if name == step:
            raise Crash(step)

    with pytest.raises(Crash):
        curate("ds", "v1", catalog, CONFIG, on_step=crash)
    assert not Registry(catalog, "ds").exists("v1")  # a dead run leaves no visible version

    resumed: list[tuple[str, dict]] = []
    curate("ds", "v1", catalog, CONFIG, on_step=lambda n, r: resumed.append((n, r)))
    rows, stats = _version_rows(catalog)
    expected_rows, expected_stats = reference
    assert rows.equals(expected_rows)
    for key in ("files", "kept_files", "drop_reasons", "tokens_by_language", "tokenizer"):
        assert stats[key] == expected_stats[key], key
    if step != "stages":  # pass 1 finished before the crash: the rerun skips it
        assert ("stages", {"resumed": True}) in resumed
