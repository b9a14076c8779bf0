"""Intake rules: every unusable file stays a row with a recorded reason."""

import codecs
import os
import random
from pathlib import Path

import pyarrow as pa
import pytest

from corpus.core.reasons import DropReason
from corpus.core.stage import StageChain
from corpus.language import LanguageStage
from corpus.pipeline.config import CurationConfig
from corpus.sources import Unit, UnitKind, read_unit
from corpus.sources.config import IntakeConfig
from corpus.sources.intake import IntakeStage, decode


def test_decode_rules() -> None:
    assert decode(b"", 8000)[2] == DropReason.INTAKE_EMPTY
    assert decode(b"\x7fELF\x02\x01\x01\x00rest", 8000)[2] == DropReason.INTAKE_BINARY
    assert decode("héllo wörld\n".encode(), 8000) == ("héllo wörld\n", "utf-8", None)
    utf16 = codecs.BOM_UTF16_LE + "def f():\n    return 1\n".encode("utf-16-le")
    assert decode(utf16, 8000) == ("def f():\n    return 1\n", "utf-16", None)
    # Legacy 8-bit text is not UTF-8: a detector picks a single-byte code page that decodes
    # it losslessly (which one is a guess for short text; the bytes are kept exact).
    legacy = "# Données élémentaires: café, thé, crème brûlée.\n".encode("latin-1") * 4
    text, encoding, reason = decode(legacy, 8000)
    assert reason is None and encoding not in (None, "utf-8")
    assert text.encode(encoding) == legacy and "Donn" in text
    # bytes that are no text in any encoding (no NUL, so not caught as binary)
    rng = random.Random(0)
    noise = bytes(rng.randrange(1, 256) for _ in range(4096))
    assert decode(noise, 8000) == (None, None, DropReason.INTAKE_UNDECODABLE)
    # NUL beyond the sniff window does not make a file binary
    assert decode(b"a" * 100 + b"\0", 50)[2] is None


def _read_repo(root: Path, intake: IntakeConfig | None = None) -> pa.Table:
    config = CurationConfig(intake=intake or IntakeConfig())
    chain = StageChain([LanguageStage, IntakeStage], config)
    unit = Unit(UnitKind.REPO, str(root), root.name)
    batches = [chain(b) for b in read_unit(unit, config.intake, batch_rows=4)]
    return pa.concat_tables(batches) if batches else pa.table({})


def _reasons(table: pa.Table) -> dict[str, str | None]:
    return dict(zip(table["path"].to_pylist(), table["drop_reason"].to_pylist(), strict=True))


def test_each_intake_reason_on_a_real_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    real_source = Path(pytest.__file__).read_bytes()
    (repo / "src" / "ok.py").write_bytes(real_source)
    (repo / "empty.py").write_bytes(b"")
    shared_object = next(Path(pa.__file__).parent.glob("*.so"))  # a real compiled extension
    (repo / "lib.so").write_bytes(shared_object.read_bytes()[:65536])
    (repo / "bad.txt").write_bytes(bytes(range(0x80, 0x100)) * 3 + b"\xff\xfe\xfd")
    (repo / "link.py").symlink_to(repo / "src" / "ok.py")
    (repo / "loop").symlink_to(repo)  # a symlink loop must not be followed
    os.mkfifo(repo / "pipe")
    table = _read_repo(repo)
    reasons = _reasons(table)
    assert reasons["src/ok.py"] is None
    assert reasons["empty.py"] == DropReason.INTAKE_EMPTY
    assert reasons["lib.so"] == DropReason.INTAKE_BINARY
    assert reasons["link.py"] == DropReason.INTAKE_SYMLINK
    assert reasons["loop"] == DropReason.INTAKE_SYMLINK
    assert reasons["pipe"] == DropReason.INTAKE_UNREADABLE
    assert reasons["bad.txt"] == DropReason.INTAKE_UNDECODABLE
    assert len(table) == 7  # every entry is a row: nothing silently lost
    ok = table.filter(pa.compute.equal(table["path"], "src/ok.py")).to_pylist()[0]
    assert ok["content"].encode() == real_source and ok["lang"] == "Python"
    assert ok["size"] == len(real_source)
    dropped = table.filter(pa.compute.is_valid(table["drop_reason"]))
    assert dropped["content"].null_count == len(dropped)


def test_size_cap(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "small.py").write_text("x = 1\n")
    (repo / "huge.py").write_text("x = 1\n" * 1000)
    reasons = _reasons(_read_repo(repo, IntakeConfig(max_file_bytes=100)))
    assert reasons == {"huge.py": DropReason.INTAKE_TOO_LARGE, "small.py": None}


def test_gzip_files_are_not_transparently_decompressed(tmp_path: Path) -> None:
    import gzip

    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "data.json.gz").write_bytes(gzip.compress(b'{"a": 1}' * 100))
    row = _read_repo(repo).to_pylist()[0]
    assert row["drop_reason"] == DropReason.INTAKE_BINARY
    assert row["size"] == (repo / "data.json.gz").stat().st_size


def test_invalid_config_names_the_field() -> None:
    from corpus.core.errors import ConfigError

    with pytest.raises(ConfigError, match="max_file_bytes"):
        IntakeConfig(max_file_bytes=0)
    with pytest.raises(ConfigError, match="unknown field"):
        CurationConfig.from_dict({"intake": {"max_bytes": 1}})
    assert CurationConfig().fingerprint() == CurationConfig.from_dict({}).fingerprint()
    changed = CurationConfig.from_dict({"intake": {"max_file_bytes": 5}})
    assert changed.fingerprint() != CurationConfig().fingerprint()
