"""HTTP conventions on an empty catalog: problem+json, OpenAPI, metrics, ranges, cursors."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.caching import matches
from api.pagination import decode_cursor, encode_cursor, filter_hash
from api.problems import Problem
from api.ranges import parse_range
from tests.api.conftest import Tokens, bearer

PROBLEM = "application/problem+json"


@pytest.fixture
def client(empty_app: FastAPI, empty_tokens: Tokens) -> TestClient:
    return TestClient(empty_app, headers=bearer(empty_tokens.read))


def test_health_ready_and_problems_for_framework_errors(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "datasets": 0}
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert "/openapi.json" in missing.json()["detail"]
    wrong = client.delete("/v1/datasets")
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM
    assert wrong.headers["allow"] == "GET" and "allowed: GET" in wrong.json()["detail"]
    unknown = client.get("/v1/datasets/nope/versions")
    body = unknown.json()
    assert unknown.status_code == 404 and body["type"].endswith("dataset-not-found")
    assert body["instance"] == "/v1/datasets/nope/versions" and "datasets: none" in body["detail"]


def test_validation_errors_are_problems(client: TestClient) -> None:
    response = client.get("/v1/datasets/ds/diff", params={"to": "v1"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:codecorpus:problem:validation-error" and body["status"] == 422
    assert body["errors"][0]["location"] == ["query", "from"]
    assert "query.from: Field required" in body["detail"]


def test_openapi_documents_problems_operations_and_security(empty_app: FastAPI) -> None:
    spec = TestClient(empty_app).get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]
    }  # fmt: skip
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    ids = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == [PROBLEM], (path, method, code)
            if path.startswith("/v1/"):
                assert {"bearer": []} in operation["security"], (path, method)
                assert {"401", "403"} <= set(operation["responses"]), (path, method)
    assert len(ids) == len(set(ids))
    assert {"list_files", "get_file", "download_shard_file", "diff_versions"} <= set(ids)
    files = spec["paths"]["/v1/datasets/{dataset}/versions/{version}/files"]["get"]
    assert {"200", "304", "400", "401", "403", "404", "422"} <= set(files["responses"])
    validation = files["responses"]["422"]["content"][PROBLEM]["schema"]["$ref"]
    assert validation.endswith("/ValidationProblem")
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/v1/datasets/a/versions")
    client.get("/v1/datasets/b/versions")
    client.get("/no/such/route")
    text = client.get("/metrics").text
    assert (
        'codecorpus_http_requests_total{method="GET",route="/v1/datasets/{dataset}/versions",'
        'status="404"} 2.0' in text
    )
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert "codecorpus_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=90-1000000000000", (90, 99)),
        ("bytes=99-99", (99, 99)),
        ("items=0-5", None),  # other units are ignored
    ],
)
def test_parse_range(header: str | None, expected) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=100-", "bytes=100-200", "bytes=0-1,5-9", "bytes=9-1", "bytes=-0", "bytes=x-y",
     "bytes=-", "bytes=1-2-3", "bytes=" + "9" * 30 + "-"],
)  # fmt: skip
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_range(header, 100)
    assert caught.value.status == 416
    assert caught.value.headers["Content-Range"] == "bytes */100"


def test_cursors_round_trip_and_refuse_tampering() -> None:
    filters = filter_hash({"lang": "Python"})
    after = "0" * 31 + "a"
    cursor = encode_cursor(after, filters)
    assert decode_cursor(cursor, filters) == after
    for bad in ("!!", "abc", encode_cursor("../../etc/passwd", filters), "e30"):
        with pytest.raises(Problem) as caught:
            decode_cursor(bad, filters)
        assert caught.value.status == 400 and caught.value.kind == "invalid-cursor"
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor, filter_hash({"lang": "Go"}))
    assert caught.value.kind == "cursor-mismatch"


def test_if_none_match_comparison() -> None:
    assert matches('"abc"', '"abc"')
    assert matches('W/"abc"', '"abc"')
    assert matches('"x", "abc"', '"abc"')
    assert matches("*", '"abc"')
    assert not matches('"abcd"', '"abc"') and not matches(None, '"abc"')
