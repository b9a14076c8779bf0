"""Shared fixtures: a real sample corpus from installed distributions, catalogs, one local Ray."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.sources.samples import SampleRepo, build_sample_corpus
from corpus.store.catalog import Catalog

#: Distributions every test environment has (runtime or test dependencies of codecorpus):
#: pure-Python ones, ones with compiled extensions (binary files) and ones with LICENSE files.
SAMPLE_DISTRIBUTIONS = [
    "annotated-types", "charset-normalizer", "click", "idna", "iniconfig",
    "packaging", "pyyaml", "typer",
]  # fmt: skip


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleRepo]]:
    root = tmp_path_factory.mktemp("sample") / "repos"
    repos = build_sample_corpus(root, max_bytes=64 << 20, names=SAMPLE_DISTRIBUTIONS)
    assert len(repos) >= 6, f"expected the sample distributions to be installed, got {repos}"
    return root, repos


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(Settings(home=tmp_path / "home"))


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """One local Ray for the whole session (ray.init costs seconds)."""
    from corpus.core.cluster import ray_session

    with ray_session(RunnerConfig(workers=2)):
        yield
