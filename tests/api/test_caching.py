"""Answers replayed from the body cache are the answers the routes build; versions
once seen resolve from memory."""

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.caching import BodyCache
from api.settings import ApiSettings
from api.state import VersionIndex
from corpus.store.catalog import Catalog

from .conftest import Tokens, bearer

V1 = "/v1/datasets/ds/versions/v1"


def test_body_cache_is_lru_and_bounded_in_bytes() -> None:
    cache = BodyCache(max_bytes=10, max_body=6)
    cache.put('"a"', b"aaaa")
    cache.put('"b"', b"bbbb")
    assert cache.get('"a"') == b"aaaa"  # a is now the most recently used
    cache.put('"c"', b"cccc")  # 12 bytes > 10: the least recently used (b) goes
    assert cache.get('"b"') is None and cache.get('"a"') == b"aaaa" and len(cache) == 2
    cache.put('"big"', b"x" * 7)  # larger than max_body: never kept
    assert cache.get('"big"') is None
    off = BodyCache(max_bytes=0)
    off.put('"a"', b"a")
    assert off.get('"a"') is None and len(off) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"{V1}/stats?group_by=lang",
        f"{V1}/stats?group_by=lang,drop_reason",
        f"{V1}",
        f"{V1}/files?limit=7",
        f"{V1}/files?limit=5&kept=false",
    ],
)
def test_replayed_answers_equal_built_answers(
    curated_settings: ApiSettings, curated_tokens: Tokens, path: str
) -> None:
    cold = create_app(curated_settings.model_copy(update={"response_cache_mb": 0}))
    warm = create_app(curated_settings)
    headers = bearer(curated_tokens.read)
    with TestClient(cold, headers=headers) as c, TestClient(warm, headers=headers) as w:
        built = c.get(path)
        first, replayed = w.get(path), w.get(path)
    assert built.status_code == first.status_code == replayed.status_code == 200
    assert built.content == first.content == replayed.content
    assert built.headers["etag"] == replayed.headers["etag"]
    assert replayed.headers["content-type"] == "application/json"
    assert len(cold.state.codecorpus.bodies) == 0 and len(warm.state.codecorpus.bodies) == 1


def test_a_new_cursor_is_a_new_answer(client: TestClient) -> None:
    first = client.get(f"{V1}/files?limit=3").json()
    second = client.get(f"{V1}/files?limit=3&cursor={first['next_cursor']}").json()
    assert {f["file_id"] for f in first["files"]}.isdisjoint(f["file_id"] for f in second["files"])


def test_known_versions_resolve_without_catalog_io(curated_settings: ApiSettings) -> None:
    index = VersionIndex(Catalog(curated_settings.catalog))
    assert index.cached("ds", "v1") is None  # never seen: the caller must read the catalog
    v1 = index.get("ds", "v1")

    def no_io(*args, **kwargs):
        raise AssertionError("a known version must not touch the catalog")

    index.catalog = type("NoCatalog", (), {"datasets": no_io, "table": no_io})()
    assert index.cached("ds", "v1") == v1 and index.get("ds", "v1") == v1


def test_keys_revoked_elsewhere_stop_working_after_the_remember_time(
    empty_settings: ApiSettings,
) -> None:
    import time

    from api.keys import KeyStore

    app = create_app(empty_settings.model_copy(update={"key_cache_seconds": 0.5}))
    key, token = KeyStore(empty_settings.catalog).create("trainer", ["read"])
    client = TestClient(app, headers=bearer(token))
    assert client.get("/v1/datasets").status_code == 200
    KeyStore(empty_settings.catalog).revoke(key.id)  # as `codecorpus keys revoke` does
    assert client.get("/v1/datasets").status_code == 200  # remembered for 0.5 s
    time.sleep(0.6)
    refused = client.get("/v1/datasets")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
