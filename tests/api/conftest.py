"""Fixtures for the service: an empty catalog (fast tests) and a real curated dataset.

The curated dataset is built once per test session from the sample corpus: `v1`
with a small tokenizer and shards in both splits, and `v2` keeping Python only
with no tokenizer (so answers without tokens are exercised too).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from api.keys import KeyStore
from api.settings import ApiSettings
from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.store.catalog import Catalog

V1 = {"tokenizer": {"vocab_size": 3000}, "shards": {"validation_fraction": 0.25}}
V2 = {"shards": {"enabled": False}, "heuristics": {"languages": ["Python"]}}


@dataclass(frozen=True)
class Tokens:
    read: str
    write: str
    admin: str
    revoked: str


def make_tokens(settings: ApiSettings) -> Tokens:
    store = KeyStore(settings.catalog)
    made = {
        scope: store.create(f"test-{scope}", [scope])[1] for scope in ("read", "write", "admin")
    }
    old, revoked = store.create("test-revoked", ["admin"])
    store.revoke(old.id)
    return Tokens(**made, revoked=revoked)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def empty_settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(catalog=Settings(home=tmp_path / "home"))


@pytest.fixture
def empty_app(empty_settings: ApiSettings) -> FastAPI:
    return create_app(empty_settings)


@pytest.fixture
def empty_tokens(empty_settings: ApiSettings) -> Tokens:
    return make_tokens(empty_settings)


@pytest.fixture(scope="session")
def curated_settings(sample_corpus, ray_local, tmp_path_factory) -> ApiSettings:
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout

    root, _ = sample_corpus
    settings = ApiSettings(catalog=Settings(home=tmp_path_factory.mktemp("api") / "home"))
    catalog = Catalog(settings.catalog)
    runner = RunnerConfig(partitions=4)
    ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS)
    curate("ds", "v1", catalog, CurationConfig.from_dict(V1), runner)
    curate("ds", "v2", catalog, CurationConfig.from_dict(V2), runner)
    return settings


@pytest.fixture(scope="session")
def curated_tokens(curated_settings: ApiSettings) -> Tokens:
    return make_tokens(curated_settings)


@pytest.fixture(scope="session")
def curated_app(curated_settings: ApiSettings) -> FastAPI:
    return create_app(curated_settings)


@pytest.fixture
def client(curated_app: FastAPI, curated_tokens: Tokens) -> Iterator[TestClient]:
    """A client that reads with a read key."""
    with TestClient(curated_app, headers=bearer(curated_tokens.read)) as test_client:
        yield test_client
