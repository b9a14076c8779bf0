"""Token counts and shards of a published version's kept files with a stored tokenizer.

One task per data file of the version: it reads the file (sorted by file id, so the
output does not depend on the order files are listed) and counts or shards it. The
arguments are frozen dataclasses whose fields are the tasks' keyword arguments, as
the pipeline's phases take them; `model` may be an object ref, resolved in the worker.
"""

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.core.errors import CodecorpusError
from corpus.core.storage import filesystem_for
from tokenizer.config import ShardsConfig
from tokenizer.count import LANGUAGE_STATS_SCHEMA, merge_language_stats
from tokenizer.store import TokenizerStore

COLUMNS = ["file_id", "repo", "lang", "content"]


@dataclass(frozen=True)
class CountArgs:
    uri: str
    model: Any


@dataclass(frozen=True)
class ShardArgs:
    uri: str
    model: Any
    shard_dir: str
    shards: dict


def read_sorted(uri: str) -> pa.Table:
    """What tokenizing a version's data file needs, in file id order."""
    fs, path = filesystem_for(uri)
    return pq.read_table(path, filesystem=fs, columns=COLUMNS).sort_by("file_id")


def count_file(uri: str, model: bytes) -> dict[str, Any]:
    """Files, chars, bytes and tokens per language of one data file (`language_stats`)."""
    from tokenizer.count import TokenCounter

    return {"languages": TokenCounter(model)(read_sorted(uri)).to_pylist()}


def merge_counts(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Files, bytes and tokens per language over every file's counts, languages sorted."""
    parts = [pa.Table.from_pylist(r["languages"], LANGUAGE_STATS_SCHEMA) for r in results]
    totals = {
        row["lang"]: {"files": row["files"], "bytes": row["bytes"], "tokens": row["tokens"]}
        for row in merge_language_stats(parts).to_pylist()
    }
    return dict(sorted(totals.items()))


def shard_file(uri: str, model: bytes, shard_dir: str, shards: dict) -> dict[str, Any]:
    """Write one data file's shards; their manifest rows."""
    from tokenizer.partition import PartitionTokenizer

    writer = PartitionTokenizer(model, shard_dir, ShardsConfig(**shards))
    writer(read_sorted(uri))
    return {"shards": writer.close()}


def resolve_model(store: TokenizerStore, version: str, ident: str | None) -> tuple[str, bytes]:
    """(sha256, model bytes) of the tokenizer `ident` names, else the version's own one."""
    if not ident:
        raise CodecorpusError(
            f"version {version!r} has no tokenizer; pass --tokenizer SHA "
            "(`codecorpus tokenizer list`) or train one with `codecorpus tokenizer train`"
        )
    sha = store.resolve(ident)
    return sha, store.load(sha)
