"""Ingest and curate on Ray end to end: accounting, re-ingest, determinism, versions."""

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpus.core.cluster import RunnerConfig
from corpus.core.errors import VersionExists, VersionNotFound
from corpus.core.reasons import DropReason
from corpus.core.settings import Settings
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import RAW, Catalog
from corpus.store.versions import Registry, scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


def _files_on_disk(root: Path) -> int:
    count = 0
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        count += len(files)
    return count


def _raw(catalog: Catalog, dataset: str = "ds") -> pa.Table:
    return catalog.table(dataset, RAW).scan().to_arrow().sort_by("file_id")


def test_accounting_invariant_and_reingest(sample_corpus, catalog: Catalog) -> None:
    root, repos = sample_corpus
    report = ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    on_disk = _files_on_disk(root)
    raw = _raw(catalog)
    assert report.summary.seen == on_disk == raw.num_rows == sum(r.files for r in repos)
    assert set(raw["repo"].to_pylist()) == {r.name for r in repos}
    reasons = set(raw["drop_reason"].drop_null().to_pylist())
    assert reasons <= {r.value for r in DropReason}
    assert DropReason.INTAKE_BINARY in reasons  # compiled extensions of the sample
    kept = pc.is_null(raw["drop_reason"])
    assert pc.all(pc.equal(kept, pc.is_valid(raw["content"]))).as_py()
    assert len(set(raw["file_id"].to_pylist())) == raw.num_rows
    snapshots = len(catalog.table("ds", RAW).snapshots())

    again = ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    assert again.added == 0 and again.summary.skipped == on_disk and again.snapshot_id is None
    assert _raw(catalog).num_rows == raw.num_rows
    assert len(catalog.table("ds", RAW).snapshots()) == snapshots


def test_changed_file_is_superseded_at_curation(tmp_path: Path, catalog: Catalog) -> None:
    repo = tmp_path / "corpus" / "proj"
    repo.mkdir(parents=True)
    source = Path(pytest.__file__).read_text()
    (repo / "a.py").write_text(source)
    (repo / "b.py").write_text("print('b')\n")
    ingest([str(tmp_path / "corpus")], "ds", catalog)
    (repo / "a.py").write_text(source + "\n# edited\n")
    second = ingest([str(tmp_path / "corpus")], "ds", catalog)
    assert second.added == 1 and second.summary.skipped == 1
    assert _raw(catalog).num_rows == 3  # raw keeps history
    result = curate("ds", "v1", catalog)
    assert _hashes(catalog, result.version) == {
        "a.py": _sha(source + "\n# edited\n"),
        "b.py": _sha("print('b')\n"),
    }
    # reverting the file to its first content is a change too, and wins again
    (repo / "a.py").write_text(source)
    assert ingest([str(tmp_path / "corpus")], "ds", catalog).added == 1
    v2 = curate("ds", "v2", catalog).version
    assert _hashes(catalog, v2) == {"a.py": _sha(source), "b.py": _sha("print('b')\n")}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hashes(catalog: Catalog, version) -> dict[str, str]:
    """path -> content hash of every file of a version (kept or not)."""
    rows = scan_version(catalog, "ds", version).to_arrow()
    return dict(zip(rows["path"].to_pylist(), rows["content_sha256"].to_pylist(), strict=True))


def _publish(
    home: Path, root: Path, workers: int, engine: str = "tasks"
) -> tuple[pa.Table, pa.Table, dict]:
    catalog = Catalog(Settings(home=home))
    # batch size and engine must not matter either
    runner = RunnerConfig(workers=workers, batch_rows=7 * workers, engine=engine)
    ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS, ingest_id="fixed")
    version = curate("ds", "v1", catalog, runner=runner).version
    decisions = scan_version(catalog, "ds", version).to_arrow().sort_by("file_id")
    files = scan_version(catalog, "ds", version, "files").to_arrow().sort_by("file_id")
    return decisions, files, version.stats


def test_one_and_two_workers_and_both_engines_give_identical_versions(
    sample_corpus, tmp_path: Path
) -> None:
    root, _ = sample_corpus
    one = _publish(tmp_path / "one", root, workers=1)
    two = _publish(tmp_path / "two", root, workers=2, engine="data")
    assert one[0].equals(two[0])
    assert one[1].equals(two[1])
    assert one[2] == two[2]


def test_version_stats_match_tables_and_names_are_immutable(sample_corpus, catalog) -> None:
    root, _ = sample_corpus
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    version = curate("ds", "v1", catalog).version
    decisions = scan_version(catalog, "ds", version).to_arrow()
    files = scan_version(catalog, "ds", version, "files").to_arrow()
    assert version.stats["files"] == decisions.num_rows == _raw(catalog).num_rows
    assert version.stats["kept_files"] == files.num_rows
    assert version.stats["kept_bytes"] == pc.sum(files["size"]).as_py()
    dropped = {r: v["files"] for r, v in version.stats["drop_reasons"].items()}
    counted = decisions.filter(pc.is_valid(decisions["drop_reason"]))
    assert sum(dropped.values()) == counted.num_rows
    assert "content" not in decisions.column_names
    assert (
        version.lineage["raw_snapshot_id"]
        == catalog.table("ds", RAW).current_snapshot().snapshot_id
    )
    assert len(version.config_fingerprint) == 64
    with pytest.raises(VersionExists):
        curate("ds", "v1", catalog)
    with pytest.raises(VersionNotFound, match="versions: v1"):
        Registry(catalog, "ds").get("v9")


def test_crash_before_registration_leaves_no_version(tmp_path: Path, catalog, monkeypatch) -> None:
    repo = tmp_path / "c" / "r"
    repo.mkdir(parents=True)
    (repo / "x.py").write_text("x = 1\n")
    (repo / "y.py").write_text("y = 2\n")
    ingest([str(tmp_path / "c")], "ds", catalog)

    def crash(self, version) -> None:
        raise RuntimeError("killed before the registry commit")

    monkeypatch.setattr(Registry, "register", crash)
    with pytest.raises(RuntimeError):
        curate("ds", "v1", catalog)
    monkeypatch.undo()
    assert Registry(catalog, "ds").list() == []
    version = curate("ds", "v1", catalog).version  # the rerun replaces the orphaned rows
    assert scan_version(catalog, "ds", version).to_arrow().num_rows == 2
    assert [v.name for v in Registry(catalog, "ds").list()] == ["v1"]
