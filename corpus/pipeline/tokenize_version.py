"""Token counts and shards of a published version with any stored tokenizer (CLI and API).

`codecorpus curate` already counts and shards with the version's own tokenizer;
these functions redo it for another tokenizer, or train one on a version, without
touching the version itself (shards of other tokenizers are added to `<ds>.shards`).
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import EqualTo

from corpus.core.cluster import RunnerConfig, ray_session
from corpus.core.storage import filesystem_for
from corpus.store.catalog import FILES, SHARDS, Catalog, data_file_uris
from corpus.store.versions import Registry, Version
from tokenizer.config import ShardsConfig
from tokenizer.phase import PartitionTokenizer
from tokenizer.store import TokenizerStore

COLUMNS = ["file_id", "repo", "lang", "content"]

#: `on_progress(data files done, data files in all, tokens so far)`, as each task ends.
TokenProgress = Callable[[int, int, int], None]


def _files(catalog: Catalog, dataset: str, version: Version) -> list[str]:
    table = catalog.table(dataset, FILES)
    return data_file_uris(table, version.files_snapshot_id, EqualTo("version", version.name))


def _read(uri: str) -> pa.Table:
    fs, path = filesystem_for(uri)
    table = pq.read_table(path, filesystem=fs, columns=COLUMNS)
    return table.sort_by("file_id")


def _count_task(uri: str, model: bytes) -> pa.Table:
    """Files, chars, bytes and tokens per language of one data file (`language_stats`)."""
    from tokenizer.count import TokenCounter

    return TokenCounter(model)(_read(uri))


def _shard_task(uri: str, model: bytes, shard_dir: str, shards: dict) -> list[dict[str, Any]]:
    writer = PartitionTokenizer(model, shard_dir, ShardsConfig(**shards))
    writer(_read(uri))
    return writer.close()


def _resolve(catalog: Catalog, version: Version, tokenizer: str | None) -> tuple[str, bytes]:
    store = TokenizerStore(catalog.settings.resolved_warehouse())
    ident = tokenizer or version.lineage.tokenizer
    if not ident:
        from corpus.core.errors import CodecorpusError

        raise CodecorpusError(
            f"version {version.name!r} has no tokenizer; pass --tokenizer SHA "
            "(`codecorpus tokenizer list`) or train one with `codecorpus tokenizer train`"
        )
    sha = store.resolve(ident)
    return sha, store.load(sha)


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
    sha, model = _resolve(catalog, version, tokenizer)
    from tokenizer.count import merge_language_stats

    with ray_session(runner or RunnerConfig()):
        task = ray.remote(_count_task).options(num_cpus=1, max_retries=3)
        model_ref = ray.put(model)
        calls = [task.remote(u, model_ref) for u in _files(catalog, dataset, version)]
        parts = _gather(calls, on_progress, lambda part: int(pc.sum(part["tokens"]).as_py() or 0))
    totals = {
        row["lang"]: {"files": row["files"], "bytes": row["bytes"], "tokens": row["tokens"]}
        for row in merge_language_stats(parts).to_pylist()
    }
    return sha, dict(sorted(totals.items()))


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

    from corpus.pipeline.tokenizer_phase import commit_version_rows, shards_schema

    version = Registry(catalog, dataset).get(name)
    sha, model = _resolve(catalog, version, tokenizer)
    shards = shards or ShardsConfig(**version.config.get("shards", {}))
    table = catalog.ensure_table(dataset, SHARDS, shards_schema(), "version")
    root = f"{table.location().rstrip('/')}/data/version={name}/tokenizer={sha[:16]}"
    with ray_session(runner or RunnerConfig()):
        task = ray.remote(_shard_task).options(num_cpus=1, max_retries=3)
        model_ref = ray.put(model)
        calls = [
            task.remote(uri, model_ref, f"{root}/f{i:05d}", asdict(shards))
            for i, uri in enumerate(_files(catalog, dataset, version))
        ]
        parts = _gather(calls, on_progress, lambda part: sum(r["tokens"] for r in part))
        rows = [row for part in parts for row in part]
    commit_version_rows(catalog, dataset, SHARDS, name, rows, shards_schema(), tokenizer=sha)
    return sha, rows


def _gather(calls: list, on_progress: TokenProgress | None, tokens: Callable[[Any], int]) -> list:
    """Results of every call in order; `on_progress` as each one finishes."""
    import ray

    if on_progress is None:
        return ray.get(calls)
    index = {ref: i for i, ref in enumerate(calls)}
    results: list[Any] = [None] * len(calls)
    pending, done, total_tokens = list(calls), 0, 0
    on_progress(0, len(calls), 0)
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        result = results[index[finished[0]]] = ray.get(finished[0])
        done, total_tokens = done + 1, total_tokens + tokens(result)
        on_progress(done, len(calls), total_tokens)
    return results


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
    batches = (_read(uri) for uri in _files(catalog, dataset, version))
    trained = train_tokenizer(sample_documents(batches, config, available), config)
    record = {**trained.describe(), "dataset": dataset, "version": name}
    sha = TokenizerStore(catalog.settings.resolved_warehouse()).save(trained.model_bytes, record)
    return sha, record
