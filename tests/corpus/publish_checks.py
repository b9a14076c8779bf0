"""Helpers of the publishing tests: `codecorpus` subprocesses, a version's rows, and whether
a visible version is whole."""

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
from pyiceberg.expressions import EqualTo

from corpus.core.settings import Settings
from corpus.store.catalog import MINHASH, SHARDS, Catalog
from corpus.store.versions import FILES, Registry, Version, scan_version

#: Columns that identify a version's content whatever its name (and ingest id).
CONTENT = ["file_id", "repo", "path", "lang", "size", "drop_reason", "tokens"]


def pg_settings(home: Path, catalog_uri: str) -> Settings:
    return Settings(home=home, catalog_uri=catalog_uri, warehouse=(home / "wh").as_uri())


def settings_env(settings: Settings, ray_host: dict[str, str]) -> dict[str, str]:
    """Environment of a `codecorpus` process that uses `settings` and the shared Ray."""
    import os

    return {
        **os.environ,
        **ray_host,
        "CODECORPUS_HOME": str(settings.home),
        "CODECORPUS_CATALOG_URI": settings.resolved_catalog_uri(),
        "CODECORPUS_WAREHOUSE": settings.resolved_warehouse(),
    }


def codecorpus(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start the `codecorpus` CLI in a process of its own."""
    command = [str(Path(sys.executable).parent / "codecorpus"), *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def check_run(proc: subprocess.Popen, timeout: float = 300) -> str:
    """Wait for a process that must succeed; its stdout."""
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{proc.args}: {stderr[-3000:]}{stdout[-3000:]}"
    return stdout


def run_folders(settings: Settings, dataset: str) -> list[Path]:
    """Checkpoint folders of the dataset's unfinished runs."""
    root = Path(settings.resolved_warehouse().removeprefix("file://")) / "_runs" / dataset
    return sorted(root.iterdir()) if root.exists() else []


def decisions(catalog: Catalog, dataset: str, version: Version) -> pa.Table:
    rows = scan_version(catalog, dataset, version).to_arrow()
    return rows.select(CONTENT).sort_by("file_id")


def row_counts(catalog: Catalog, dataset: str, version: Version) -> dict[str, int]:
    """Rows of each table the version published, read the way readers find them."""
    counts = {
        "decisions": scan_version(catalog, dataset, version).to_arrow().num_rows,
        "files": scan_version(catalog, dataset, version, FILES).to_arrow().num_rows,
    }
    minhash_snapshot = version.lineage.get("minhash_snapshot_id")
    if minhash_snapshot:
        scan = catalog.table(dataset, MINHASH).scan(
            row_filter=EqualTo("version", version.name), snapshot_id=minhash_snapshot
        )
        counts["minhash"] = scan.to_arrow().num_rows
    if version.lineage.get("tokenizer"):  # the API reads the shard manifest's current state
        scan = catalog.table(dataset, SHARDS).scan(row_filter=EqualTo("version", version.name))
        counts["shards"] = scan.to_arrow().num_rows
    return counts


def expected_counts(version: Version) -> dict[str, int]:
    """The same counts from the version's own recorded statistics."""
    stats = version.stats
    counts = {"decisions": stats["files"], "files": stats["kept_files"]}
    if version.lineage.get("minhash_snapshot_id"):
        counts["minhash"] = stats["dedup"].get("near", {}).get("candidates", 0)
    if version.lineage.get("tokenizer"):
        counts["shards"] = stats["shards"]["count"]
    return counts


def incomplete_versions(catalog: Catalog, dataset: str) -> dict[str, tuple[dict, dict]]:
    """Every visible version whose rows differ from its statistics: (seen, expected)."""
    bad = {}
    for version in Registry(catalog, dataset).list():
        seen, expected = row_counts(catalog, dataset, version), expected_counts(version)
        if seen != expected:
            bad[version.name] = (seen, expected)
    return bad
