"""POST /v1/runs takes the typed curation config: OpenAPI describes every section, and a bad
config answers 422 problem+json naming the field (before any Ray work or catalog read)."""

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.corpus.bad_configs import BAD_CONFIGS

CASES = [pytest.param(config, wants, id=why) for why, config, wants in BAD_CONFIGS]


@pytest.fixture
def client(empty_app) -> TestClient:
    return TestClient(empty_app)


@pytest.mark.parametrize(("config", "wants"), CASES)
def test_bad_config_is_422_naming_the_field(client, empty_tokens, config, wants) -> None:
    body = {"dataset": "ds", "version": "v1", "config": config}
    answer = client.post("/v1/runs", json=body, headers=bearer(empty_tokens.write))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 422 and problem["type"].endswith(":validation-error")
    assert all(want in problem["detail"] for want in wants), problem["detail"]
    (issue,) = problem["errors"]
    assert issue["location"] == ["body", "config"] and issue["type"] == "invalid_config"
    assert all(want in issue["message"] for want in wants)


def test_a_valid_config_passes_validation(client, empty_tokens) -> None:
    body = {"dataset": "nope", "version": "v1", "config": {"dedup": {"threshold": 0.8}}}
    answer = client.post("/v1/runs", json=body, headers=bearer(empty_tokens.write))
    assert answer.status_code == 404  # the config was accepted; the dataset does not exist
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_openapi_describes_every_config_section(client) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    request = schemas["RunRequest"]["properties"]["config"]
    assert "#/components/schemas/CurationConfig" in str(request)
    sections = schemas["CurationConfig"]["properties"]
    assert set(sections) == {
        "intake", "licenses", "heuristics", "decontam", "pii", "dedup", "tokenizer", "shards",
        "holdout",
    }  # fmt: skip
    dedup = schemas["DedupConfig"]
    assert dedup["additionalProperties"] is False
    assert dedup["properties"]["threshold"]["type"] == "number"
    assert dedup["properties"]["exact"]["type"] == "boolean"
    assert "max_line_length" in schemas["Thresholds"]["properties"]
    assert "vocab_size" in schemas["TokenizerConfig"]["properties"]
