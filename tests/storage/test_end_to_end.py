"""The S3 path end to end: `codecorpus ingest` from s3:// and `codecorpus curate` into an
s3:// warehouse (in a subprocess, as a user runs them), read back in this process, a shard
downloaded through the API and through the trainer's loader, compared with a run of the
same input on local disk: the same version (file ids, decisions, token counts, shard sha256s).
"""

import gzip
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.sources.samples import build_sample_corpus, installed_distributions
from corpus.store.catalog import DECISIONS, FILES, RAW, SHARDS, Catalog
from corpus.store.mixtures import create_mixture
from corpus.store.versions import Registry
from tests.storage.conftest import FOREIGN_VARIABLES, REGION, S3Server
from trainer.data import MixtureLoader, MixtureSpec

pytestmark = pytest.mark.slow

CODECORPUS = str(Path(sys.executable).parent / "codecorpus")
#: Real distributions, a few hundred files with their license files and metadata; pyyaml
#: brings compiled extensions (binary files).
REPOS = [
    "annotated-types", "attrs", "click", "httpx", "idna", "iniconfig", "markdown-it-py",
    "packaging", "pluggy", "pyyaml", "starlette", "typer",
]  # fmt: skip
CONFIG = {"tokenizer": {"vocab_size": 3000}, "shards": {"validation_fraction": 0.25}}
WAREHOUSE = "s3://warehouse/e2e"
#: Dedup and finish partitions: a few (the result does not depend on them, tested elsewhere);
#: each partition is a Ray task per step and a few objects in the run folder.
PARTITIONS = 3
#: Columns that name where a row came from, not what it is.
PROVENANCE = ("source", "ingest_id")


@dataclass(frozen=True)
class Runs:
    local: Catalog
    s3_settings: Settings
    files: int


def _source_tree(root: Path) -> int:
    """Repository folders plus Stack-style objects: jinja2's sources as a The Stack v1
    Parquet file (one a copy of a click file: an exact duplicate across sources) and
    pluggy's as a v2 JSONL.gz."""
    repos = build_sample_corpus(root, names=REPOS)
    click_core = next(root.glob("click-*/click/core.py"))
    jinja = _dist_files("jinja2")
    rows = [
        {"content": p.read_text(), "max_stars_repo_path": f"src/jinja2/{p.name}",
         "max_stars_repo_name": "pallets/jinja", "max_stars_count": 10_000,
         "max_stars_repo_licenses": ["BSD-3-Clause"]}
        for p in jinja
    ]  # fmt: skip
    vendored = {"content": click_core.read_text(), "max_stars_repo_path": "core.py",
                "max_stars_repo_name": "someone/vendored-click", "max_stars_count": 1}  # fmt: skip
    rows.append({**rows[0], **vendored})
    pq.write_table(pa.Table.from_pylist(rows), root / "stack-v1.parquet")
    with gzip.open(root / "stack-v2.jsonl.gz", "wt") as out:
        for p in _dist_files("pluggy"):
            record = {"repo_name": "pytest-dev/pluggy", "path": f"src/pluggy/{p.name}",
                      "content": p.read_text(), "detected_licenses": ["MIT"],
                      "star_events_count": 1_300}  # fmt: skip
            out.write(json.dumps(record) + "\n")
    return sum(r.files for r in repos) + len(rows) + len(_dist_files("pluggy"))


def _dist_files(name: str) -> list[Path]:
    (dist,) = installed_distributions([name])
    files = [Path(str(dist.locate_file(f))) for f in dist.files or [] if f.suffix == ".py"]
    return sorted(p for p in files if p.is_file())


def _upload(server: S3Server, root: Path, bucket: str, prefix: str) -> None:
    client = server.client()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(root).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def _codecorpus(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([CODECORPUS, *args], env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, f"codecorpus {args} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def runs(s3_server: S3Server, ray_local, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("e2e")
    tree = base / "tree"
    files = _source_tree(tree)
    assert files >= 300, f"expected a few hundred files from installed distributions: {files}"
    _upload(s3_server, tree, "sources", "e2e")
    (base / "curate.yaml").write_text(json.dumps(CONFIG))

    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    env.update(s3_server.env(), CODECORPUS_HOME=str(base / "s3-home"),
               CODECORPUS_WAREHOUSE=WAREHOUSE)  # fmt: skip
    _codecorpus(env, "ingest", "s3://sources/e2e", "-d", "ds", "--layout", "repos")
    _codecorpus(env, "curate", "ds", "--version", "v1", "--config", str(base / "curate.yaml"),
                "--partitions", str(PARTITIONS))  # fmt: skip

    local = Catalog(Settings(home=base / "local-home"))
    runner = RunnerConfig(workers=2, partitions=PARTITIONS)
    ingest([str(tree)], "ds", local, layout=Layout.REPOS, runner=runner)
    curate("ds", "v1", local, CurationConfig.from_dict(CONFIG), runner)
    remote = Settings(home=base / "s3-home", warehouse=WAREHOUSE,
                      s3_endpoint=s3_server.endpoint, s3_region=REGION)  # fmt: skip
    return Runs(local, remote, files)


def _rows(catalog: Catalog, table: str, drop: tuple[str, ...] = ()) -> list[dict]:
    rows = catalog.table("ds", table).scan().to_arrow()
    rows = rows.drop_columns([c for c in drop if c in rows.column_names])
    return sorted(rows.to_pylist(), key=lambda r: (r.get("file_id") or "", str(r)))


def _shard_rows(catalog: Catalog) -> list[dict]:
    """Manifest rows with the prefix relative to the shards folder of the version."""
    rows = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    for row in rows:
        row["prefix"] = row["prefix"].split("/data/version=v1/", 1)[1]
    return sorted(rows, key=lambda r: r["prefix"])


def test_the_s3_version_is_the_local_version(runs: Runs, s3_env: S3Server) -> None:
    remote = Catalog(runs.s3_settings)
    raw = _rows(remote, RAW, PROVENANCE)
    assert len(raw) == runs.files
    assert raw == _rows(runs.local, RAW, PROVENANCE)  # same ids, hashes, intake decisions
    assert {r["source"].split("://")[0] for r in _rows(remote, RAW)} == {"s3"}
    decisions = _rows(remote, DECISIONS, PROVENANCE)
    assert decisions == _rows(runs.local, DECISIONS, PROVENANCE)
    reasons = {r["drop_reason"] for r in decisions}
    assert {None, "dedup:exact", "dedup:near", "intake:too_large"} <= reasons, reasons
    assert _rows(remote, FILES, PROVENANCE) == _rows(runs.local, FILES, PROVENANCE)

    version, expected = Registry(remote, "ds").get("v1"), Registry(runs.local, "ds").get("v1")
    assert version.stats == expected.stats  # files, bytes, tokens per language and reason
    assert version.lineage["tokenizer"] == expected.lineage["tokenizer"]
    assert version.stats["tokens"] > 0
    shards = _shard_rows(remote)
    assert shards == _shard_rows(runs.local)  # sha256s, tokens, documents, layout
    assert {s["split"] for s in shards} == {"train", "validation"}

    client = s3_env.client()
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket="warehouse", Prefix="e2e/") for o in page.get("Contents", [])]  # fmt: skip
    assert f"e2e/_tokenizers/{version.lineage['tokenizer']}.model" in keys
    assert not [k for k in keys if k.startswith("e2e/_runs/") and not k.endswith("/")]
    assert sum(k.endswith((".bin", ".idx")) for k in keys) == 2 * len(shards)


def test_api_serves_the_s3_version(runs: Runs, s3_env: S3Server) -> None:
    app = create_app(ApiSettings(catalog=runs.s3_settings, anonymous_read=True))
    base = "/v1/datasets/ds/versions/v1"
    with TestClient(app) as client:
        expected = Registry(runs.local, "ds").get("v1").stats
        assert client.get(f"{base}/stats").json()["totals"]["tokens"] == expected["tokens"]
        assert client.get(base).json()["stats"]["kept_files"] == expected["kept_files"]
        page = client.get(f"{base}/files", params={"lang": "Python", "content": True}).json()
        local = {r["file_id"]: r["content"] for r in _rows(runs.local, FILES)}
        assert page["files"] and all(local[f["file_id"]] == f["content"] for f in page["files"])
        manifest = client.get(f"{base}/shards").json()["shards"]
        shard = max(manifest, key=lambda s: s["bin"]["bytes"])
        whole = {}
        for kind in ("bin", "idx"):
            answer = client.get(shard[kind]["url"])
            assert answer.status_code == 200, answer.text
            assert hashlib.sha256(answer.content).hexdigest() == shard[kind]["sha256"]
            assert answer.headers["ETag"].strip('"') == shard[kind]["sha256"]
            whole[kind] = answer.content
        part = client.get(shard["bin"]["url"], headers={"Range": "bytes=10-4105"})
        assert part.status_code == 206 and part.content == whole["bin"][10:4106]


def test_trainer_reads_the_s3_shards(
    runs: Runs, s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODECORPUS_SHARD_CACHE", str(tmp_path / "cache"))
    remote = Catalog(runs.s3_settings)
    weights = {"Python": 3.0, "Markdown": 1.0}
    tokens = Registry(remote, "ds").get("v1").stats["tokens_by_language"]
    budget = 2 * sum(tokens[lang] for lang in weights)
    specs = [
        MixtureSpec.from_mixture(create_mixture(c, "ds", "v1", weights, budget), 127, verify=True)
        for c in (remote, runs.local)
    ]
    assert all(r.prefix.startswith("s3://") for c in specs[0].components for r in c.shards)
    assert specs[0].fingerprint() == specs[1].fingerprint()
    loaders = [MixtureLoader(spec, batch_size=4) for spec in specs]
    assert len(loaders[0]) == len(loaders[1]) > 10
    for step in (0, 1, len(loaders[0]) - 1):
        assert (loaders[0].batch(step) == loaders[1].batch(step)).all()
    assert any((tmp_path / "cache").rglob("*.bin"))  # read from the local, checked copies
