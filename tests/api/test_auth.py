"""API keys: stored hashed, shown once, scopes, revocation; auth answers over HTTP."""

import hashlib

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api import create_app
from api.auth import WriteAccess
from api.keys import KeyNotFound, KeyStore, Scope
from api.settings import ApiSettings
from corpus.core.errors import ConfigError
from tests.api.conftest import Tokens, bearer

PROBLEM = "application/problem+json"


def test_keys_are_stored_hashed_and_verified(empty_settings: ApiSettings) -> None:
    store = KeyStore(empty_settings.catalog)
    key, token = store.create("ci", ["write", "read"])
    assert token.startswith(f"cck_{key.id}_") and len(token) == 4 + 12 + 1 + 43
    assert key.scopes == (Scope.READ, Scope.WRITE)
    engine = create_engine(empty_settings.catalog.resolved_catalog_uri())
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, hash, scopes FROM codecorpus_api_keys")).all()
    assert rows == [(key.id, hashlib.sha256(token.encode()).hexdigest(), "read,write")]
    assert token not in str(rows)
    assert store.verify(token) == key
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "cck_x", "", token + "x"):
        assert store.verify(wrong) is None
    # a token with another key's id never verifies
    other, _ = store.create("other", ["read"])
    assert store.verify(token.replace(key.id, other.id)) is None


def test_scopes_nest_and_revocation_is_recorded(empty_settings: ApiSettings) -> None:
    store = KeyStore(empty_settings.catalog)
    admin, token = store.create("boss", ["admin"])
    assert admin.granted == {Scope.READ, Scope.WRITE, Scope.ADMIN}
    reader, _ = store.create("reader", ["read"])
    assert reader.granted == {Scope.READ}
    revoked = store.revoke(admin.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert store.revoke(admin.id).revoked_at == revoked.revoked_at  # idempotent
    assert store.verify(token) == revoked  # still identified, so the service can say why
    assert [k.id for k in store.list()] == [admin.id, reader.id]
    with pytest.raises(KeyNotFound, match="keys list"):
        store.revoke("000000000000")
    with pytest.raises(ConfigError, match="read, write, admin"):
        store.create("bad", ["superuser"])
    with pytest.raises(ConfigError, match="read, write, admin"):
        store.create("bad", [])
    with pytest.raises(ConfigError, match="name"):
        store.create("  ", ["read"])


def test_cli_creates_lists_and_revokes(empty_settings: ApiSettings, monkeypatch) -> None:
    from corpus.cli.main import app

    monkeypatch.setenv("CODECORPUS_HOME", str(empty_settings.catalog.home))
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "ci", "--scope", "read", "--scope", "write"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    key = KeyStore(empty_settings.catalog).verify(token)
    assert key is not None and key.name == "ci" and key.scopes == (Scope.READ, Scope.WRITE)
    listed = runner.invoke(app, ["keys", "list"])
    assert key.id in listed.output and "read,write" in listed.output and token not in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", key.id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert not KeyStore(empty_settings.catalog).verify(token).active


def _assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"urn:codecorpus:problem:{kind}" and body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    return body


def _with_write_route(settings: ApiSettings) -> FastAPI:
    """The app plus a write route, as runs and mixtures will add."""
    app = create_app(settings)
    router = APIRouter()

    @router.post("/v1/_write-probe")
    def write_probe(principal: WriteAccess) -> dict:
        return {"key": principal.key.id}

    app.include_router(router)
    return app


def test_http_auth_failures_and_scopes(empty_settings: ApiSettings, empty_tokens: Tokens) -> None:
    client = TestClient(_with_write_route(empty_settings))
    body = _assert_problem(client.get("/v1/datasets"), 401, "unauthorized")
    assert "codecorpus keys create" in body["detail"]
    response = client.get("/v1/datasets")
    assert response.headers["www-authenticate"] == 'Bearer realm="codecorpus"'

    bad = client.get("/v1/datasets", headers=bearer("cck_000000000000_" + "A" * 43))
    _assert_problem(bad, 401, "unauthorized")
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    revoked = client.get("/v1/datasets", headers=bearer(empty_tokens.revoked))
    assert "revoked" in _assert_problem(revoked, 401, "unauthorized")["detail"]
    basic = client.get("/v1/datasets", headers={"Authorization": "Basic dXNlcjpwdw=="})
    _assert_problem(basic, 401, "unauthorized")

    assert client.get("/v1/datasets", headers=bearer(empty_tokens.read)).json() == {"datasets": []}
    assert client.get("/v1/datasets", headers={"X-API-Key": empty_tokens.read}).status_code == 200

    forbidden = client.post("/v1/_write-probe", headers=bearer(empty_tokens.read))
    assert "--scope write" in _assert_problem(forbidden, 403, "insufficient-scope")["detail"]
    assert client.post("/v1/_write-probe", headers=bearer(empty_tokens.write)).status_code == 200
    assert client.post("/v1/_write-probe", headers=bearer(empty_tokens.admin)).status_code == 200
    _assert_problem(client.post("/v1/_write-probe"), 401, "unauthorized")
    _assert_problem(client.get("/v1/keys", headers=bearer(empty_tokens.write)), 403,
                    "insufficient-scope")  # fmt: skip


def test_anonymous_read_is_configurable(empty_settings: ApiSettings, empty_tokens: Tokens) -> None:
    settings = empty_settings.model_copy(update={"anonymous_read": True})
    client = TestClient(_with_write_route(settings))
    assert client.get("/v1/datasets").status_code == 200
    # a bad key is refused even when anonymous reads are on; writes still need a key
    _assert_problem(client.get("/v1/datasets", headers=bearer(empty_tokens.revoked)), 401,
                    "unauthorized")  # fmt: skip
    _assert_problem(client.post("/v1/_write-probe"), 401, "unauthorized")
    _assert_problem(client.get("/v1/keys"), 401, "unauthorized")


def test_admin_manages_keys_over_http(empty_app: FastAPI, empty_tokens: Tokens) -> None:
    client = TestClient(empty_app, headers=bearer(empty_tokens.admin))
    created = client.post("/v1/keys", json={"name": "trainer", "scopes": ["read"]})
    assert created.status_code == 201
    body = created.json()
    assert body["scopes"] == ["read"] and body["token"].startswith(f"cck_{body['id']}_")
    listed = client.get("/v1/keys").json()["keys"]
    assert body["id"] in {k["id"] for k in listed}
    assert all("token" not in k and "hash" not in k for k in listed)
    new = TestClient(empty_app, headers=bearer(body["token"]))
    assert new.get("/v1/datasets").status_code == 200
    assert client.delete(f"/v1/keys/{body['id']}").json()["revoked_at"] is not None
    _assert_problem(new.get("/v1/datasets"), 401, "unauthorized")
    _assert_problem(client.delete("/v1/keys/nope"), 404, "key-not-found")
    _assert_problem(client.post("/v1/keys", json={"name": "x", "scopes": ["root"]}), 422,
                    "validation-error")  # fmt: skip
    _assert_problem(client.get("/v1/keys", headers=bearer(empty_tokens.read)), 403,
                    "insufficient-scope")  # fmt: skip
