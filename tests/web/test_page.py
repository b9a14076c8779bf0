"""The page at / in headless Chromium (Debian's, driven by Playwright) on a real version."""

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import Catalog
from corpus.store.versions import Registry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(sample_corpus, tmp_path_factory) -> Iterator[tuple[str, str, Catalog]]:
    """A served catalog with two versions and a read key; yields (base URL, key, catalog)."""
    import uvicorn

    from api import create_app
    from api.keys import KeyStore
    from api.settings import ApiSettings

    root, _ = sample_corpus
    settings = Settings(home=tmp_path_factory.mktemp("web"))
    catalog = Catalog(settings)
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    config = {"tokenizer": {"vocab_size": 3000}}
    curate("ds", "v1", catalog, CurationConfig.from_dict(config))
    curate(
        "ds", "v2", catalog, CurationConfig.from_dict({**config, "heuristics": {"preset": "codex"}})
    )
    from corpus.store.lookup_index import build_index

    build_index(catalog, "ds", "v2")
    api_settings = ApiSettings(catalog=settings)
    app = create_app(api_settings)
    _, token = KeyStore(settings).create("page", ["read"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token, catalog
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if CHROMIUM is None:
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
        )
        yield browser
        browser.close()


def test_page_shows_token_and_reason_charts_of_the_latest_version(server, browser) -> None:
    base, token, catalog = server
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{base}/#key={token}")
    bars = page.locator("svg[data-testid=token-bars] rect.bar")
    try:
        bars.first.wait_for(timeout=60_000)
    except Exception as exc:
        raise AssertionError(f"{page.locator('#error').inner_text()} {messages}") from exc
    version = Registry(catalog, "ds").get("v2")
    expected = {lang: n for lang, n in version.stats["tokens_by_language"].items() if n}
    shown = {
        bars.nth(i).get_attribute("data-label"): int(bars.nth(i).get_attribute("data-value"))
        for i in range(bars.count())
    }
    assert shown == expected
    reasons = page.locator("svg[data-testid=reason-bars] rect.bar")
    dropped = {r: e["files"] for r, e in version.stats["drop_reasons"].items()}
    assert reasons.count() == len(dropped)
    assert page.locator("#version-title").inner_text() == "ds@v2"
    assert page.locator("#versions tbody tr").count() == 2
    assert page.locator("#error").inner_text() == ""


def test_page_switches_version_and_shows_a_diff(server, browser) -> None:
    base, token, _ = server
    page = browser.new_page()
    page.goto(f"{base}/#key={token}")
    page.locator("#versions tbody tr[data-name=v1]").click()
    page.wait_for_function("document.querySelector('#version-title').textContent === 'ds@v1'")
    page.select_option("#diff-from", "v1")
    page.select_option("#diff-to", "v2")
    page.click("#diff-run")
    page.locator("#diff-table tbody tr").first.wait_for(timeout=60_000)
    assert page.locator("#diff-table tbody tr").count() >= 1


def test_page_reports_a_missing_key_instead_of_failing_silently(server, browser) -> None:
    base, _, _ = server
    page = browser.new_page()
    page.goto(base)
    page.wait_for_function("document.querySelector('#error').textContent.includes('401')")


def _kept_file(catalog: Catalog) -> dict:
    from corpus.store.catalog import FILES
    from corpus.store.versions import scan_version

    version = Registry(catalog, "ds").get("v2")
    table = scan_version(catalog, "ds", version, FILES).select("repo", "path", "content")
    rows = [
        r
        for r in table.to_arrow().to_pylist()
        if len(r["content"].split()) > 200 and "\r" not in r["content"]
    ]  # textarea: LF only
    return sorted(rows, key=lambda r: (r["repo"], r["path"]))[0]


def test_page_looks_up_a_pasted_file_and_a_repository(server, browser) -> None:
    base, token, catalog = server
    kept = _kept_file(catalog)
    page = browser.new_page()
    page.goto(f"{base}/#key={token}")
    page.wait_for_function("document.querySelector('#lookup-version').value === 'v2'")
    page.fill("#lookup-content", kept["content"])
    page.click("#lookup-run")
    page.locator("#lookup-table tbody tr").first.wait_for(timeout=60_000)
    exact = page.locator("#lookup-table tr.match.exact")
    shown = [
        (
            exact.nth(i).locator("td").nth(1).inner_text(),
            exact.nth(i).locator("td").nth(2).inner_text(),
        )
        for i in range(exact.count())
    ]
    assert (kept["repo"], kept["path"]) in shown
    assert page.locator("#lookup-table tr.match.near").count() >= 1  # itself, estimated 1.0
    page.fill("#repo-name", kept["repo"])
    page.click("#repo-run")
    page.wait_for_function("document.querySelector('#repo-result').textContent.includes('kept')")
    assert f"{kept['repo']} contributed" in page.locator("#repo-result").inner_text()
    page.fill("#repo-name", "nobody/nothing-here")
    page.click("#repo-run")
    page.wait_for_function("document.querySelector('#repo-result').textContent.includes('no f')")
    assert page.locator("#error").inner_text() == ""


def test_page_opt_out_anchor_explains_the_registry(server, browser) -> None:
    base, _, _ = server
    page = browser.new_page()
    page.goto(f"{base}/web#opt-out")
    section = page.locator("section#opt-out")
    assert "codecorpus optout add" in section.inner_text()
    assert section.is_visible()
