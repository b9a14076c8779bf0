"""`codecorpus gc`: old snapshots and files nothing reads go; named versions stay readable
byte for byte; runs in progress are left alone."""

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyiceberg.expressions import EqualTo
from pyiceberg.table.update.snapshot import ManageSnapshots
from typer.testing import CliRunner

from corpus.cli.gc import parse_duration
from corpus.cli.main import app
from corpus.core.errors import ConfigError, DatasetNotFound
from corpus.core.schema import RAW_SCHEMA, decisions_schema
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import DECISIONS, FILES, MINHASH, RAW, SHARDS, Catalog
from corpus.store.gc import gc
from corpus.store.gc_files import referenced_paths, stored_files
from corpus.store.locks import publish_lock
from corpus.store.versions import Registry, Version, scan_version
from tests.corpus.publish_checks import decisions, pg_settings, run_folders

LATER = datetime.now(UTC) + timedelta(hours=3)  # "now" for gc: everything made here is old
CONFIGS = {
    "v1": {"tokenizer": {"vocab_size": 3000}},
    "v2": {"dedup": {"near": False}, "tokenizer": {"vocab_size": 3000}},
}


class Crash(RuntimeError):
    pass


def _crash_after(step: str):
    def on_step(name: str, result: dict) -> None:
        if name == step:
            raise Crash(step)

    return on_step


def _content(catalog: Catalog, version: Version) -> dict:
    """Everything a reader gets from a version: decisions, kept files, shards and their bytes."""
    kept = scan_version(catalog, "ds", version, FILES).to_arrow()
    shards = catalog.table("ds", SHARDS).scan(row_filter=EqualTo("version", version.name))
    rows = sorted(shards.to_arrow().drop_columns(["version"]).to_pylist(), key=str)
    for row in rows:  # the shard files themselves, checked against the manifest
        data = Path(row["prefix"].removeprefix("file://") + ".bin").read_bytes()
        row["bin_ok"] = hashlib.sha256(data).hexdigest() == row["bin_sha256"]
    return {
        "decisions": decisions(catalog, "ds", version),
        "files": kept.select(["file_id", "content_sha256"]).sort_by("file_id"),
        "shards": rows,
        "tokens": version.stats["tokens_by_language"],
    }


def _snapshots(catalog: Catalog) -> dict[str, set[int]]:
    names = (RAW, DECISIONS, FILES, MINHASH, SHARDS, "versions")
    return {n: {s.snapshot_id for s in catalog.table("ds", n).snapshots()} for n in names}


@pytest.fixture(scope="module")
def garbage(sample_corpus, tmp_path_factory, ray_local) -> tuple[Catalog, dict[str, dict]]:
    """On PostgreSQL: versions v1 and v2, an attempt at v3 that died after committing every
    table (rows, tags, a run folder), one at v4 that died after writing its files."""
    from tests.corpus.conftest import ADMIN_DSN

    psycopg2 = pytest.importorskip("psycopg2")
    root, _ = sample_corpus
    name = f"codecorpus_test_gc_{os.getpid()}_{int(time.time())}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        uri = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        catalog = Catalog(pg_settings(tmp_path_factory.mktemp("gc"), uri))
        ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
        ingest([str(root)], "ds", catalog, layout=Layout.REPOS)  # nothing new: no snapshot
        for version, config in CONFIGS.items():
            curate("ds", version, catalog, CurationConfig.from_dict(config))
        config = CurationConfig.from_dict(CONFIGS["v1"])
        for version, step in (("v3", "committed"), ("v4", "finish")):
            with pytest.raises(Crash):
                curate("ds", version, catalog, config, on_step=_crash_after(step))
        registry = Registry(catalog, "ds")
        before = {v: _content(catalog, registry.get(v)) for v in CONFIGS}
        yield catalog, before
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_gc_keeps_named_versions_and_removes_the_rest(garbage) -> None:
    catalog, before = garbage
    settings = catalog.settings
    wh = Path(settings.resolved_warehouse().removeprefix("file://"))
    # a version's snapshots stay even without its tag: the registry row is what counts
    catalog.commit("ds", DECISIONS, lambda _, tx: ManageSnapshots(tx).remove_tag("v1").commit())
    snapshots = _snapshots(catalog)
    assert len(run_folders(settings, "ds")) == 2  # the dead attempts at v3 and v4
    assert "v3" in catalog.table("ds", DECISIONS).metadata.refs
    assert any((wh / "ds" / "decisions" / "data" / "version=v4").glob("*.parquet"))

    untouched = gc(catalog, "ds")  # defaults: only what is older than a week
    assert (untouched.snapshots, untouched.files, untouched.run_folders) == ({}, [], [])
    planned = gc(catalog, "ds", timedelta(hours=1), dry_run=True, now=LATER)
    assert _snapshots(catalog) == snapshots and len(run_folders(settings, "ds")) == 2
    assert planned.snapshots and planned.files and len(planned.run_folders) == 2
    assert planned.abandoned[DECISIONS] == ["v3"]

    started = datetime.now(UTC)
    done = gc(catalog, "ds", timedelta(hours=1), now=LATER)
    assert done.snapshots == planned.snapshots
    assert set(done.files) - set(planned.files) == set(), "the dry run listed every file"
    assert set(planned.files) - set(done.files) == set(), "the dry run listed only those"
    registry = Registry(catalog, "ds")
    for name, content in before.items():  # named versions read back identically
        after = _content(catalog, registry.get(name))
        assert after["decisions"].equals(content["decisions"]), name
        assert after["files"].equals(content["files"]), name
        assert after["shards"] == content["shards"] and all(r["bin_ok"] for r in after["shards"])
        assert after["tokens"] == content["tokens"]
    versions = registry.list()
    left = _snapshots(catalog)
    assert left[DECISIONS] - {v.decisions_snapshot_id for v in versions} == {
        catalog.table("ds", DECISIONS).current_snapshot().snapshot_id
    }  # only the versions' snapshots and the current one
    assert left[RAW] == {versions[0].raw_snapshot_id}
    assert len(left["versions"]) == 1
    left_over = []
    for table in (DECISIONS, FILES, MINHASH, SHARDS):  # the dead attempts left nothing
        iceberg = catalog.table("ds", table)
        assert not {"v3", "v4"} & set(iceberg.metadata.refs), table
        assert iceberg.scan(row_filter=EqualTo("version", "v3")).to_arrow().num_rows == 0
        assert not list((wh / "ds" / table / "data").glob("version=v[34]/**/*.*")), table
        needed = referenced_paths(iceberg)  # every stored file is read by a snapshot, but
        left = [f for f in stored_files(iceberg.location()) if f.path not in needed]
        assert all(f.mtime >= started and f.path.endswith(".metadata.json") for f in left)
        left_over += left
        # the metadata files of gc's own commits (younger than an hour in real time)
    assert run_folders(settings, "ds") == []

    again = gc(catalog, "ds", timedelta(hours=1), now=LATER)  # only the first gc's leftovers
    assert (again.snapshots, again.abandoned, again.run_folders) == ({}, {}, [])
    assert sorted(again.files) == sorted(f.path for f in left_over)


def _old(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - 3 * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_gc_leaves_a_run_in_progress_alone(tmp_path: Path) -> None:
    catalog = Catalog(Settings(home=tmp_path))
    catalog.ensure_table("ds", RAW, RAW_SCHEMA)
    table = catalog.ensure_table("ds", DECISIONS, decisions_schema(), "version")
    data = Path(table.location().removeprefix("file://")) / "data"
    busy = _old(data / "version=v9" / "v9-00000-0000.parquet")
    orphan = _old(data / "version=v8" / "v8-00000-0000.parquet")
    fresh = data / "version=v7" / "v7-00000-0000.parquet"  # written within the hour
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"y")
    runs = tmp_path / "warehouse" / "_runs" / "ds"
    checkpoint = _old(runs / "v9-0123456789abcdef" / "steps" / "stages" / "_SUCCESS.json")
    abandoned = _old(runs / "v8-0123456789abcdef" / "steps" / "stages" / "_SUCCESS.json")
    with publish_lock(catalog.settings, "ds", "v9"):  # a run publishing v9 right now
        report = gc(catalog, "ds", timedelta(0))
    assert busy.exists() and checkpoint.exists() and fresh.exists()
    assert not orphan.exists() and not abandoned.exists()
    assert [Path(f).name for f in report.files] == [orphan.name]


def test_gc_refuses_bad_input(tmp_path: Path) -> None:
    catalog = Catalog(Settings(home=tmp_path))
    with pytest.raises(DatasetNotFound, match="'nope' does not exist"):
        gc(catalog, "nope")
    catalog.ensure_table("ds", RAW, RAW_SCHEMA)
    with pytest.raises(ConfigError, match="--retain-last"):
        gc(catalog, "ds", retain_last=0)
    with pytest.raises(ConfigError, match="--older-than"):
        gc(catalog, "ds", timedelta(days=-1))
    assert parse_duration("7d") == timedelta(days=7) and parse_duration("30m").seconds == 1800
    with pytest.raises(ConfigError, match="duration like 7d"):
        parse_duration("soon")


def test_gc_command_dry_run_lists_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path))
    catalog = Catalog(Settings(home=tmp_path))
    catalog.ensure_table("ds", RAW, RAW_SCHEMA)
    table = catalog.ensure_table("ds", DECISIONS, decisions_schema(), "version")
    orphan = _old(
        Path(table.location().removeprefix("file://")) / "data" / "version=v8" / "a.parquet"
    )
    result = CliRunner().invoke(app, ["gc", "ds", "--older-than", "1d", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would remove" in result.output and orphan.name in result.output
    assert orphan.exists()
    result = CliRunner().invoke(app, ["gc", "ds", "--older-than", "1d"])
    assert result.exit_code == 0 and not orphan.exists()
    result = CliRunner().invoke(app, ["gc", "ds", "--older-than", "soon"])
    assert result.exit_code != 0
