"""A 3-node Ray cluster on this machine, a small real corpus ingested once, and the version a
single-node run publishes from it: what every multi-node run must reproduce exactly."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo

from corpus.core.settings import Settings
from corpus.sources.samples import build_sample_corpus
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.versions import Registry, scan_version
from tests.cluster.localcluster import LocalRayCluster
from tests.dedup.realfiles import add_comments, rename_rare_identifier

CODECORPUS = str(Path(sys.executable).parent / "codecorpus")
DISTRIBUTIONS = ["annotated-types", "click", "idna", "iniconfig", "packaging", "typer"]
#: A small vocabulary: training a 32k one costs seconds the tests do not need.
CONFIG = "tokenizer:\n  vocab_size: 3000\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    """Head and two worker nodes (one CPU each; resources `w1`, `w2`), stopped at the end."""
    started = LocalRayCluster(node_cpus=(1, 1, 1)).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, cluster: LocalRayCluster) -> Path:
    """CODECORPUS_HOME holding dataset `ds`: real repositories, an edited fork of one
    (near-duplicates) and a verbatim copy of another (exact duplicates)."""
    root = tmp_path_factory.mktemp("cluster")
    repos = root / "repos"
    found = build_sample_corpus(repos, names=DISTRIBUTIONS)
    folders = {r.name.split("-")[0]: repos / r.name for r in found}
    fork = repos / "click-fork"
    shutil.copytree(folders["click"], fork)
    for number, path in enumerate(sorted(fork.rglob("*.py"))):
        text = path.read_text()
        if len(text) > 2000:
            path.write_text(add_comments(text) if number % 2 else rename_rare_identifier(text))
    shutil.copytree(folders["idna"], repos / "idna-copy")
    (root / "config.yaml").write_text(CONFIG)
    run_cli(root, cluster, "ingest", str(repos), "-d", "ds", "--layout", "repos")
    return root


@pytest.fixture(scope="module")
def single_node(home: Path) -> dict:
    """The version of a single-node run: a local Ray of its own (no --ray-address)."""
    run_cli(home, None, "curate", "ds", "-v", "single", "--workers", "2")
    return published(home, "single")


def run_cli(home: Path, cluster: LocalRayCluster | None, *args: str) -> str:
    """`codecorpus ARGS` in a new process, on `cluster` (via --ray-address) or a local Ray."""
    command = [CODECORPUS, *args]
    if args[0] == "curate":
        command += ["--config", str(home / "config.yaml")]
    if cluster is not None:
        command += ["--ray-address", cluster.address]
    env = cluster.client_env() if cluster else LocalRayCluster.plain_env()
    done = subprocess.run(
        command, env={**env, "CODECORPUS_HOME": str(home / "home")}, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def published(home: Path, name: str) -> dict:
    """What must not depend on the cluster: every file's decision and token count, the
    tokenizer, the shards (by sha256) and the statistics."""
    catalog = Catalog(Settings(home=home / "home"))
    version = Registry(catalog, "ds").get(name)
    decisions = scan_version(catalog, "ds", version).to_arrow().drop_columns(["version"])
    shards = (
        catalog.table("ds", SHARDS)
        .scan(
            row_filter=EqualTo("version", name),
            snapshot_id=version.lineage["shards_snapshot_id"],
        )
        .to_arrow()
        .drop_columns(["version", "prefix"])  # the path names the version
    )
    stats = {k: version.stats[k] for k in ("files", "kept_files", "drop_reasons", "tokens")}
    return {
        "decisions": decisions.sort_by("file_id"),
        "shards": shards.sort_by([(c, "ascending") for c in ("lang", "split", "bin_sha256")]),
        "stats": {**stats, "dedup": _dedup_counts(version.stats["dedup"])},
        "tokenizer": version.lineage["tokenizer"],
    }


def _dedup_counts(dedup: dict) -> dict:
    return {"exact": dedup["exact"]["removed"], "near": dedup["near"]["removed"]}


def assert_same_version(got: dict, expected: dict) -> None:
    assert got["tokenizer"] == expected["tokenizer"]
    assert got["stats"] == expected["stats"]
    decisions: pa.Table = got["decisions"]
    assert decisions.column_names == expected["decisions"].column_names
    for column in decisions.column_names:  # column by column: a failure names the column
        assert decisions[column].equals(expected["decisions"][column]), column
    assert got["shards"].equals(expected["shards"])
