"""Dedup inside `codecorpus curate`: recorded decisions, workers, incremental runs, faults."""

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpus.cli.render import dedup_line
from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.curate_inputs import read_inputs
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.sources.samples import build_sample_corpus
from corpus.store.catalog import MINHASH, Catalog
from corpus.store.dedup_report import duplicate_matches
from corpus.store.lookup_index import build_index
from corpus.store.version_stats import DedupStats
from corpus.store.versions import Registry, scan_version
from tests.dedup.realfiles import add_comments, rename_rare_identifier
from tests.dedup.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

COLUMNS = ["file_id", "drop_reason", "dup_of", "dup_cluster"]


def _fork(source: Path, dest: Path) -> int:
    """A fork of a real repository: the same files, some edited, one copied verbatim."""
    shutil.copytree(source, dest)
    edited = 0
    for path in sorted(dest.rglob("*.py")):
        text = path.read_text()
        if len(text) > 2000:
            path.write_text(add_comments(text) if edited % 2 else rename_rare_identifier(text))
            edited += 1
    return edited


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base corpus, the same plus forks): real repositories with planted near-duplicates."""
    base = tmp_path_factory.mktemp("dedup") / "base"
    repos = build_sample_corpus(base, names=["click", "idna", "packaging", "iniconfig"])
    folders = {r.name.split("-")[0]: base / r.name for r in repos}
    union = base.parent / "union"
    shutil.copytree(base, union)
    assert _fork(folders["click"], union / "click-fork") >= 5
    assert _fork(folders["idna"], union / "idna-fork") >= 2
    return base, union


def _decisions(catalog: Catalog, name: str, dataset: str = "ds") -> pa.Table:
    version = Registry(catalog, dataset).get(name)
    table = scan_version(catalog, dataset, version).select(*COLUMNS).to_arrow()
    return table.sort_by("file_id")


def test_curate_drops_forks_and_records_why(corpora, catalog: Catalog) -> None:
    _, union = corpora
    ingest([str(union)], "ds", catalog, layout=Layout.REPOS)
    report = curate("ds", "v1", catalog)
    decisions = _decisions(catalog, "v1")
    near = decisions.filter(pc.equal(decisions["drop_reason"], "dedup:near")).to_pylist()
    exact = decisions.filter(pc.equal(decisions["drop_reason"], "dedup:exact")).to_pylist()
    assert len(near) >= 5 and len(exact) >= 5
    kept = set(decisions.filter(pc.is_null(decisions["drop_reason"]))["file_id"].to_pylist())
    assert all(row["dup_of"] in kept for row in near + exact)  # a dropped file names a kept one
    stats = Registry(catalog, "ds").get("v1").stats["dedup"]
    assert stats["near"]["removed"] == len(near) and stats["exact"]["removed"] == len(exact)
    assert sum(stats["removed_by_language"]["dedup:near"].values()) == len(near)
    assert stats["settings"]["bands"] * stats["settings"]["rows"] <= 256
    assert report.version.config["dedup"]["threshold"] == 0.7
    minhash = catalog.table("ds", MINHASH).scan().to_arrow()
    assert minhash.num_rows == stats["near"]["candidates"]
    assert len(minhash["band_keys"][0]) == stats["settings"]["bands"]
    # the run's checkpoints are gone once the version is published
    assert not any((catalog.settings.home / "warehouse" / "_runs" / "ds").glob("*"))


def test_same_version_whatever_workers_and_partitions(corpora, tmp_path: Path) -> None:
    _, union = corpora
    results = []
    for workers, partitions in ((1, 1), (2, 5), (4, 8)):
        catalog = Catalog(Settings(home=tmp_path / f"w{workers}"))
        runner = RunnerConfig(workers=workers, partitions=partitions)
        ingest([str(union)], "ds", catalog, runner=runner, layout=Layout.REPOS)
        curate("ds", "v1", catalog, runner=runner)
        results.append(_decisions(catalog, "v1"))
    assert results[0].num_rows > 100
    for other in results[1:]:
        assert other.equals(results[0])


@pytest.fixture(scope="module")
def incremental(corpora, ray_local, tmp_path_factory: pytest.TempPathFactory):
    """v1 of the base corpus; then, with the forks, v2 reusing v1's stored signatures (no
    lookup index yet) and v3 a full run."""
    base, union = corpora
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("incremental") / "home"))
    ingest([str(base)], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "v1", catalog)
    ingest([str(union)], "ds", catalog, layout=Layout.REPOS)
    broadcast = curate("ds", "v2", catalog, dedup_against="v1")
    full = curate("ds", "v3", catalog)
    return catalog, broadcast, full


def test_incremental_dedup_equals_a_full_run(incremental) -> None:
    catalog, incremental, full = incremental
    assert _decisions(catalog, "v2").equals(_decisions(catalog, "v3"))
    reused = incremental.dedup["reused_signatures"]
    v1_candidates = Registry(catalog, "ds").get("v1").stats["dedup"]["near"]["candidates"]
    assert reused == v1_candidates > 0
    assert incremental.dedup["reuse_source"] == "signatures"  # v1 has no lookup index
    assert "reuse_source" not in full.dedup
    assert incremental.dedup["near"]["matched_previous"] >= 5  # the forks' edited files
    assert full.dedup["near"]["matched_previous"] == 0
    assert Registry(catalog, "ds").get("v2").lineage["dedup_against"] == "v1"
    rows, total, previous = duplicate_matches(catalog, "ds", "v2", limit=1000)
    old_ids = set(_decisions(catalog, "v1")["file_id"].to_pylist())
    assert previous == "v1" and total == len(rows) >= incremental.dedup["near"]["matched_previous"]
    assert all(r["file_id"] not in old_ids and r["dup_of"] in old_ids for r in rows)
    assert all(r["kept_repo"] and r["repo"].endswith("-fork") for r in rows)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_incremental_dedup_through_the_lookup_index(
    incremental, storage: str, tmp_path: Path
) -> None:
    """With v1's lookup index built, the workers ask it for the signatures of unchanged
    content (nothing broadcast, no stored signature files read): the same decisions and
    numbers as the broadcast path and as a full run."""
    catalog, broadcast, full = incremental
    settings = catalog.settings
    if storage == "redis":
        server = RedisServer(tmp_path)
        server.start()
        settings = settings.model_copy(update={"lookup_redis_url": server.url})
    try:
        catalog = Catalog(settings)
        build_index(catalog, "ds", "v1", force=True)
        inputs = read_inputs(catalog, "ds", "unused", CurationConfig(), RunnerConfig(), "v1")
        assert inputs.reuse.source == "index" and inputs.reuse.index.storage == storage
        assert inputs.reuse.files == [] and inputs.reuse.keys.size == 0
        report = curate("ds", f"via-{storage}", catalog, dedup_against="v1")
    finally:
        if storage == "redis":
            server.stop(save=False)
    decisions = _decisions(catalog, f"via-{storage}")
    assert decisions.equals(_decisions(catalog, "v3"))
    assert decisions.equals(_decisions(catalog, "v2"))
    assert report.dedup["reuse_source"] == "index"
    assert report.dedup["reused_signatures"] == broadcast.dedup["reused_signatures"] > 0
    same = {k: v for k, v in report.dedup.items() if k != "reuse_source"}
    assert same == {k: v for k, v in broadcast.dedup.items() if k != "reuse_source"}
    assert report.dedup["near"]["matched_previous"] >= 5
    assert {**report.dedup["near"], "matched_previous": 0} == full.dedup["near"]
    assert "lookup index" in dedup_line(DedupStats.from_dict(report.dedup))


def test_an_in_process_index_too_large_for_every_worker_falls_back(
    incremental, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker would load an in-process index whole: past the size cap the run reuses the
    stored signatures instead (and says why in the log)."""
    from corpus.store import lookup_index

    catalog, broadcast, _ = incremental
    build_index(catalog, "ds", "v1", force=True)
    signatures = lookup_index.read_manifest(catalog.settings, "ds", "v1")["signatures"]
    monkeypatch.setattr(lookup_index, "MAX_MEMORY_REUSE_SIGNATURES", signatures - 1)
    inputs = read_inputs(catalog, "ds", "unused", CurationConfig(), RunnerConfig(), "v1")
    assert inputs.reuse.source == "signatures" and inputs.reuse.index is None
    assert inputs.reuse.count == broadcast.dedup["reused_signatures"] > 0
    monkeypatch.setattr(lookup_index, "MAX_MEMORY_REUSE_SIGNATURES", signatures)
    inputs = read_inputs(catalog, "ds", "unused", CurationConfig(), RunnerConfig(), "v1")
    assert inputs.reuse.source == "index"


def _kill_first(pattern: str, stop: threading.Event, killed: list[int]) -> None:
    while not stop.is_set() and not killed:
        for process in psutil.process_iter(["pid", "cmdline"]):
            if any(pattern in part for part in process.info["cmdline"] or []):
                process.kill()
                killed.append(process.info["pid"])
                return
        time.sleep(0.005)


@pytest.mark.parametrize("task", ["CurateWorker[", "exact[", "verify["])  # Ray task names
def test_worker_killed_mid_stage_gives_the_same_version(
    corpora, catalog: Catalog, task: str
) -> None:
    _, union = corpora
    ingest([str(union)], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "reference", catalog)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first, args=(f"ray::{task}", stop, killed))
    killer.start()
    try:
        curate("ds", "after-kill", catalog)
    finally:
        stop.set()
        killer.join()
    assert killed, f"no {task} process was seen to kill"
    assert _decisions(catalog, "after-kill").equals(_decisions(catalog, "reference"))


TWO_NODES = """
import json, sys
import ray
from ray.cluster_utils import Cluster
from corpus.store.catalog import Catalog
from corpus.core.cluster import RunnerConfig
from corpus.pipeline.curate import curate
from corpus.store.dedup_report import duplicate_matches
from corpus.store.lookup_index import build_index
from corpus.store.version_stats import DedupStats
from corpus.core.settings import Settings

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
runner = RunnerConfig(ray_address=cluster.address)
catalog = Catalog(Settings(home=sys.argv[1]))
report = curate("ds", "two-nodes", catalog, runner=runner)
nodes = len([n for n in ray.nodes() if n["Alive"]]) if ray.is_initialized() else 2
print(json.dumps({"nodes": nodes, "kept": report.version.stats["kept_files"]}))
cluster.shutdown()
"""


def test_two_ray_nodes_give_the_same_version(corpora, catalog: Catalog) -> None:
    _, union = corpora
    ingest([str(union)], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "one-node", catalog)
    done = subprocess.run(
        [sys.executable, "-c", TWO_NODES, str(catalog.settings.home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 2
    assert _decisions(catalog, "two-nodes").equals(_decisions(catalog, "one-node"))
