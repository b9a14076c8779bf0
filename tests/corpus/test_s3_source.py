"""Sources behind s3:// URIs, against a local S3-compatible server on loopback."""

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.core.settings import Settings
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout, UnitKind, discover
from corpus.store.catalog import RAW, Catalog

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

IDNA = Path(__import__("idna").__file__).parent
KEY, SECRET = "codecorpus", "codecorpus-secret"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
    )  # fmt: skip
    client.create_bucket(Bucket="corpus")
    for path in sorted(IDNA.glob("*.py")):
        client.put_object(Bucket="corpus", Key=f"repos/idna/{path.name}", Body=path.read_bytes())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(IDNA / "core.py", arcname="idna-x/core.py")
    client.put_object(Bucket="corpus", Key="archives/idna-x.tar.gz", Body=buffer.getvalue())
    table = pa.table({"content": ["print('hi')\n"], "path": ["hi.py"], "repo_name": ["o/r"]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    client.put_object(Bucket="corpus", Key="tables/part-0.parquet", Body=sink.getvalue())
    yield endpoint
    server.stop()


def _uri(endpoint: str, key: str) -> str:
    return f"s3://{KEY}:{SECRET}@corpus/{key}?endpoint_override={endpoint}&scheme=http"


def test_discover_on_s3(s3_endpoint: str) -> None:
    (repo,) = discover(_uri(s3_endpoint, "repos"), Layout.REPOS)
    assert repo.kind == UnitKind.REPO and repo.repo == "idna"
    assert "?endpoint_override=" in repo.uri  # options travel with the unit to the workers
    assert [u.kind for u in discover(_uri(s3_endpoint, "archives"))] == [UnitKind.ARCHIVE]
    assert [u.kind for u in discover(_uri(s3_endpoint, "tables"))] == [UnitKind.TABLE]


def test_ingest_from_s3_matches_local(s3_endpoint: str, tmp_path: Path) -> None:
    remote = _catalog(tmp_path / "remote")
    sources = [_uri(s3_endpoint, k) for k in ("repos", "archives", "tables/part-0.parquet")]
    report = ingest(sources, "ds", remote, layout=Layout.REPOS)
    rows = remote.table("ds", RAW).scan().to_arrow()
    py_files = sorted(IDNA.glob("*.py"))
    assert report.summary.seen == rows.num_rows == len(py_files) + 2
    by_path = {(r["repo"], r["path"]): r for r in rows.to_pylist()}
    for path in py_files:
        assert by_path[("idna", path.name)]["content"] == path.read_text()
    assert by_path[("idna-x", "core.py")]["content"] == (IDNA / "core.py").read_text()
    assert by_path[("o/r", "hi.py")]["lang"] == "Python"

    local = _catalog(tmp_path / "local")
    ingest([str(IDNA)], "ds", local, layout=Layout.REPO)
    local_rows = {r["path"]: r for r in local.table("ds", RAW).scan().to_arrow().to_pylist()}
    for path in py_files:  # same file ids and hashes whatever the filesystem
        remote_row, local_row = by_path[("idna", path.name)], local_rows[path.name]
        assert remote_row["file_id"] == local_row["file_id"]
        assert remote_row["content_sha256"] == local_row["content_sha256"]


def _catalog(home: Path) -> Catalog:
    return Catalog(Settings(home=home))
