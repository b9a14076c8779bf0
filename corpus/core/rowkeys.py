"""Row identity for re-ingest: the same file with the same bytes is never added twice.

A key is a 16-byte blake2b digest of (file_id, content sha256, size): sorted
numpy arrays of them take 16 bytes a row, shared zero-copy with every worker
on a node through Ray's object store.
"""

import hashlib

import numpy as np
import polars as pl
import pyarrow as pa

#: Identify a file's bytes: the same file with the same content is one row.
CONTENT_KEY = ("file_id", "content_sha256", "size")
#: Identify one raw row: which ingest added it, from where.
ROW_KEY = (*CONTENT_KEY, "ingest_id", "source")


def row_keys(table: pa.Table, columns: tuple[str, ...] = CONTENT_KEY) -> np.ndarray:
    values = zip(*(table.column(c).to_pylist() for c in columns), strict=True)
    digests = [
        hashlib.blake2b(
            "|".join("-" if v is None else str(v) for v in row).encode(), digest_size=16
        ).digest()
        for row in values
    ]
    return np.array(digests, dtype="S16")


def latest_rows(keys: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split raw key columns into (latest row per file_id, superseded rows).

    The newest ingest wins; ties within one ingest break on content hash then
    source, so the choice never depends on file or worker order.
    """
    key_columns = keys.select(list(ROW_KEY))
    frame = pl.from_arrow(key_columns)
    ranked = frame.sort(
        ["file_id", "ingest_id", "content_sha256", "source"],
        descending=[False, True, True, True],
        nulls_last=True,
    ).with_columns(pl.int_range(pl.len()).over("file_id").alias("_rank"))
    latest = ranked.filter(pl.col("_rank") == 0).drop("_rank")
    superseded = ranked.filter(pl.col("_rank") > 0).drop("_rank")
    schema = key_columns.schema  # polars hands back large_string; keep the table's types
    return latest.to_arrow().cast(schema), superseded.to_arrow().cast(schema)


def key_set(keys: np.ndarray) -> np.ndarray:
    return np.unique(keys)


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask: which of `keys` are in `sorted_keys`."""
    if sorted_keys.size == 0 or keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    positions = np.searchsorted(sorted_keys, keys)
    positions[positions == sorted_keys.size] = 0
    return sorted_keys[positions] == keys


def drop_superseded(rows: pa.Table, superseded: pa.Table) -> pa.Table:
    """`rows` without the rows `latest_rows` found superseded (matched on ROW_KEY)."""
    if superseded.num_rows == 0:
        return rows
    key_schema = rows.select(list(ROW_KEY)).schema  # scans may read string or large_string
    return rows.join(superseded.cast(key_schema), keys=list(ROW_KEY), join_type="left anti")
