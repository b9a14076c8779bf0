"""/v1/runs and /v1/mixtures over HTTP: 202 + Location, progress, cancel, auth, bad input."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import Catalog

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]
CONFIG = {"tokenizer": {"vocab_size": 3000}}


@pytest.fixture(scope="module")
def service(sample_corpus, tmp_path_factory) -> Iterator[tuple[TestClient, dict, dict]]:
    """(client, write headers, read headers) over a catalog with one curated version."""
    from api import create_app
    from api.keys import KeyStore
    from api.settings import ApiSettings

    root, _ = sample_corpus
    settings = Settings(home=tmp_path_factory.mktemp("service"))
    catalog = Catalog(settings)
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "v1", catalog, CurationConfig.from_dict(CONFIG))
    keys = KeyStore(settings)
    _, writer = keys.create("writer", ["read", "write"])
    _, reader = keys.create("reader", ["read"])
    with TestClient(create_app(ApiSettings(catalog=settings))) as client:
        yield (client, {"Authorization": f"Bearer {writer}"}, {"Authorization": f"Bearer {reader}"})


def test_run_is_accepted_followed_and_published(service) -> None:
    client, write, read = service
    answer = client.post(
        "/v1/runs", json={"dataset": "ds", "version": "v2", "config": CONFIG}, headers=write
    )
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert answer.json()["status"] == "queued"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run = client.get(location, headers=read).json()
        if run["status"] in ("published", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert run["status"] == "published", run.get("error")
    assert run["steps"][0]["name"] == "stages"
    assert client.get("/v1/datasets/ds/versions/v2", headers=read).status_code == 200
    assert any(r["id"] == run["id"] for r in client.get("/v1/runs", headers=read).json()["runs"])


def test_run_routes_refuse_bad_requests(service) -> None:
    client, write, read = service
    body = {"dataset": "ds", "version": "v9", "config": CONFIG}
    assert client.post("/v1/runs", json=body).status_code == 401
    assert client.post("/v1/runs", json=body, headers=read).status_code == 403
    unknown = client.post("/v1/runs", json={**body, "dataset": "nope"}, headers=write)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    bad = client.post(
        "/v1/runs", json={**body, "config": {"dedup": {"threshold": 3}}}, headers=write
    )
    assert bad.status_code == 422 and "dedup.threshold" in bad.json()["detail"]
    assert client.get("/v1/runs/" + "0" * 32, headers=read).status_code == 404
    assert client.delete("/v1/runs/" + "0" * 32, headers=write).status_code == 404


def test_mixture_created_and_read_back_with_its_plan(service) -> None:
    client, write, read = service
    body = {"dataset": "ds", "version": "v1", "weights": {"Python": 1.0}, "token_budget": 10**7}
    created = client.post("/v1/mixtures", json=body, headers=write)
    assert created.status_code == 201, created.text
    again = client.get(created.headers["Location"], headers=read)
    assert again.status_code == 200 and again.json() == created.json()
    (component,) = again.json()["components"]
    assert component["lang"] == "Python" and component["shards"]
    assert component["epochs"] == pytest.approx(10**7 / component["unique_tokens"])
    assert again.json()["plan"]["tokens"] == pytest.approx(10**7)
    missing = client.post("/v1/mixtures", json={**body, "weights": {"Haskell": 1}}, headers=write)
    assert missing.status_code == 400 and "languages with shards" in missing.json()["detail"]
    assert client.post("/v1/mixtures", json=body, headers=read).status_code == 403
    assert client.get("/v1/mixtures/" + "f" * 32, headers=read).status_code == 404
