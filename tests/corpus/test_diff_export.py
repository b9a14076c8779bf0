"""Diff of two real versions against an independent count, and export round trips."""

import hashlib
import json
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.expressions import In
from typer.testing import CliRunner

from corpus.cli.main import app
from corpus.core.cluster import RunnerConfig
from corpus.core.errors import DatasetNotFound, VersionNotFound
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import FILES, RAW, Catalog
from corpus.store.diff import diff_versions
from corpus.store.export import ExportLimits, OutputNotEmpty, UnknownLanguage, export_version
from corpus.store.versions import Registry, scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

V1 = {"tokenizer": {"vocab_size": 3000}}
#: v2: another preset, a stricter line-length limit (kept -> dropped) and every language
#: selected (language:not_selected -> kept).
V2 = {
    "tokenizer": {"vocab_size": 3000},
    "heuristics": {
        "preset": "starcoder",
        "thresholds": {"max_line_length": 100},
        "languages": None,
    },
}


@pytest.fixture(scope="module")
def versions(sample_corpus, tmp_path_factory) -> dict:
    """v1 of the sample corpus; then files edited, files deleted (and retracted from raw:
    ingest is append-only), a repository copied; re-ingested and curated as v2."""
    source, _ = sample_corpus
    root = tmp_path_factory.mktemp("diff") / "repos"
    shutil.copytree(source, root, symlinks=True)  # the session's corpus stays untouched
    home = root.parent / "home"
    catalog = Catalog(Settings(home=home))
    runner = RunnerConfig(workers=2)
    ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS)
    curate("ds", "v1", catalog, CurationConfig.from_dict(V1), runner)

    python = sorted(p for p in root.rglob("*.py") if p.stat().st_size > 200)
    edited, deleted = python[:4], python[4:7]
    for path in edited:
        path.write_text(path.read_text() + "\n# edited for v2\n")
    for path in deleted:
        path.unlink()
    copied = sorted(d for d in root.iterdir() if d.is_dir())[0]
    shutil.copytree(copied, root / f"{copied.name}-fork", symlinks=True)
    ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS)
    raw_ids = {(r, p): i for r, p, i in _columns(catalog.table("ds", RAW).scan(), "repo", "path",
                                                 "file_id")}  # fmt: skip
    retracted = sorted({raw_ids[_repo_path(root, p)] for p in deleted})
    catalog.commit("ds", RAW, lambda table, tx: tx.delete(In("file_id", retracted)))
    curate("ds", "v2", catalog, CurationConfig.from_dict(V2), runner)
    return {
        "catalog": catalog,
        "home": home,
        "edited": {raw_ids[_repo_path(root, p)] for p in edited},
        "retracted": set(retracted),
        "fork": f"{copied.name}-fork",
    }


def _repo_path(root: Path, path: Path) -> tuple[str, str]:
    relative = path.relative_to(root)
    return relative.parts[0], "/".join(relative.parts[1:])


def _columns(scan, *names: str) -> list[tuple]:
    table = scan.select(*names).to_arrow()
    return list(zip(*(table.column(n).to_pylist() for n in names), strict=True))


def _decisions(catalog: Catalog, name: str) -> dict[str, dict]:
    version = Registry(catalog, "ds").get(name)
    table = scan_version(catalog, "ds", version).to_arrow()
    return {row["file_id"]: row for row in table.to_pylist()}


def _files(catalog: Catalog, name: str) -> pa.Table:
    version = Registry(catalog, "ds").get(name)
    return scan_version(catalog, "ds", version, FILES).to_arrow().sort_by("file_id")


def _lang(row: dict) -> str:
    return row["lang"] or "unknown"


def test_diff_matches_an_independent_count(versions: dict) -> None:
    catalog = versions["catalog"]
    a, b = _decisions(catalog, "v1"), _decisions(catalog, "v2")
    diff = diff_versions(catalog, "ds", "v1", "v2")
    json.dumps(diff, allow_nan=False)  # JSON-ready as the API returns it

    added, removed = b.keys() - a.keys(), a.keys() - b.keys()
    common = a.keys() & b.keys()
    changed = {i for i in common if a[i]["content_sha256"] != b[i]["content_sha256"]}
    assert removed == versions["retracted"]
    assert versions["edited"] <= changed
    assert {b[i]["repo"] for i in added} == {versions["fork"]}
    expected = {"added": added, "removed": removed, "changed": changed,
                "unchanged": common - changed}  # fmt: skip
    for category, ids in expected.items():
        side = a if category == "removed" else b
        assert diff["summary"][category]["files"] == len(ids), category
        assert diff["summary"][category]["bytes"] == sum(side[i]["size"] for i in ids)
        per_lang = Counter(_lang(side[i]) for i in ids)
        got = {lang: e[category]["files"] for lang, e in diff["languages"].items()}
        assert {k: v for k, v in got.items() if v} == dict(per_lang), category
    assert diff["summary"]["changed"]["bytes_delta"] == sum(
        b[i]["size"] - a[i]["size"] for i in changed
    )
    assert diff["reasons"]["removed"] == _by_reason(a, removed)
    assert diff["reasons"]["added"] == _by_reason(b, added)

    moves = Counter()
    for i in common:
        if a[i]["drop_reason"] != b[i]["drop_reason"]:
            moves[(a[i]["drop_reason"], b[i]["drop_reason"])] += 1
    got = {(t["from"], t["to"]): t["files"] for t in diff["transitions"]}
    assert got == dict(moves)
    assert (None, "quality:max_line_length") in got  # the stricter limit
    assert ("language:not_selected", None) in got  # every language selected
    assert [t["files"] for t in diff["transitions"]] == sorted(got.values(), reverse=True)
    totals = diff["summary"]["transitions"]
    assert totals["kept_to_dropped"] == sum(n for (f, _), n in moves.items() if f is None)
    assert totals["dropped_to_kept"] == sum(n for (_, t), n in moves.items() if t is None)

    for side, rows, name in (("a", a, "v1"), ("b", b, "v2")):
        stats = Registry(catalog, "ds").get(name).stats
        kept = [r for r in rows.values() if r["drop_reason"] is None]
        assert diff["summary"]["kept"][side] == {
            "files": len(kept), "bytes": sum(r["size"] for r in kept),
            "tokens": sum(r["tokens"] for r in kept),
        }  # fmt: skip
        for lang, entry in stats["languages"].items():
            assert entry["files"] == diff["languages"][lang]["kept"][side]["files"]
            assert entry["bytes"] == diff["languages"][lang]["kept"][side]["bytes"]
            assert entry["tokens"] == diff["languages"][lang]["kept"][side]["tokens"]
    for entry in diff["languages"].values():
        kept = entry["kept"]
        assert kept["delta"] == {k: kept["b"][k] - kept["a"][k] for k in kept["a"]}
    assert diff["lineage"]["config_fingerprint"]["changed"]
    assert diff["lineage"]["raw_snapshot_id"]["changed"]
    assert not diff["identical"]


def _by_reason(rows: dict[str, dict], ids: set[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for i in ids:
        entry = out.setdefault(rows[i]["drop_reason"] or "kept", {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += rows[i]["size"]
    return dict(sorted(out.items()))


def test_diff_of_a_version_with_itself_is_empty(versions: dict) -> None:
    diff = diff_versions(versions["catalog"], "ds", "v2", "v2")
    assert diff["identical"] and diff["transitions"] == []
    summary = diff["summary"]
    assert all(summary[c]["files"] == 0 for c in ("added", "removed", "changed"))
    assert summary["unchanged"]["files"] == diff["b"]["files"]
    assert summary["kept"]["delta"] == {"files": 0, "bytes": 0, "tokens": 0}
    assert not any(entry["changed"] for entry in diff["lineage"].values())


def test_diff_of_unknown_names(versions: dict, catalog: Catalog) -> None:
    with pytest.raises(VersionNotFound, match="versions: v1, v2"):
        diff_versions(versions["catalog"], "ds", "v1", "v9")
    with pytest.raises(DatasetNotFound):
        diff_versions(catalog, "ghost", "v1", "v2")


def _parts(out: Path, manifest: dict) -> list[Path]:
    paths = [out / f["path"] for f in manifest["files"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in paths] + ["manifest.json"]
    )
    for entry, path in zip(manifest["files"], paths, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert path.stat().st_size == entry["bytes"]
    return paths


def _read_parquet(out: Path, manifest: dict) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in _parts(out, manifest)])


def test_parquet_export_round_trips_the_kept_files(versions: dict, tmp_path: Path) -> None:
    catalog = versions["catalog"]
    files = _files(catalog, "v2")
    manifest = export_version(catalog, "ds", "v2", tmp_path / "pq")
    exported = _read_parquet(tmp_path / "pq", manifest)
    assert exported.column_names == files.column_names
    assert exported.equals(files.cast(exported.schema))  # same rows, sorted by file_id
    assert manifest["rows"] == manifest["kept_rows"] == files.num_rows
    assert manifest["version"] == "v2" and manifest["sorted_by"] == "file_id"
    version = Registry(catalog, "ds").get("v2")
    assert manifest["lineage"] == version.lineage.to_dict()
    assert json.loads((tmp_path / "pq" / "manifest.json").read_text()) == manifest
    for row in exported.to_pylist():
        if row["formatter"] is None and row["encoding"] == "utf-8":
            assert hashlib.sha256(row["content"].encode()).hexdigest() == row["content_sha256"]

    # small files, sorting through spilled buckets: the same rows in the same order, and
    # the same bytes when repeated
    limits = ExportLimits(rows_per_file=25, bytes_per_file=150_000, bucket_bytes=100_000)
    small = export_version(catalog, "ds", "v2", tmp_path / "small", limits=limits)
    assert len(small["files"]) > 3
    assert all(f["rows"] <= 25 for f in small["files"])
    assert _read_parquet(tmp_path / "small", small).equals(exported)
    again = export_version(catalog, "ds", "v2", tmp_path / "again", limits=limits)
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in small["files"]]


def test_jsonl_export_round_trips_the_kept_files(versions: dict, tmp_path: Path) -> None:
    catalog = versions["catalog"]
    files = _files(catalog, "v1")
    limits = ExportLimits(rows_per_file=40, bucket_bytes=100_000)
    manifest = export_version(catalog, "ds", "v1", tmp_path, "jsonl", limits=limits)
    lines = [line for p in _parts(tmp_path, manifest) for line in p.read_text().splitlines()]
    rows = [json.loads(line) for line in lines]
    assert len(rows) == manifest["rows"] == files.num_rows
    assert [r["file_id"] for r in rows] == files["file_id"].to_pylist()
    assert [r["content"] for r in rows] == files["content"].to_pylist()
    assert set(rows[0]) == set(files.column_names)
    dates = [r["revision_date"] for r in rows if r["revision_date"] is not None]
    assert all(datetime.fromisoformat(d).tzinfo is not None for d in dates)
    assert any(not line.isascii() for line in lines) or all(
        r["content"].isascii() for r in rows
    )  # ensure_ascii=False: non-ASCII text stays as is


def test_export_by_language_and_with_dropped_files(versions: dict, tmp_path: Path) -> None:
    catalog = versions["catalog"]
    version = Registry(catalog, "ds").get("v2")
    python = export_version(catalog, "ds", "v2", tmp_path / "py", languages=["python"])
    table = _read_parquet(tmp_path / "py", python)
    assert python["languages"] == ["Python"]
    assert set(table["lang"].to_pylist()) == {"Python"}
    assert table.num_rows == version.stats["languages"]["Python"]["files"]

    everything = export_version(catalog, "ds", "v2", tmp_path / "all", include_dropped=True)
    table = _read_parquet(tmp_path / "all", everything)
    decisions = _decisions(catalog, "v2")
    assert table.num_rows == everything["rows"] == version.stats["files"] == len(decisions)
    assert table["file_id"].to_pylist() == sorted(decisions)
    kept = _files(catalog, "v2")
    assert everything["kept_rows"] == kept.num_rows
    assert table.column_names == kept.column_names
    content = dict(zip(kept["file_id"].to_pylist(), kept["content"].to_pylist(), strict=True))
    for row in table.select(["file_id", "drop_reason", "content"]).to_pylist():
        assert row["content"] == content.get(row["file_id"])  # None for dropped files
        assert (row["drop_reason"] is None) == (row["file_id"] in content)


def test_export_refuses_a_used_folder_and_unknown_languages(versions: dict, tmp_path: Path) -> None:
    catalog = versions["catalog"]
    out = tmp_path / "out"
    first = export_version(catalog, "ds", "v1", out, languages=["Markdown"])
    with pytest.raises(OutputNotEmpty, match="--overwrite"):
        export_version(catalog, "ds", "v1", out)
    replaced = export_version(catalog, "ds", "v1", out, "jsonl", overwrite=True)
    assert replaced["rows"] > first["rows"]
    assert sorted(p.suffix for p in out.iterdir()) == [".json", ".jsonl"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputNotEmpty, match=r"notes\.txt"):
        export_version(catalog, "ds", "v1", out, overwrite=True)
    assert (out / "notes.txt").exists()

    with pytest.raises(UnknownLanguage, match=r"its languages: .*Python") as error:
        export_version(catalog, "ds", "v1", tmp_path / "x", languages=["Cobol"])
    assert not (tmp_path / "x").exists()
    stats = Registry(catalog, "ds").get("v1").stats
    dropped_only = sorted(set(stats["languages_all"]) - set(stats["languages"]))
    if dropped_only:
        with pytest.raises(UnknownLanguage, match="--include-dropped"):
            export_version(catalog, "ds", "v1", tmp_path / "x", languages=[dropped_only[0]])
        whole = export_version(catalog, "ds", "v1", tmp_path / "x", languages=[dropped_only[0]],
                               include_dropped=True)  # fmt: skip
        assert whole["rows"] == stats["languages_all"][dropped_only[0]]["files"]
        assert whole["kept_rows"] == 0
    assert "Cobol" in str(error.value)


def test_cli_versions_diff_and_export(
    versions: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODECORPUS_HOME", str(versions["home"]))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    shown = runner.invoke(app, ["versions", "diff", "ds", "v1", "v2"])
    assert shown.exit_code == 0, shown.output
    for text in ("added", "kept delta", "quality:max_line_length", "Python", "config_fingerprint"):
        assert text in shown.output
    as_json = runner.invoke(app, ["versions", "diff", "ds", "v1", "v2", "--json"])
    assert json.loads(as_json.output) == diff_versions(versions["catalog"], "ds", "v1", "v2")

    out = tmp_path / "export"
    done = runner.invoke(
        app, ["export", "ds", "--version", "v1", "--format", "jsonl", "--out", str(out),
              "--lang", "Python"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "jsonl" and manifest["languages"] == ["Python"]
    assert "exported" in done.output
    refused = runner.invoke(app, ["export", "ds", "--version", "v1", "--out", str(out)])
    assert isinstance(refused.exception, OutputNotEmpty)
    help_text = runner.invoke(app, ["export", "--help"]).output
    assert "no content" in help_text
