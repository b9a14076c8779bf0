"""What dedup reads and writes: candidate records, drops, partitioning and the keep rule."""

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

#: Rows per candidate file, written by the curate workers (no content: 1 KB signature).
CANDIDATE_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("license_rank", pa.int8()),
        pa.field("stars", pa.int64()),
        pa.field("forks", pa.int64()),
        pa.field("revision_date", pa.timestamp("us", tz="UTC")),
        pa.field("tokens", pa.int32()),
        pa.field("signature", pa.binary()),  # null: too few tokens, or reused (`cached`)
        pa.field("cached", pa.bool_()),
    ]
)

#: One row per dropped duplicate; joined back to the version's rows by file_id.
DROP_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("drop_reason", pa.string(), nullable=False),
        pa.field("dup_of", pa.string(), nullable=False),
        pa.field("dup_cluster", pa.string(), nullable=False),
    ]
)

#: Columns dedup adds to a version's decisions and files.
DEDUP_COLUMNS = pa.schema(
    [
        pa.field("dup_of", pa.string()),  # file_id of the copy that was kept
        pa.field(
            "dup_cluster", pa.string()
        ),  # near: smallest file_id of the cluster; exact: sha256
    ]
)

#: Persisted per version (`<ds>.minhash`): what incremental dedup reuses instead of recomputing.
MINHASH_SCHEMA = pa.schema(
    [
        pa.field("version", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("sha_bucket", pa.int32(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),
        pa.field("band_keys", pa.list_(pa.int64())),  # uint64 keys stored as their int64 bits
    ]
)

#: Fixed bucket of a content hash (persisted with signatures, independent of partitions).
SHA_BUCKETS = 1024

#: Keep rule, best first: permissive > no license > other, more stars, more forks,
#: newest revision, smallest file id. Nulls (unknown stars...) rank last.
KEEP_ORDER = ["license_rank", "stars", "forks", "revision_date", "file_id"]
KEEP_DESCENDING = [False, True, True, True, False]

LICENSE_RANK = {"permissive": 0, "no_license": 1}  # anything else: 2


def license_rank(license_class: pa.ChunkedArray | pa.Array) -> pa.Array:
    ranks = [LICENSE_RANK.get(c, 2) for c in license_class.to_pylist()]
    return pa.array(ranks, pa.int8())


def sort_by_keep_rule(frame: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Sort by `group` then the keep rule: the first row of each group is the one kept."""
    return frame.sort(
        [*group, *KEEP_ORDER],
        descending=[False] * len(group) + KEEP_DESCENDING,
        nulls_last=True,
    )


def _hex_prefix(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    prefix = pc.utf8_slice_codeunits(values, 0, 8)
    return pl.Series(prefix).str.to_integer(base=16).to_numpy().astype(np.uint64)


def sha_bucket(content_sha256: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return (_hex_prefix(content_sha256) % np.uint64(SHA_BUCKETS)).astype(np.int64)


def sha_partition(content_sha256: pa.Array | pa.ChunkedArray, count: int) -> np.ndarray:
    """Partition of a content hash: a function of its fixed bucket, so persisted rows align."""
    return sha_bucket(content_sha256) % count


def file_partition(file_ids: pa.Array | pa.ChunkedArray, count: int) -> np.ndarray:
    """Partition of file ids: their first 32 bits when they are hex digests (our ids), else a
    hash. Layout only: no result depends on which partition a file lands in."""
    series = pl.Series(file_ids)
    prefix = series.str.slice(0, 8).str.to_integer(base=16, strict=False)
    if prefix.null_count() or (series.str.len_bytes() < 8).any():
        prefix = series.hash(seed=0) // (1 << 32)
    values = prefix.to_numpy().astype(np.uint64)
    return ((values * np.uint64(count)) >> np.uint64(32)).astype(np.int64)


def signature_matrix(column: pa.Array | pa.ChunkedArray, num_perm: int) -> np.ndarray:
    """uint32 [n, num_perm] view of a column of packed signatures (no nulls)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise ValueError("signature column has nulls")
    if len(column) == 0:
        return np.empty((0, num_perm), dtype=np.uint32)
    data = column.cast(pa.binary()).buffers()[2]
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset :][: len(column) + 1]
    flat = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return flat.view(np.uint32).reshape(len(column), num_perm)


def pack_signatures(signatures: np.ndarray) -> pa.Array:
    """Packed little-endian uint32 rows as a binary column (fixed width per row)."""
    width = signatures.shape[1] * 4
    data = np.ascontiguousarray(signatures, dtype="<u4").view(np.uint8).ravel()
    offsets = np.arange(0, signatures.shape[0] * width + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), signatures.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
