"""An AWS Glue catalog opened by configuration alone (CODECORPUS_CATALOG_PROPERTIES), against
moto's Glue and S3 on loopback: tables created, appended to by concurrent-safe commits, read."""

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pyarrow as pa
import pytest

from corpus.core.settings import Settings
from corpus.store.catalog import Catalog

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch) -> Iterator[str]:
    """moto's server (Glue and S3 at one endpoint, no auth) and fake credentials."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
            Bucket="warehouse"
        )
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_glue_catalog_from_properties(aws: str, tmp_path, monkeypatch) -> None:
    properties = (
        f'{{"type": "glue", "glue.endpoint": "{aws}", "glue.region": "{REGION}", '
        '"warehouse": "s3://warehouse/iceberg"}'
    )
    monkeypatch.setenv("CODECORPUS_CATALOG_PROPERTIES", properties)
    monkeypatch.setenv("CODECORPUS_S3_ENDPOINT", aws)  # the tables' FileIO reaches moto's S3
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path))
    catalog = Catalog(Settings())
    rows = pa.table({"file_id": ["a", "b"], "bytes": pa.array([5, 7], pa.int64())})
    catalog.ensure_table("ds", "files", rows.schema)
    for _ in range(2):
        catalog.commit("ds", "files", lambda _table, tx: tx.append(rows))

    assert type(catalog.iceberg).__name__ == "GlueCatalog"
    glue = boto3.client("glue", endpoint_url=aws, region_name=REGION)
    assert [t["Name"] for t in glue.get_tables(DatabaseName="ds")["TableList"]] == ["files"]
    fresh = Catalog(Settings())
    got = fresh.table("ds", "files").scan().to_arrow()
    assert sorted(got.column("bytes").to_pylist()) == [5, 5, 7, 7]
    assert fresh.table("ds", "files").location() == "s3://warehouse/iceberg/ds.db/files"
    objects = boto3.client("s3", endpoint_url=aws, region_name=REGION).list_objects_v2(
        Bucket="warehouse", Prefix="iceberg/ds.db/files/data/"
    )
    assert len([o for o in objects["Contents"] if o["Key"].endswith(".parquet")]) == 2
