"""Token counts and shards of a published version with any stored tokenizer (CLI and API).

`codecorpus curate` already counts and shards with the version's own tokenizer;
these functions redo it for another tokenizer, or train one on a version, without
touching the version itself (shards of other tokenizers are added to `<ds>.shards`).
Counting and sharding are phases (`corpus.pipeline.steps`): one named, retried task per
data file of the version (`tokenizer.version`), spread over the cluster.
"""

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from pyiceberg.expressions import EqualTo

from corpus.core.cluster import RunnerConfig, ray_session
from corpus.pipeline.steps import Phase, TaskProgress, run_phase
from corpus.pipeline.tokenizer_phase import commit_version_rows
from corpus.store.catalog import FILES, SHARDS, Catalog, data_file_uris
from corpus.store.versions import Registry, Version
from tokenizer.config import ShardsConfig
from tokenizer.manifest import shard_root, shards_schema
from tokenizer.store import TokenizerStore
from tokenizer.version import (
    CountArgs,
    ShardArgs,
    count_file,
    merge_counts,
    read_sorted,
    resolve_model,
    shard_file,
)

#: `on_progress(data files done, data files in all, tokens so far)`, as each task ends.
TokenProgress = Callable[[int, int, int], None]


def _files(catalog: Catalog, dataset: str, version: Version) -> list[str]:
    table = catalog.table(dataset, FILES)
    return data_file_uris(table, version.files_snapshot_id, EqualTo("version", version.name))


def _model(catalog: Catalog, version: Version, tokenizer: str | None) -> tuple[str, bytes]:
    store = TokenizerStore(catalog.settings.resolved_warehouse())
    return resolve_model(store, version.name, tokenizer or version.lineage.tokenizer)


def _run_once(phase: Phase) -> dict[str, Any]:
    """A phase whose results only this call needs: its marker goes to a temporary folder
    (the driver alone reads and writes markers), gone once the call returns."""
    with tempfile.TemporaryDirectory(prefix="codecorpus-tokens-") as run:
        return run_phase(run, phase)


def count_tokens(
    catalog: Catalog,
    dataset: str,
    name: str,
    tokenizer: str | None = None,
    runner: RunnerConfig | None = None,
    on_progress: TokenProgress | None = None,
) -> tuple[str, dict[str, dict[str, int]]]:
    """(tokenizer sha, files/bytes/tokens per language) of a version's kept files."""
    import ray

    version = Registry(catalog, dataset).get(name)
    sha, model = _model(catalog, version, tokenizer)
    with ray_session(runner or RunnerConfig()):
        model_ref = ray.put(model)
        args = [CountArgs(uri, model_ref) for uri in _files(catalog, dataset, version)]
        on_task = _progress(on_progress, lambda r: sum(x["tokens"] for x in r["languages"]))
        totals = _run_once(Phase("tokens-count", count_file, args, merge_counts, on_task=on_task))
    return sha, totals


def write_version_shards(
    catalog: Catalog,
    dataset: str,
    name: str,
    tokenizer: str | None = None,
    shards: ShardsConfig | None = None,
    runner: RunnerConfig | None = None,
    on_progress: TokenProgress | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Write a version's shards with a tokenizer and list them in `<ds>.shards`."""
    import ray

    version = Registry(catalog, dataset).get(name)
    sha, model = _model(catalog, version, tokenizer)
    shards = shards or ShardsConfig(**version.config.get("shards", {}))
    table = catalog.ensure_table(dataset, SHARDS, shards_schema(), "version")
    root = shard_root(table.location(), name, sha)
    with ray_session(runner or RunnerConfig()):
        model_ref = ray.put(model)
        args = [
            ShardArgs(uri, model_ref, f"{root}/f{i:05d}", asdict(shards))
            for i, uri in enumerate(_files(catalog, dataset, version))
        ]
        on_task = _progress(on_progress, lambda r: sum(row["tokens"] for row in r["shards"]))
        phase = Phase("tokens-shards", shard_file, args, _concat_shards, on_task=on_task)
        written = _run_once(phase)
    rows = written["shards"]
    commit_version_rows(catalog, dataset, SHARDS, name, rows, tokenizer=sha)
    return sha, rows


def _progress(
    on_progress: TokenProgress | None, tokens: Callable[[dict[str, Any]], int]
) -> TaskProgress | None:
    """The phase's per-task callback that adds up tokens for `on_progress`."""
    if on_progress is None:
        return None
    seen = [0]

    def on_task(done: int, total: int, result: dict[str, Any]) -> None:
        seen[0] += tokens(result) if result else 0
        on_progress(done, total, seen[0])

    return on_task


def _concat_shards(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"shards": [row for result in results for row in result["shards"]]}


def train_on_version(
    catalog: Catalog, dataset: str, name: str, config=None
) -> tuple[str, dict[str, Any]]:
    """Train a tokenizer on a version's kept files (hash-sampled, streamed); store it."""
    from tokenizer.config import TokenizerConfig
    from tokenizer.sample import sample_documents
    from tokenizer.train import train_tokenizer

    config = config or TokenizerConfig()
    version = Registry(catalog, dataset).get(name)
    available = {
        lang: entry.bytes for lang, entry in version.stats.languages.items() if entry.bytes
    }
    batches = (read_sorted(uri) for uri in _files(catalog, dataset, version))
    trained = train_tokenizer(sample_documents(batches, config, available), config)
    record = {**trained.describe(), "dataset": dataset, "version": name}
    sha = TokenizerStore(catalog.settings.resolved_warehouse()).save(trained.model_bytes, record)
    return sha, record
