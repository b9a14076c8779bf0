"""Property-based fuzzing of the whole API from its OpenAPI spec (schemathesis): no 5xx,
answers conform to the documented status codes, content types, headers and schemas.

Path parameters are mostly swapped for real ones (dataset `ds`, versions, file and
shard ids), so the generated filters, cursors and ranges reach the real handlers
instead of stopping at a 404. `positive_data_acceptance` is left out: some
schema-valid combinations are refused with 400 by design (kept=true with a
drop_reason, content of dropped files, a cursor issued for other filters).
"""

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.api.conftest import bearer

pytestmark = pytest.mark.slow
#: Examples per operation: 16 operations x 60 run in well under two minutes.
EXAMPLES = 60


@pytest.fixture(scope="module")
def api_schema(curated_app):
    return schemathesis.openapi.from_asgi("/openapi.json", curated_app)


@pytest.fixture(scope="module")
def real_ids(curated_app, curated_tokens) -> dict[str, list[str]]:
    from fastapi.testclient import TestClient

    client = TestClient(curated_app, headers=bearer(curated_tokens.read))
    base = "/v1/datasets/ds/versions/v1"
    files = client.get(f"{base}/files", params={"limit": 5}).json()["files"]
    shards = client.get(f"{base}/shards").json()["shards"]
    return {
        "dataset": ["ds"],
        "version": ["v1", "v2"],
        "file_id": [f["file_id"] for f in files],
        "shard_id": [s["shard_id"] for s in shards[:5]],
        "from": ["v1", "v2"],
        "to": ["v1", "v2"],
    }


def _pick(values: list[str], generated: object) -> str | None:
    """A real value for 3 generated values in 4 (chosen by the generated one, so the
    example stays reproducible)."""
    digest = hashlib.sha256(repr(generated).encode()).digest()
    if digest[0] % 4 == 0:
        return None
    return values[digest[1] % len(values)]


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation; the spec does not depend on the catalog."""
    from pathlib import Path

    from api import create_app
    from api.settings import ApiSettings
    from corpus.core.settings import Settings

    app = create_app(ApiSettings(catalog=Settings(home=Path("/nonexistent/codecorpus"))))
    spec = app.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_server_errors_and_answers_match_the_spec(
    method: str, path: str, api_schema, real_ids, curated_tokens
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        for part in (case.path_parameters, case.query):
            for name, values in real_ids.items():
                if part and name in part:
                    real = _pick(values, part[name])
                    if real is not None:
                        part[name] = real
        case.call_and_validate(
            headers=bearer(curated_tokens.admin), excluded_checks=[positive_data_acceptance]
        )

    check()
