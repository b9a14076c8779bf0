"""The tokenizer phase of curate and its bookkeeping: train or reuse a tokenizer on the
kept files, token statistics of a version, and the shard manifest's rows."""

import pyarrow as pa

from corpus.core.cluster import RunnerConfig
from corpus.core.exchange import join
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.dedup_phase import Progress
from corpus.pipeline.stage_worker import candidates_task, language_bytes_task
from corpus.pipeline.steps import reported_step
from corpus.store.catalog import Catalog, data_file_uris
from tokenizer.phase import sampling_rates, train_from_candidates
from tokenizer.sample import language_targets
from tokenizer.store import TokenizerStore
from tokenizer.write import SHARDS_SCHEMA


def version_tokenizer(
    catalog: Catalog,
    dataset: str,
    version: str,
    snapshot_id: int,
    config: CurationConfig,
    runner: RunnerConfig,
    run: str,
    on_step: Progress | None,
) -> str | None:
    """The tokenizer of the version: the configured one, or one trained on its kept files."""
    if not config.shards.enabled:
        return None
    store = TokenizerStore(catalog.settings.resolved_warehouse())
    if config.shards.tokenizer:
        return store.resolve(config.shards.tokenizer)
    parts = range(runner.partitions)

    def step(name: str, task, args, combine):
        return reported_step(run, name, task, args, combine, on_step)

    available = step("tokenizer-bytes", language_bytes_task, [(run, p) for p in parts], _sum_counts)
    if not available:
        return None  # nothing kept: nothing to tokenize
    train = config.tokenizer
    rates = sampling_rates(available, train)
    step(
        "tokenizer-sample",
        candidates_task,
        [(run, p, rates, train.seed) for p in parts],
        _sum_counts,
    )
    record = {"dataset": dataset, "version": version, "raw_snapshot_id": snapshot_id}
    trained = step(
        "tokenizer-train",
        train_from_candidates,
        [
            (
                join(run, "tokenizer", "candidates"),
                language_targets(available, train),
                train.to_dict(),
                store.root,
                record,
                config.shards.shrink_vocab,
            )
        ],
        lambda results: results[0],
    )
    return trained["sha256"]


def _sum_counts(results: list[dict]) -> dict:
    total: dict = {}
    for result in results:
        for key, value in result.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


def token_stats(calls: list[dict], shards: list[dict], stats: dict, sha: str | None) -> dict:
    """Tokens per language (into stats["languages"]), the tokenizer and the shard summary."""
    if sha is None:
        return {"tokens": None}
    by_lang: dict[str, int] = {}
    chars: dict[str, int] = {}
    for call in calls:
        for lang, entry in call.get("tokens_by_lang", {}).items():
            by_lang[lang] = by_lang.get(lang, 0) + entry["tokens"]
            chars[lang] = chars.get(lang, 0) + entry["chars"]
    by_lang = dict(sorted(by_lang.items()))
    for lang, tokens in by_lang.items():
        entry = stats["languages"].setdefault(lang, {"files": 0, "bytes": 0})
        entry["tokens"] = tokens
        entry["chars_per_token"] = round(chars[lang] / tokens, 3) if tokens else None
        entry["bytes_per_token"] = round(entry["bytes"] / tokens, 3) if tokens else None
    splits = _sum_counts(
        [
            {f"{s['split']}_tokens": s["tokens"], f"{s['split']}_documents": s["documents"]}
            for s in shards
        ]
    )
    return {
        "tokens": sum(by_lang.values()),
        "tokens_by_language": by_lang,
        "tokenizer": sha,
        "shards": {"count": len(shards), **splits},
    }


def shards_schema() -> pa.Schema:
    return pa.schema([pa.field("version", pa.string(), nullable=False), *SHARDS_SCHEMA])


def commit_version_rows(
    catalog: Catalog,
    dataset: str,
    table_name: str,
    version: str,
    rows: list[dict],
    schema: pa.Schema,
    tokenizer: str | None = None,
) -> int:
    """Replace a version's rows (of one tokenizer, if given) of a small table (the shard
    manifest), tagged with the version name; returns the snapshot."""
    from pyiceberg.expressions import And, EqualTo

    from corpus.store.versions import tag_staged_snapshot

    table = pa.Table.from_pylist([{**r, "version": version} for r in rows], schema=schema)

    def replace(iceberg_table, tx) -> int:
        condition = EqualTo("version", version)
        if tokenizer is not None:
            condition = And(condition, EqualTo("tokenizer", tokenizer))
        if data_file_uris(iceberg_table, row_filter=condition):  # rows of an earlier attempt
            tx.delete(condition)
        tx.append(table)  # even empty: the commit has a snapshot of its own to record
        return tag_staged_snapshot(tx, version)

    return catalog.commit(dataset, table_name, replace)
