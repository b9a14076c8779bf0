"""The shard manifest of a version (`<ds>.shards`) and its token statistics.

Rows carry the version name; a version's shards of one tokenizer live under
`<shards table>/data/version=<v>/tokenizer=<sha[:16]>`, one folder per writer task.
"""

from typing import Any

import pyarrow as pa

from tokenizer.write import SHARDS_SCHEMA


def shards_schema() -> pa.Schema:
    return pa.schema([pa.field("version", pa.string(), nullable=False), *SHARDS_SCHEMA])


def shard_root(table_location: str, version: str, sha: str) -> str:
    """Where a version's shards of tokenizer `sha` are written."""
    return f"{table_location.rstrip('/')}/data/version={version}/tokenizer={sha[:16]}"


def manifest_table(rows: list[dict[str, Any]], version: str) -> pa.Table:
    """Shard rows tagged with their version, in the manifest's schema."""
    return pa.Table.from_pylist([{**r, "version": version} for r in rows], schema=shards_schema())


def sum_counts(results: list[dict]) -> dict:
    """Counts of several tasks added up, keys sorted."""
    total: dict = {}
    for result in results:
        for key, value in result.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


def token_stats(calls: list[dict], shards: list[dict], stats: dict, sha: str | None) -> dict:
    """Tokens per language (into stats["languages"]), the tokenizer and the shard summary.

    `calls` are the finish tasks' results (their `tokens_by_lang`), `shards` the manifest
    rows; `stats` is the version's statistics, whose languages gain token figures."""
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
    splits = sum_counts(
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
