"""Each source kind, discovery errors and safe archive reading, on real files."""

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.core.errors import SourceError
from corpus.core.reasons import DropReason
from corpus.sources import Layout, UnitKind, discover, read_unit
from corpus.sources.archive import safe_member_path
from corpus.sources.config import IntakeConfig

IDNA = Path(__import__("idna").__file__).parent  # a real package with real sources


def _rows(unit, intake: IntakeConfig | None = None) -> list[dict]:
    batches = list(read_unit(unit, intake or IntakeConfig(), batch_rows=3))
    return pa.concat_tables(batches).to_pylist() if batches else []


def test_folder_of_repos_and_loose_files(tmp_path: Path) -> None:
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "a.py").write_text("print('a')\n")
    (tmp_path / "beta" / ".git").mkdir(parents=True)
    (tmp_path / "beta" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "beta" / "b.py").write_text("print('b')\n")
    (tmp_path / "NOTES.md").write_text("# loose\n")
    units = discover(str(tmp_path))
    assert [(u.kind, u.repo) for u in units] == [
        (UnitKind.REPO, "alpha"), (UnitKind.REPO, "beta"), (UnitKind.LOOSE_FILES, tmp_path.name),
    ]  # fmt: skip
    beta = _rows(units[1])
    assert [r["path"] for r in beta] == ["b.py"]  # VCS internals are not repository files
    loose = _rows(units[2])
    assert [(r["repo"], r["path"]) for r in loose] == [(tmp_path.name, "NOTES.md")]


def test_single_repo_layouts(tmp_path: Path) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    (tmp_path / "proj" / "x.py").write_text("x = 1\n")
    assert [u.kind for u in discover(str(tmp_path / "proj"))] == [UnitKind.REPO]
    units = discover(str(IDNA), Layout.REPO)
    rows = _rows(units[0])
    assert {r["path"] for r in rows} >= {"__init__.py", "core.py", "idnadata.py"}
    assert all(r["repo"] == "idna" for r in rows)
    # file:// URIs go through the same pyarrow filesystem layer
    uri_rows = _rows(discover(IDNA.as_uri(), Layout.REPO)[0])
    assert sorted(r["path"] for r in uri_rows) == sorted(r["path"] for r in rows)


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


def test_tar_archive_is_read_safely(tmp_path: Path) -> None:
    core = (IDNA / "core.py").read_bytes()
    archive = tmp_path / "idna-3.0.tar.gz"
    _tar(
        archive,
        {"idna-3.0/idna/core.py": core, "idna-3.0/../../etc/evil.sh": b"rm -rf /\n",
         "/abs/path.py": b"x = 1\n", "idna-3.0/big.bin": b"z" * 40_000},
        links={"idna-3.0/escape": "../../../../etc/passwd"},
    )  # fmt: skip
    (unit,) = discover(str(archive))
    assert unit.kind == UnitKind.ARCHIVE
    rows = {r["path"]: r for r in _rows(unit, IntakeConfig(max_file_bytes=32_768))}
    # the safe members share one root folder, which is stripped; unsafe names stay as given
    assert rows["idna/core.py"]["data"] == core
    assert rows["idna-3.0/../../etc/evil.sh"]["pre_reason"] == DropReason.INTAKE_UNSAFE_PATH
    assert rows["/abs/path.py"]["pre_reason"] == DropReason.INTAKE_UNSAFE_PATH
    assert rows["escape"]["pre_reason"] == DropReason.INTAKE_SYMLINK
    assert rows["big.bin"]["pre_reason"] == DropReason.INTAKE_TOO_LARGE
    assert all(r["repo"] == "idna-3.0" for r in rows.values())
    assert not (tmp_path / "etc").exists()


def test_archive_common_root_is_stripped_and_caps_apply(tmp_path: Path) -> None:
    files = {f"pkg-1.0/idna/{p.name}": p.read_bytes() for p in sorted(IDNA.glob("*.py"))}
    archive = tmp_path / "pkg-1.0.tar.gz"
    _tar(archive, files)
    rows = _rows(discover(str(archive))[0])
    assert sorted(r["path"] for r in rows) == sorted(f"idna/{p.name}" for p in IDNA.glob("*.py"))
    capped = _rows(discover(str(archive))[0], IntakeConfig(max_archive_members=2))
    reasons = [r["pre_reason"] for r in capped]
    assert reasons.count(None) == 2
    assert reasons.count(DropReason.INTAKE_ARCHIVE_LIMIT) == len(files) - 2


def test_zip_archive(tmp_path: Path) -> None:
    archive = tmp_path / "repo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("repo-main/idna/core.py", (IDNA / "core.py").read_bytes())
        zf.writestr("repo-main/../evil.py", b"x")
        zf.writestr("repo-main/README.md", b"# hi\n")
    rows = {r["path"]: r for r in _rows(discover(str(archive))[0])}
    assert rows["repo-main/../evil.py"]["pre_reason"] == DropReason.INTAKE_UNSAFE_PATH
    assert rows["idna/core.py"]["pre_reason"] is None
    assert rows["README.md"]["data"] == b"# hi\n"


def test_corrupt_archive_raises_source_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 this is not gzip")
    with pytest.raises(SourceError, match="not a readable archive"):
        _rows(discover(str(bad))[0])


def test_safe_member_path() -> None:
    assert safe_member_path("./a/b.py") == "a/b.py"
    assert safe_member_path("a/../../b") is None
    assert safe_member_path("/etc/passwd") is None
    assert safe_member_path("C:/x") is None
    assert safe_member_path("a\\..\\b") is None


STACK_V1 = {  # The Stack v1 column names
    "content": ["def f():\n    return 1\n", "", None],
    "max_stars_repo_path": ["src/f.py", "empty.py", "gone.py"],
    "max_stars_repo_name": ["octo/cat", "octo/cat", "octo/dog"],
    "max_stars_count": [12, 12, None],
    "max_stars_repo_licenses": [["MIT"], ["MIT"], ["Apache-2.0"]],
    "max_stars_repo_stars_event_min_datetime": ["2021-03-04T05:06:07.000Z", "garbage", None],
}


def test_stack_v1_parquet(tmp_path: Path) -> None:
    path = tmp_path / "stack.parquet"
    pq.write_table(pa.table(STACK_V1), path)
    (unit,) = discover(str(path))
    rows = _rows(unit)
    assert [(r["repo"], r["path"]) for r in rows] == [
        ("octo/cat", "src/f.py"), ("octo/cat", "empty.py"), ("octo/dog", "gone.py"),
    ]  # fmt: skip
    assert rows[0]["data"] == b"def f():\n    return 1\n" and rows[0]["stars"] == 12
    assert rows[0]["source_licenses"] == ["MIT"]
    assert rows[0]["revision_date"].year == 2021 and rows[1]["revision_date"] is None
    assert rows[2]["pre_reason"] == DropReason.INTAKE_UNREADABLE  # content missing at source
    assert rows[1]["size"] == 0


def test_stack_v2_jsonl_and_column_override(tmp_path: Path) -> None:
    path = tmp_path / "v2.jsonl"
    records = [
        {
            "text": "package main\n",
            "path": "main.go",
            "repo_name": "a/b",
            "detected_licenses": ["MIT", "Apache-2.0"],
            "star_events_count": 3,
            "fork_events_count": 1,
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    rows = _rows(discover(str(path))[0])
    assert rows[0]["data"] == b"package main\n" and rows[0]["forks"] == 1
    assert rows[0]["source_licenses"] == ["MIT", "Apache-2.0"]
    with pytest.raises(SourceError, match="not in the source"):
        discover(str(path), columns={"content": "body"})


def test_bad_sources_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        discover(str(tmp_path / "missing"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match="must be an archive"):
        discover(str(tmp_path / "notes.txt"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="not a readable table"):
        discover(str(bad))
    nocontent = tmp_path / "nocontent.parquet"
    pq.write_table(pa.table({"path": ["a"], "repo_name": ["r"]}), nocontent)
    with pytest.raises(SourceError, match=r"lacks column\(s\) for \['content'\]"):
        discover(str(nocontent))
