"""corpus.core.storage and its users on a local S3 server: round trips, atomicity, the Iceberg
warehouse, the run-folder exchange, the tokenizer store, shard downloads, clear errors."""

import hashlib
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pytest

from corpus.core.errors import SourceError
from corpus.core.exchange import (
    delete_folder,
    read_marker,
    read_partition,
    write_marker,
    write_partitions,
)
from corpus.core.settings import Settings
from corpus.core.storage import (
    StorageChecksumError,
    StorageError,
    download_file,
    exists,
    filesystem_for,
    open_output,
    read_bytes,
    upload_file,
    write_bytes,
)
from corpus.sources import discover
from corpus.store.catalog import Catalog
from tests.storage.conftest import S3Server, _free_port
from tokenizer.shards import ShardReader, ShardWriter
from tokenizer.store import TokenizerStore
from trainer.data import ChecksumMismatch, MissingShardError, ShardRef, local_prefix

CODECORPUS = str(Path(sys.executable).parent / "codecorpus")
CLICK_SOURCES = sorted(Path(click.__file__).parent.glob("*.py"))


def _keys(server: S3Server, bucket: str, prefix: str) -> list[str]:
    """Objects under `prefix`, without the empty `folder/` markers pyarrow leaves behind."""
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = (o["Key"] for page in pages for o in page.get("Contents", []))
    return sorted(k for k in keys if not k.endswith("/"))


def test_bytes_round_trip_through_the_settings(s3_env: S3Server) -> None:
    data = CLICK_SOURCES[0].read_bytes()
    write_bytes("s3://scratch/round/core.py", data)
    assert read_bytes("s3://scratch/round/core.py") == data
    assert exists("s3://scratch/round/core.py") and not exists("s3://scratch/round/other.py")
    body = s3_env.client().get_object(Bucket="scratch", Key="round/core.py")["Body"].read()
    assert body == data  # what boto3 sees is what we wrote: one object, no temp names
    assert _keys(s3_env, "scratch", "round/") == ["round/core.py"]
    # explicit settings win over the environment: a wrong endpoint cannot be reached
    wrong = Settings(s3_endpoint=f"http://127.0.0.1:{_free_port()}")
    fs, path = filesystem_for("s3://scratch/round/core.py", wrong)
    assert path == "scratch/round/core.py"
    with pytest.raises(OSError):
        fs.get_file_info(path)


@pytest.mark.parametrize("where", ["s3", "local"])
def test_a_failed_write_leaves_nothing(s3_env: S3Server, tmp_path: Path, where: str) -> None:
    uri = "s3://scratch/failed/part.bin" if where == "s3" else str(tmp_path / "failed/part.bin")
    with pytest.raises(RuntimeError, match="writer died"), open_output(uri) as stream:
        stream.write(b"half a file")
        raise RuntimeError("writer died")
    assert not exists(uri)
    if where == "s3":
        assert _keys(s3_env, "scratch", "failed/") == []
    else:
        assert list((tmp_path / "failed").iterdir()) == []  # no temp file left either


def test_run_folder_exchange_on_s3(s3_env: S3Server) -> None:
    """What dedup and tokenizer steps do between tasks: partitioned Parquet, then a marker."""
    run = "s3://scratch/_runs/ds/v1-abc"
    sizes = np.array([p.stat().st_size for p in CLICK_SOURCES], np.int64)
    table = pa.table({"name": [p.name for p in CLICK_SOURCES], "size": sizes})
    parts = (sizes % 3).astype(np.int64)
    assert write_partitions(f"{run}/nodes", "task-0", table, parts, 3) == len(set(parts.tolist()))
    back = pa.concat_tables(read_partition(f"{run}/nodes", p, table.schema) for p in range(3))
    assert sorted(back["name"].to_pylist()) == sorted(table["name"].to_pylist())
    assert read_partition(f"{run}/nodes", 7, table.schema).num_rows == 0
    assert read_marker(f"{run}/steps/bands") is None
    write_marker(f"{run}/steps/bands", {"edges": 12})
    assert read_marker(f"{run}/steps/bands") == {"edges": 12}
    assert not any(".tmp" in k for k in _keys(s3_env, "scratch", "_runs/"))
    delete_folder(run)
    assert _keys(s3_env, "scratch", "_runs/") == []


def test_tokenizer_store_on_s3(s3_env: S3Server) -> None:
    store = TokenizerStore("s3://scratch/wh")
    model = CLICK_SOURCES[1].read_bytes()  # the store keeps bytes; any file shows the round trip
    sha = store.save(model, {"dataset": "ds"})
    assert store.list() == [sha] and store.resolve(sha[:8]) == sha
    assert store.load(sha) == model and store.record(sha)["dataset"] == "ds"
    assert _keys(s3_env, "scratch", "wh/_tokenizers/") == [
        f"wh/_tokenizers/{sha}.json",
        f"wh/_tokenizers/{sha}.model",
    ]


def test_iceberg_tables_in_an_s3_warehouse(s3_env: S3Server, tmp_path: Path) -> None:
    catalog = Catalog(Settings(home=tmp_path, warehouse="s3://warehouse/unit"))
    rows = pa.table(
        {"path": [p.name for p in CLICK_SOURCES], "text": [p.read_text() for p in CLICK_SOURCES]}
    )
    catalog.ensure_table("ds", "files", rows.schema)
    catalog.commit("ds", "files", lambda _, tx: tx.append(rows))
    back = catalog.table("ds", "files").scan().to_arrow()
    assert back.sort_by("path").equals(rows.sort_by("path"))
    keys = _keys(s3_env, "warehouse", "unit/ds/files/")
    assert any(k.startswith("unit/ds/files/metadata/") and k.endswith(".json") for k in keys)
    assert any(k.startswith("unit/ds/files/data/") and k.endswith(".parquet") for k in keys)


def test_download_checks_the_sha256(s3_env: S3Server, tmp_path: Path) -> None:
    source = CLICK_SOURCES[2]
    upload_file(source, "s3://scratch/dl/file.py")
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "copy" / "file.py"
    assert download_file("s3://scratch/dl/file.py", target, expected) == expected
    assert target.read_bytes() == source.read_bytes()
    other = tmp_path / "copy" / "bad.py"
    with pytest.raises(StorageChecksumError, match="has sha256"):
        download_file("s3://scratch/dl/file.py", other, "0" * 64)
    assert list(other.parent.iterdir()) == [target]  # nothing half-written is kept
    with pytest.raises(StorageError, match="cannot download"):
        download_file("s3://scratch/dl/missing.py", other)


def _shard(directory: Path) -> ShardReader:
    """A real shard: the bytes of click's sources as token ids (vocabulary 300, EOD 257)."""
    writer = ShardWriter(directory, "train", vocab_size=300, eod_id=257)
    for path in CLICK_SOURCES:
        writer.add(np.frombuffer(path.read_bytes(), np.uint8))
    (info,) = writer.close()
    return info


def test_trainer_reads_object_store_shards_checked(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODECORPUS_SHARD_CACHE", str(tmp_path / "cache"))
    info = _shard(tmp_path / "made")
    remote = "s3://scratch/shards/python/train-00000"
    for ext in ("bin", "idx"):
        upload_file(f"{info.prefix}.{ext}", f"{remote}.{ext}")
    ref = ShardRef(remote, info.bin_sha256, info.idx_sha256)
    local = local_prefix("Python", ref)
    assert Path(local).name == "train-00000" and local.startswith(str(tmp_path / "cache"))
    assert np.array_equal(ShardReader(local).tokens, ShardReader(info.prefix).tokens)
    assert local_prefix("Python", ref) == local  # cached: no second download
    tampered = "s3://scratch/shards/python/tampered-00000"
    upload_file(f"{info.prefix}.idx", f"{tampered}.idx")
    write_bytes(f"{tampered}.bin", CLICK_SOURCES[0].read_bytes())
    with pytest.raises(ChecksumMismatch, match="pull it again"):
        local_prefix("Python", ShardRef(tampered, info.bin_sha256, info.idx_sha256))
    with pytest.raises(MissingShardError, match="missing-00000"):
        local_prefix("Python", ShardRef("s3://scratch/shards/python/missing-00000"))


def test_missing_bucket_and_prefix_are_clear(s3_env: S3Server, tmp_path: Path) -> None:
    catalog = Catalog(Settings(home=tmp_path, warehouse="s3://no-such-bucket/wh"))
    with pytest.raises(StorageError, match="bucket 'no-such-bucket', which does not exist at http"):
        catalog.datasets()
    with pytest.raises(SourceError, match="bucket 'no-such-bucket' does not exist"):
        discover("s3://no-such-bucket/repos")
    with pytest.raises(SourceError, match="does not exist: no object or prefix of that name"):
        discover("s3://sources/no/such/prefix")


def test_bad_credentials_are_clear(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path, warehouse="s3://warehouse/denied")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageError, match="access was denied: check the AWS credentials"):
        Catalog(settings).datasets()
    with pytest.raises(SourceError, match="access was denied"):
        discover("s3://sources/anything")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(StorageError, match="no AWS credentials were found: set AWS_ACCESS_KEY_ID"):
        Catalog(settings).datasets()


def test_unreachable_endpoint_is_clear(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODECORPUS_S3_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(StorageError, match=r"cannot reach the S3 endpoint http://127\.0\.0\.1:"):
        Catalog(Settings(home=tmp_path, warehouse="s3://warehouse/wh")).datasets()


def test_cli_prints_one_clear_line(s3_env: S3Server, tmp_path: Path) -> None:
    result = subprocess.run(
        [CODECORPUS, "ingest", "s3://sources/nothing-here", "-d", "ds"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert "s3://sources/nothing-here does not exist" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
