"""The Iceberg catalog opened through pyiceberg's `load_catalog` properties
(CODECORPUS_CATALOG_PROPERTIES): the SQL type end to end, and clear errors for bad ones."""

import json
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from corpus.core.errors import ConfigError
from corpus.core.settings import Settings
from corpus.store.catalog import Catalog

ROWS = pa.table({"file_id": pa.array(["a", "b", "c"]), "bytes": pa.array([3, 1, 2], pa.int64())})


def sql_properties(tmp_path: Path) -> dict[str, str]:
    return {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'elsewhere' / 'iceberg.db'}",
        "warehouse": (tmp_path / "elsewhere-wh").as_uri(),
    }


def write_rows(catalog: Catalog) -> None:
    catalog.ensure_table("ds", "things", ROWS.schema)
    catalog.commit("ds", "things", lambda _table, tx: tx.append(ROWS))


def test_sql_catalog_from_properties_writes_and_reads(tmp_path: Path, monkeypatch) -> None:
    properties = sql_properties(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    home = tmp_path / "home"
    writer = Catalog(Settings(home=home, catalog_properties=properties))
    assert isinstance(writer.iceberg, SqlCatalog)
    write_rows(writer)

    # The table lives where the properties say: its database and its warehouse.
    location = writer.table("ds", "things").location()
    assert location.startswith(properties["warehouse"]), location
    data = list((tmp_path / "elsewhere-wh").rglob("*.parquet"))
    assert data, "the append wrote its Parquet file under the configured warehouse"
    assert not (home / "warehouse").exists() and not (home / "catalog.db").exists()

    # A fresh catalog reads it back from the environment variable alone (JSON text) ...
    monkeypatch.setenv("CODECORPUS_CATALOG_PROPERTIES", json.dumps(properties))
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path / "other-home"))
    reader = Catalog(Settings())
    assert reader.datasets() == ["ds"]
    got = reader.table("ds", "things").scan().to_arrow().sort_by("file_id")
    assert got.to_pylist() == ROWS.sort_by("file_id").to_pylist()

    # ... and from a YAML file named by it; the default catalog of a home does not see it.
    (tmp_path / "catalog.yaml").write_text("".join(f"{k}: {v}\n" for k, v in properties.items()))
    monkeypatch.setenv("CODECORPUS_CATALOG_PROPERTIES", str(tmp_path / "catalog.yaml"))
    from_file = Catalog(Settings())
    assert from_file.table("ds", "things").scan().to_arrow().num_rows == 3
    assert Catalog(Settings(home=tmp_path / "third", catalog_properties=None)).datasets() == []


def test_sql_catalog_type_inferred_and_warehouse_defaulted(tmp_path: Path) -> None:
    """No `type`: pyiceberg infers SQL from a sqlite URI; no `warehouse`: ours is used."""
    settings = Settings(
        home=tmp_path / "home",
        warehouse=(tmp_path / "wh").as_uri(),
        catalog_properties=f"uri: sqlite:///{tmp_path / 'cat.db'}\n",
    )
    catalog = Catalog(settings)
    write_rows(catalog)
    assert catalog.table("ds", "things").location().startswith((tmp_path / "wh").as_uri())
    assert catalog.table("ds", "things").scan().to_arrow().num_rows == 3


def test_flat_values_become_strings(tmp_path: Path) -> None:
    settings = Settings(catalog_properties='{"type": "rest", "rest.sigv4-enabled": true, "n": 3}')
    assert settings.resolved_catalog_properties() == {
        "type": "rest", "rest.sigv4-enabled": "true", "n": "3",
    }  # fmt: skip
    assert Settings().resolved_catalog_properties() is None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("{not json", "neither a JSON nor a YAML mapping"),
        ("/no/such/catalog.yaml", "which is not a file"),
        ('["type", "sql"]', "must be a mapping"),
        ('{"type": "rest", "headers": {"a": "b"}}', "must be a string, number or boolean"),
        ('{"type": "bogus"}', "cannot open the bogus catalog"),
        ('{"uri": "ftp://host/x"}', "Could not infer the catalog type"),
        ('{"type": "rest", "uri": "http://127.0.0.1:1"}', "cannot open the rest catalog"),
        ('{"type": "sql"}', "URI missing"),
    ],
)
def test_bad_properties_say_what_to_fix(tmp_path: Path, properties: str, message: str) -> None:
    catalog = Catalog(Settings(home=tmp_path, catalog_properties=properties))
    with pytest.raises(ConfigError, match=message):
        catalog.datasets()


def test_missing_catalog_package_is_named(tmp_path: Path) -> None:
    try:
        import thrift  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyiceberg[hive] is installed here; the error path needs it missing")
    settings = Settings(home=tmp_path, catalog_properties={"type": "hive", "uri": "thrift://h:9"})
    with pytest.raises(ConfigError, match=r"pip install 'pyiceberg\[hive\]'"):
        Catalog(settings).datasets()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_curate_through_load_catalog_matches_default(sample_corpus, tmp_path: Path) -> None:
    """Ingest, curate and publish v1 with the catalog opened by `load_catalog`: the same
    decisions and stats as on the default SqlCatalog."""
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout
    from corpus.store.versions import Registry, scan_version

    root, _ = sample_corpus
    (tmp_path / "elsewhere").mkdir()
    results = []
    for properties in (sql_properties(tmp_path), None):
        home = tmp_path / ("props" if properties else "default")
        catalog = Catalog(Settings(home=home, catalog_properties=properties))
        ingest([str(root)], "ds", catalog, layout=Layout.REPOS, ingest_id="same")
        version = curate("ds", "v1", catalog).version
        assert [v.name for v in Registry(catalog, "ds").list()] == ["v1"]
        decisions = scan_version(catalog, "ds", version).to_arrow().sort_by("file_id")
        results.append((decisions, version.stats))
    assert results[0][0].num_rows > 0
    assert results[0][0].equals(results[1][0])
    assert results[0][1] == results[1][1]
    decisions_files = (tmp_path / "elsewhere-wh").rglob("decisions/data/**/*.parquet")
    assert list(decisions_files), "the configured warehouse holds the tables"
