"""What changed between two versions of a dataset, computed from their decisions.

Files are matched by `file_id` (stable for a repo + path across ingests):

- **added**: in B, not in A; **removed**: in A, not in B;
- **changed**: in both with a different `content_sha256` (the source bytes changed;
  formatters do not change it); **unchanged**: in both with the same one.

Independently of that, a file in both versions may have a different decision:
kept in A and dropped in B, dropped in A and kept in B, or dropped for another
reason. Those are the *transitions*, grouped by (reason in A -> reason in B),
with `None` standing for "kept".

Only six columns of each version's decisions are scanned (no content), pinned
to the snapshots the versions were published with, and compared with polars
joins. The result is a plain, JSON-ready dict (the API's `/diff` returns it as
is); `diff_versions` documents its layout.
"""

from typing import Any

import polars as pl

from corpus.store.catalog import Catalog
from corpus.store.versions import Registry, Version, scan_version

#: The decisions columns a diff reads.
COLUMNS = ("file_id", "lang", "size", "content_sha256", "drop_reason", "tokens")
#: Lineage fields compared between the two versions.
LINEAGE_FIELDS = (
    "raw_snapshot_id", "config_fingerprint", "tokenizer", "code_version",
    "opt_out_revision", "spdx_license_list", "dedup_against",
)  # fmt: skip
#: Name used for files without a language, as in the version stats.
UNKNOWN = "unknown"
CATEGORIES = ("added", "removed", "changed", "unchanged")


def diff_versions(catalog: Catalog, dataset: str, a: str, b: str) -> dict[str, Any]:
    """Compare version `a` (old) with version `b` (new) of `dataset`.

    Raises DatasetNotFound or VersionNotFound for names that do not exist.
    Comparing a version with itself is allowed and gives an empty diff.

    The result (string keys, JSON-ready values)::

        {
          "dataset": str,
          "a": Info, "b": Info,
              # Info = {"name", "created_at" (ISO 8601), "files" (all, kept or not),
              #         "kept_files", "kept_bytes", "tokens" (None: no tokens counted)}
          "identical": bool,   # nothing added, removed, changed or decided differently
          "lineage": {field: {"a": value, "b": value, "changed": bool}},
              # raw_snapshot_id, config_fingerprint, tokenizer, code_version,
              # opt_out_revision, spdx_license_list, dedup_against
          "summary": {
            "added" | "removed" | "changed" | "unchanged": {"files": int, "bytes": int},
                # bytes as in B (removed files: as in A);
                # "changed" also has "bytes_delta" (B - A over the changed files)
            "kept": {"a": Kept, "b": Kept, "delta": Kept},
                # Kept = {"files", "bytes", "tokens"} of the kept files; delta = b - a;
                # tokens None where a version counted none
            "transitions": {"kept_to_dropped": int, "dropped_to_kept": int,
                            "reason_changed": int},   # among files in both versions
          },
          "languages": {lang: {   # "unknown" for files without a language; sorted
            "added" | "removed" | "changed" | "unchanged": {"files", "bytes"},
                # a file counts under its language in B (removed files: in A)
            "kept": {"a": Kept, "b": Kept, "delta": Kept},   # by each side's language
          }},
          "reasons": {
            "added": {reason: {"files", "bytes"}},    # B's decision on the added files
            "removed": {reason: {"files", "bytes"}},  # A's decision on the removed files
          },   # "kept" stands for no drop reason
          "transitions": [{"from": str | None, "to": str | None, "files", "bytes"}],
              # files in both versions decided differently, grouped by A's drop
              # reason -> B's (None = kept); most files first; bytes as in B
        }
    """
    registry = Registry(catalog, dataset)
    version_a, version_b = registry.get(a), registry.get(b)
    tokens_a, tokens_b = _counts_tokens(version_a), _counts_tokens(version_b)
    left = _decisions(catalog, dataset, version_a)
    right = _decisions(catalog, dataset, version_b)
    joined = _join(left, right)
    kept_a, kept_b = _kept_by_language(left, tokens_a), _kept_by_language(right, tokens_b)
    categories = _categories_by_language(joined)
    transitions = _transitions(joined)

    summary: dict[str, Any] = {c: _total(e[c] for e in categories.values()) for c in CATEGORIES}
    changed = joined.filter(pl.col("category") == "changed")
    summary["changed"]["bytes_delta"] = int((changed["size_b"] - changed["size"]).sum())
    summary["kept"] = _kept_pair(
        _total(kept_a.values(), _zero_kept(tokens_a)), _total(kept_b.values(), _zero_kept(tokens_b))
    )
    summary["transitions"] = _transition_counts(transitions)
    languages = {
        lang: {
            **categories.get(lang, _zero_categories()),
            "kept": _kept_pair(
                kept_a.get(lang, _zero_kept(tokens_a)), kept_b.get(lang, _zero_kept(tokens_b))
            ),
        }
        for lang in sorted(categories.keys() | kept_a.keys() | kept_b.keys())
    }
    moved = ("added", "removed", "changed")
    return {
        "dataset": dataset,
        "a": _info(version_a, left.height, summary["kept"]["a"]),
        "b": _info(version_b, right.height, summary["kept"]["b"]),
        "identical": not transitions and all(summary[c]["files"] == 0 for c in moved),
        "lineage": _lineage(version_a, version_b),
        "summary": summary,
        "languages": languages,
        "reasons": {
            "added": _by_reason(joined.filter(pl.col("category") == "added"), "drop_reason_b"),
            "removed": _by_reason(joined.filter(pl.col("category") == "removed"), "drop_reason"),
        },
        "transitions": transitions,
    }


def _decisions(catalog: Catalog, dataset: str, version: Version) -> pl.DataFrame:
    """The diff columns of a version's decisions, at the snapshot it was published with."""
    scan = scan_version(catalog, dataset, version).select(*COLUMNS)
    frame = pl.from_arrow(scan.to_arrow())
    return frame.select(
        pl.col("file_id").cast(pl.String),
        pl.col("lang").cast(pl.String).fill_null(UNKNOWN),
        pl.col("size").cast(pl.Int64),
        pl.col("content_sha256").cast(pl.String),
        pl.col("drop_reason").cast(pl.String),
        pl.col("tokens").cast(pl.Int64),
    )


def _counts_tokens(version: Version) -> bool:
    return version.lineage.tokenizer is not None


def _join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """One row per file of either version: A's columns, B's with suffix `_b`, its category,
    its language (B's, or A's for removed files) and its bytes (likewise)."""
    joined = left.join(right, on="file_id", how="full", suffix="_b", coalesce=True)
    in_a, in_b = pl.col("size").is_not_null(), pl.col("size_b").is_not_null()
    same = pl.col("content_sha256").eq_missing(pl.col("content_sha256_b"))
    category = (
        pl.when(~in_b).then(pl.lit("removed"))
        .when(~in_a).then(pl.lit("added"))
        .when(same).then(pl.lit("unchanged"))
        .otherwise(pl.lit("changed"))
    )  # fmt: skip
    return joined.with_columns(
        category.alias("category"),
        pl.when(in_b).then(pl.col("lang_b")).otherwise(pl.col("lang")).alias("language"),
        pl.when(in_b).then(pl.col("size_b")).otherwise(pl.col("size")).alias("bytes"),
    )


def _zero_categories() -> dict[str, dict[str, int]]:
    return {c: {"files": 0, "bytes": 0} for c in CATEGORIES}


def _categories_by_language(joined: pl.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    grouped = joined.group_by("language", "category").agg(
        pl.len().alias("files"), pl.col("bytes").sum()
    )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for lang, category, files, size in grouped.iter_rows():
        out.setdefault(lang, _zero_categories())[category] = {"files": files, "bytes": size}
    return out


Kept = dict[str, int | None]


def _zero_kept(counts_tokens: bool) -> Kept:
    return {"files": 0, "bytes": 0, "tokens": 0 if counts_tokens else None}


def _kept_by_language(frame: pl.DataFrame, counts_tokens: bool) -> dict[str, Kept]:
    grouped = (
        frame.filter(pl.col("drop_reason").is_null())
        .group_by("lang")
        .agg(pl.len().alias("files"), pl.col("size").sum(), pl.col("tokens").sum())
    )
    return {
        lang: {"files": files, "bytes": size, "tokens": tokens if counts_tokens else None}
        for lang, files, size, tokens in grouped.iter_rows()
    }


def _total(entries, zero: dict | None = None) -> dict:
    """Sum of count dicts with the same keys (None stays None: not counted)."""
    total = dict(zero or {"files": 0, "bytes": 0})
    for entry in entries:
        for key, value in entry.items():
            total[key] = None if value is None or total.get(key) is None else total[key] + value
    return total


def _kept_pair(a: Kept, b: Kept) -> dict[str, Kept]:
    delta = {k: None if a[k] is None or b[k] is None else b[k] - a[k] for k in a}
    return {"a": a, "b": b, "delta": delta}


def _by_reason(rows: pl.DataFrame, column: str) -> dict[str, dict[str, int]]:
    grouped = (
        rows.group_by(pl.col(column).fill_null("kept").alias("reason"))
        .agg(pl.len().alias("files"), pl.col("bytes").sum())
        .sort("reason")
    )
    return {reason: {"files": f, "bytes": b} for reason, f, b in grouped.iter_rows()}


def _transitions(joined: pl.DataFrame) -> list[dict[str, Any]]:
    both = joined.filter(pl.col("size").is_not_null() & pl.col("size_b").is_not_null())
    moved = both.filter(~pl.col("drop_reason").eq_missing(pl.col("drop_reason_b")))
    grouped = (
        moved.group_by(pl.col("drop_reason").alias("from"), pl.col("drop_reason_b").alias("to"))
        .agg(pl.len().alias("files"), pl.col("bytes").sum())
        .sort(["files", "from", "to"], descending=[True, False, False], nulls_last=False)
    )
    return [{"from": f, "to": t, "files": n, "bytes": b} for f, t, n, b in grouped.iter_rows()]


def _transition_counts(transitions: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"kept_to_dropped": 0, "dropped_to_kept": 0, "reason_changed": 0}
    for row in transitions:
        if row["from"] is None:
            counts["kept_to_dropped"] += row["files"]
        elif row["to"] is None:
            counts["dropped_to_kept"] += row["files"]
        else:
            counts["reason_changed"] += row["files"]
    return counts


def _info(version: Version, files: int, kept: Kept) -> dict[str, Any]:
    return {
        "name": version.name,
        "created_at": version.created_at.isoformat(),
        "files": files,
        "kept_files": kept["files"],
        "kept_bytes": kept["bytes"],
        "tokens": kept["tokens"],
    }


def _lineage(a: Version, b: Version) -> dict[str, dict[str, Any]]:
    out = {}
    for name in LINEAGE_FIELDS:
        old, new = getattr(a.lineage, name), getattr(b.lineage, name)
        out[name] = {"a": old, "b": new, "changed": old != new}
    return out


__all__ = ["diff_versions"]
