"""Every read route over a real curated dataset (two versions of the sample corpus)."""

import hashlib
import importlib.util

import pyarrow.compute as pc
import pytest
from fastapi.testclient import TestClient

from api.settings import ApiSettings
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.versions import Registry, scan_version
from tests.api.conftest import Tokens, bearer

pytestmark = pytest.mark.slow
PROBLEM = "application/problem+json"
V1 = "/v1/datasets/ds/versions/v1"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def catalog(curated_settings: ApiSettings) -> Catalog:
    return Catalog(curated_settings.catalog)


@pytest.fixture(scope="module")
def decisions(catalog: Catalog) -> list[dict]:
    version = Registry(catalog, "ds").get("v1")
    return scan_version(catalog, "ds", version).to_arrow().sort_by("file_id").to_pylist()


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"urn:codecorpus:problem:{kind}", body
    assert body["status"] == status and body["detail"] and body["instance"]
    return body


def walk(client: TestClient, url: str, **params) -> list[dict]:
    files, cursor, pages = [], None, 0
    while True:
        page = client.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        files.extend(body["files"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return files
        assert pages < 1000


def test_datasets_and_versions(client: TestClient, catalog: Catalog) -> None:
    assert client.get("/v1/datasets").json() == {
        "datasets": [{"name": "ds", "versions": 2, "latest_version": "v2"}]
    }
    listed = client.get("/v1/datasets/ds/versions").json()["versions"]
    assert [v["name"] for v in listed] == ["v1", "v2"]
    assert listed[0]["tokens"] > 0 and listed[1]["tokens"] is None
    version = Registry(catalog, "ds").get("v1")
    detail = client.get(V1)
    assert detail.status_code == 200 and detail.headers["cache-control"] == IMMUTABLE
    body = detail.json()
    assert body["lineage"]["decisions_snapshot_id"] == version.decisions_snapshot_id
    assert body["lineage"]["tokenizer"] == version.lineage["tokenizer"]
    assert body["lineage"]["config_fingerprint"] == version.config_fingerprint
    assert body["config"] == version.config
    assert body["stats"]["kept_files"] == version.stats["kept_files"]
    assert (
        body["stats"]["languages"]["Python"]["tokens"]
        == version.stats["tokens_by_language"]["Python"]
    )
    assert body["stats"]["shards"]["count"] == version.stats["shards"]["count"]
    assert "record" not in body and "source" not in str(body["lineage"])


def test_etags_and_not_modified(client: TestClient) -> None:
    first = client.get(f"{V1}/stats")
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == IMMUTABLE
    again = client.get(f"{V1}/stats", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(f"{V1}/stats", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(f"{V1}/stats", headers={"If-None-Match": '"other"'}).status_code == 200
    grouped = client.get(f"{V1}/stats", params={"group_by": "drop_reason"})
    assert grouped.headers["etag"] != etag
    v2 = client.get("/v1/datasets/ds/versions/v2/stats")
    assert v2.headers["etag"] != etag
    for url in (V1, f"{V1}/files", f"{V1}/shards"):
        tag = client.get(url).headers["etag"]
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 304, url


def test_stats_group_by(client: TestClient, catalog: Catalog) -> None:
    stats = Registry(catalog, "ds").get("v1").stats
    by_lang = client.get(f"{V1}/stats").json()
    assert by_lang["group_by"] == ["lang"]
    assert sum(r["files"] for r in by_lang["rows"]) == stats["files"] == by_lang["totals"]["files"]
    python = next(r for r in by_lang["rows"] if r["lang"] == "Python")
    assert python["kept_files"] == stats["languages"]["Python"]["files"]
    assert python["tokens"] == stats["languages"]["Python"]["tokens"]
    assert python["chars_per_token"] == stats["languages"]["Python"]["chars_per_token"]
    assert "drop_reason" not in python
    by_reason = client.get(f"{V1}/stats", params={"group_by": "drop_reason"}).json()["rows"]
    kept = next(r for r in by_reason if r["kept"])
    assert kept["drop_reason"] is None and kept["tokens"] == stats["tokens"]
    assert {r["drop_reason"]: r["files"] for r in by_reason if not r["kept"]} == {
        k: v["files"] for k, v in stats["drop_reasons"].items()
    }
    both = client.get(f"{V1}/stats", params={"group_by": "lang,drop_reason"}).json()["rows"]
    assert sum(r["bytes"] for r in both) == stats["bytes"]
    assert sum(r["tokens"] for r in both if r["kept"]) == stats["tokens"]
    assert all("tokens" not in r for r in both if not r["kept"])
    v2 = client.get("/v1/datasets/ds/versions/v2/stats").json()
    assert v2["totals"]["tokens"] is None and all(r["tokens"] is None for r in v2["rows"])


def test_pagination_walks_every_file_once(client: TestClient, decisions: list[dict]) -> None:
    files = walk(client, f"{V1}/files", limit=7)
    ids = [f["file_id"] for f in files]
    assert ids == [r["file_id"] for r in decisions] and len(set(ids)) == len(ids)
    assert files[0]["kept"] == (decisions[0]["drop_reason"] is None)
    assert all(f["content"] is None for f in files)
    first = client.get(f"{V1}/files", params={"limit": 1000}).json()
    assert first["next_cursor"] is None and len(first["files"]) == len(decisions)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"lang": "Python"}, lambda r: r["lang"] == "Python"),
        ({"lang": "unknown"}, lambda r: r["lang"] is None),
        ({"kept": "true"}, lambda r: r["drop_reason"] is None),
        ({"kept": "false"}, lambda r: r["drop_reason"] is not None),
        ({"drop_reason": "language:not_selected"},
         lambda r: r["drop_reason"] == "language:not_selected"),
        ({"drop_reason": "intake:"}, lambda r: (r["drop_reason"] or "").startswith("intake:")),
        ({"repo": "click-*"}, None),  # resolved below to a real repo
        ({"license": "*"}, None),  # resolved below to a real license
        ({"lang": "Python", "kept": "false"}, lambda r: r["lang"] == "Python" and r["drop_reason"]),
        ({"lang": "Rust"}, lambda r: False),
    ],
)  # fmt: skip
def test_filters_match_a_direct_scan(client: TestClient, decisions: list[dict], params, keep):
    if "repo" in params:
        repo = next(r["repo"] for r in decisions if r["repo"].startswith("click"))
        params, keep = {"repo": repo}, lambda r: r["repo"] == repo
    if "license" in params:
        license = next(r["license"] for r in decisions if r["license"] and " OR " in r["license"])
        params, keep = {"license": license}, lambda r: r["license"] == license
    expected = [r["file_id"] for r in decisions if keep(r)]
    assert [f["file_id"] for f in walk(client, f"{V1}/files", limit=5, **params)] == expected


def test_content_pages_come_from_the_files_table(client, catalog, decisions) -> None:
    version = Registry(catalog, "ds").get("v1")
    stored = scan_version(catalog, "ds", version, "files").to_arrow()
    contents = dict(zip(stored["file_id"].to_pylist(), stored["content"].to_pylist(), strict=True))
    files = walk(client, f"{V1}/files", limit=40, content="true", lang="Python")
    assert files and {f["file_id"] for f in files} == {
        r["file_id"] for r in decisions if r["lang"] == "Python" and r["drop_reason"] is None
    }
    assert all(f["content"] == contents[f["file_id"]] for f in files)


def test_bad_filters_and_cursors(client: TestClient) -> None:
    page = client.get(f"{V1}/files", params={"limit": 2, "lang": "Python"}).json()
    cursor = page["next_cursor"]
    assert cursor
    problem(client.get(f"{V1}/files", params={"cursor": cursor}), 400, "cursor-mismatch")
    other = client.get(f"{V1}/files", params={"cursor": cursor, "lang": "Markdown"})
    problem(other, 400, "cursor-mismatch")
    v2 = client.get(
        "/v1/datasets/ds/versions/v2/files", params={"cursor": cursor, "lang": "Python"}
    )
    problem(v2, 400, "cursor-mismatch")
    for bad in ("abc", "eyJhZnRlciI6MX0", "A" * 40):
        problem(client.get(f"{V1}/files", params={"cursor": bad}), 400, "invalid-cursor")
    problem(client.get(f"{V1}/files", params={"cursor": "not base64!"}), 422, "validation-error")
    contradiction = {"kept": "true", "drop_reason": "intake:empty"}
    assert "contradict" in problem(client.get(f"{V1}/files", params=contradiction), 400,
                                   "invalid-filter")["detail"]  # fmt: skip
    no_content = client.get(f"{V1}/files", params={"content": "true", "kept": "false"})
    assert "kept files" in problem(no_content, 400, "invalid-filter")["detail"]
    problem(client.get(f"{V1}/files", params={"limit": 5000}), 400, "invalid-limit")
    problem(client.get(f"{V1}/files", params={"limit": 500, "content": "true"}), 400,
            "invalid-limit")  # fmt: skip
    problem(client.get(f"{V1}/files", params={"limit": 0}), 422, "validation-error")
    problem(client.get(f"{V1}/files", params={"drop_reason": "../x"}), 422, "validation-error")


def test_one_file(client: TestClient, catalog: Catalog, decisions: list[dict]) -> None:
    kept = next(r for r in decisions if r["drop_reason"] is None and r["lang"] == "Python")
    body = client.get(f"{V1}/files/{kept['file_id']}").json()
    assert body["repo"] == kept["repo"] and body["path"] == kept["path"]
    assert body["tokens"] == kept["tokens"] > 0 and body["license"] == kept["license"]
    assert body["kept"] and body["content"] is None
    assert body["signals"]["lines"] == kept["lines"]
    assert body["signals"]["alphanumeric_fraction"] == pytest.approx(kept["alphanumeric_fraction"])
    assert not {"source", "ingest_id", "version", "content"} & set(body["signals"])
    with_content = client.get(f"{V1}/files/{kept['file_id']}", params={"content": "true"}).json()
    version = Registry(catalog, "ds").get("v1")
    stored = scan_version(catalog, "ds", version, "files").to_arrow()
    row = stored.filter(pc.equal(stored["file_id"], kept["file_id"]))
    assert with_content["content"] == row["content"][0].as_py()
    dropped = next(r for r in decisions if r["drop_reason"] == "language:not_selected")
    body = client.get(f"{V1}/files/{dropped['file_id']}", params={"content": "true"}).json()
    assert not body["kept"] and body["drop_reason"] == "language:not_selected"
    assert body["content"] is None
    problem(client.get(f"{V1}/files/{'0' * 32}"), 404, "file-not-found")
    problem(client.get(f"{V1}/files/nope"), 404, "file-not-found")


@pytest.mark.parametrize(
    "path",
    [
        "files/..%2F..%2F..%2Fetc%2Fpasswd",
        "files/%2e%2e",
        "files/..%5C..%5Cwindows",
        "shards/..%2F..%2F..%2Fetc%2Fpasswd/bin",
        "shards/%2e%2e/bin",
        "shards/%2e%2e/%2e%2e",
        "shards/0123456789abcdef/..%2F..%2Fcatalog.db",
        "shards/%2Ftmp%2Fx/bin",
        "shards/..%2F..%2Fwarehouse/idx",
    ],
)
def test_path_traversal_is_refused(client: TestClient, path: str) -> None:
    response = client.get(f"{V1}/{path}")
    assert response.status_code in (400, 404, 422), response.text
    assert response.headers["content-type"] == PROBLEM
    assert b"root:" not in response.content


def test_unknown_dataset_and_version_everywhere(client: TestClient) -> None:
    for suffix in ("", "/v1/stats", "/v1/files", "/v1/shards"):
        problem(client.get(f"/v1/datasets/nope/versions{suffix}"), 404, "dataset-not-found")
    for suffix in ("", "/stats", "/files", "/files/" + "0" * 32, "/shards", "/shards/x/bin"):
        body = problem(client.get(f"/v1/datasets/ds/versions/v9{suffix}"), 404, "version-not-found")
        assert "v1, v2" in body["detail"]


def test_shard_manifest(client: TestClient, catalog: Catalog) -> None:
    table = catalog.table("ds", SHARDS).scan().to_arrow()
    rows = [r for r in table.to_pylist() if r["version"] == "v1"]
    manifest = client.get(f"{V1}/shards")
    assert manifest.headers["cache-control"] == "public, no-cache"
    body = manifest.json()
    assert len(body["shards"]) == len(rows) > 1
    assert body["tokens"] == sum(r["tokens"] for r in rows)
    assert {s["bin"]["sha256"] for s in body["shards"]} == {r["bin_sha256"] for r in rows}
    assert "prefix" not in str(body) and "/warehouse/" not in str(body)
    sha = rows[0]["tokenizer"]
    assert len(client.get(f"{V1}/shards", params={"tokenizer": sha[:8]}).json()["shards"]) == len(
        rows
    )
    assert client.get(f"{V1}/shards", params={"tokenizer": "0" * 8}).json()["shards"] == []
    valid = client.get(f"{V1}/shards", params={"split": "validation"}).json()["shards"]
    assert valid and all(s["split"] == "validation" for s in valid)
    python = client.get(f"{V1}/shards", params={"lang": "Python"}).json()["shards"]
    assert python and all(s["lang"] == "Python" for s in python)
    problem(client.get(f"{V1}/shards", params={"split": "test"}), 422, "validation-error")
    assert client.get("/v1/datasets/ds/versions/v2/shards").json()["shards"] == []


def test_shard_downloads_with_ranges(client: TestClient, catalog: Catalog) -> None:
    shard = max(client.get(f"{V1}/shards").json()["shards"], key=lambda s: s["bin"]["bytes"])
    rows = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    prefix = next(r["prefix"] for r in rows if r["bin_sha256"] == shard["bin"]["sha256"])
    data = open(f"{prefix}.bin", "rb").read()  # noqa: SIM115
    size = len(data)
    assert size == shard["bin"]["bytes"] > 100
    url = shard["bin"]["url"]
    full = client.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["etag"] == f'"{shard["bin"]["sha256"]}"'
    assert hashlib.sha256(full.content).hexdigest() == shard["bin"]["sha256"]
    assert full.headers["content-length"] == str(size) and full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == IMMUTABLE
    for header, (start, end) in {
        "bytes=0-99": (0, 99),
        "bytes=10-": (10, size - 1),
        "bytes=-17": (size - 17, size - 1),
        f"bytes=5-{size * 10}": (5, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
    }.items():
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, (header, part.text)
        assert part.content == data[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.headers["content-length"] == str(end - start + 1)
    for header in (f"bytes={size}-", f"bytes={size * 2}-{size * 3}", "bytes=0-1,4-5",
                   "bytes=9-2", "bytes=abc", "bytes=-0"):  # fmt: skip
        refused = client.get(url, headers={"Range": header})
        problem(refused, 416, "range-not-satisfiable")
        assert refused.headers["content-range"] == f"bytes */{size}"
    assert client.get(url, headers={"Range": "lines=0-5"}).content == data  # unit ignored
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": full.headers["etag"]})
    assert fresh.status_code == 206 and fresh.content == data[:10]
    cached = client.get(url, headers={"If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    head = client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)
    assert head.content == b""
    idx = client.get(shard["idx"]["url"])
    assert hashlib.sha256(idx.content).hexdigest() == shard["idx"]["sha256"]
    problem(client.get(f"{V1}/shards/{'0' * 16}/bin"), 404, "shard-not-found")
    problem(client.get(url.replace("/bin", "/exe")), 422, "validation-error")


def test_downloads_need_a_key(curated_app, curated_tokens: Tokens, client: TestClient) -> None:
    url = client.get(f"{V1}/shards").json()["shards"][0]["bin"]["url"]
    anonymous = TestClient(curated_app)
    problem(anonymous.get(url), 401, "unauthorized")
    problem(anonymous.get(url, headers=bearer(curated_tokens.revoked)), 401, "unauthorized")
    assert anonymous.get(url, headers={"X-API-Key": curated_tokens.read}).status_code == 200


@pytest.mark.skipif(
    importlib.util.find_spec("corpus.store.diff") is None,
    reason="corpus.store.diff (diff_versions) has not landed yet; the route answers 501 until then",
)
def test_diff(client: TestClient, catalog: Catalog) -> None:
    from corpus.store.diff import diff_versions

    response = client.get("/v1/datasets/ds/diff", params={"from": "v1", "to": "v2"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == diff_versions(catalog, "ds", "v1", "v2")
    assert body["a"]["name"] == "v1" and body["b"]["tokens"] is None
    assert response.headers["cache-control"] == IMMUTABLE
    again = client.get(
        "/v1/datasets/ds/diff",
        params={"from": "v1", "to": "v2"},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304
    same = client.get("/v1/datasets/ds/diff", params={"from": "v1", "to": "v1"}).json()
    assert same["identical"] is True
    missing = client.get("/v1/datasets/ds/diff", params={"from": "v1", "to": "v9"})
    problem(missing, 404, "version-not-found")
    problem(client.get("/v1/datasets/nope/diff", params={"from": "a", "to": "b"}), 404,
            "dataset-not-found")  # fmt: skip
