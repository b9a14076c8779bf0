"""The at-scale catalog path: the same ingest and curate on PostgreSQL (127.0.0.1:5432)."""

from pathlib import Path

import pytest

from corpus.core.settings import Settings
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import Catalog
from corpus.store.versions import Registry, scan_version

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("ray_local")]


def test_versions_on_postgres_match_sqlite(sample_corpus, tmp_path: Path, postgres_uri) -> None:
    root, _ = sample_corpus
    results = []
    for catalog_uri in (postgres_uri, None):
        home = tmp_path / ("pg" if catalog_uri else "sqlite")
        catalog = Catalog(Settings(home=home, catalog_uri=catalog_uri))
        ingest([str(root)], "ds", catalog, layout=Layout.REPOS, ingest_id="same")
        version = curate("ds", "v1", catalog).version
        assert [v.name for v in Registry(catalog, "ds").list()] == ["v1"]
        decisions = scan_version(catalog, "ds", version).to_arrow().sort_by("file_id")
        results.append((decisions, version.stats))
    assert results[0][0].equals(results[1][0])
    assert results[0][1] == results[1][1]
