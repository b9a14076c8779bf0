"""The tasks of the dedup stage. Each reads one partition, writes routed files, returns counts.

Folders under the run's dedup folder:
  input/      candidates by content-hash partition (written by the curate workers)
  exact/      exact drops (by file partition) and surviving near candidates (by file range)
  index/      near candidates sorted by file_id per range: dense id = offset + row
  bands/      (band key, id) by key hash          -> candidates/ star edges by owner of u
  verify/     edges with u's signature by owner of v -> uf/ verified edges
  uf/NN/      union-find rounds (edges -> proposals -> settled edges)
  members/    (node, root) by owner of node        -> clusters/ by root
  near/       near drops (by file partition)
  minhash/    signatures and band keys of the version's candidates, persisted
"""

from collections import Counter
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.exchange import join, read_partition, read_table, write_partitions, write_table
from corpus.core.reasons import DropReason
from corpus.core.schema import conform
from dedup.components import proposals, settle
from dedup.lsh import band_keys, mix64, partition_of, star_edges
from dedup.records import (
    CANDIDATE_SCHEMA,
    DROP_SCHEMA,
    MINHASH_SCHEMA,
    file_partition,
    sha_bucket,
    signature_matrix,
    sort_by_keep_rule,
)

NAME = "from-{:05d}"
EDGE_SCHEMA = pa.schema([("u", pa.int64()), ("v", pa.int64())])


def _histogram(sizes: np.ndarray) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(Counter(sizes.tolist()).items())}


def _owner(ids: np.ndarray, offsets: list[int]) -> np.ndarray:
    return np.searchsorted(np.asarray(offsets[1:]), ids, side="right").astype(np.int64)


def exact_step(
    run: str, part: int, count: int, exact: bool, cached_files: list[str], num_perm: int
) -> dict[str, Any]:
    """Group candidates by content hash; keep one per group; pass the rest to near dedup."""
    table = read_partition(join(run, "input"), part, CANDIDATE_SCHEMA)
    if cached_files and pc.any(table.column("cached")).as_py():
        table = _fill_cached(table, cached_files, part, count, num_perm)
    frame = pl.from_arrow(table)
    if exact:
        frame = sort_by_keep_rule(frame, ["content_sha256"])
        first = frame.select(pl.col("content_sha256").is_first_distinct()).to_series()
    else:
        first = pl.Series([True] * frame.height)
    winners, losers = frame.filter(first), frame.filter(~first)
    keeper = winners.select(["content_sha256", pl.col("file_id").alias("dup_of")])
    drops = losers.join(keeper, on="content_sha256").select(
        "file_id",
        pl.lit(DropReason.DEDUP_EXACT.value).alias("drop_reason"),
        "dup_of",
        pl.col("content_sha256").alias("dup_cluster"),
    )
    drops_table = drops.to_arrow().cast(DROP_SCHEMA)
    write_partitions(
        join(run, "exact", "drops"),
        NAME.format(part),
        drops_table,
        file_partition(drops_table.column("file_id"), count),
        count,
    )
    nodes = winners.filter(pl.col("signature").is_not_null()).to_arrow().cast(CANDIDATE_SCHEMA)
    write_partitions(
        join(run, "exact", "nodes"),
        NAME.format(part),
        nodes,
        file_partition(nodes.column("file_id"), count),
        count,
    )
    sizes = frame.group_by("content_sha256").len().get_column("len").to_numpy()
    dup_sizes = sizes[sizes > 1]
    return {
        "candidates": frame.height,
        "removed": losers.height,
        "groups": int(dup_sizes.size),
        "group_sizes": _histogram(dup_sizes),
        "near_candidates": nodes.num_rows,
        "short": int(winners.filter(pl.col("signature").is_null()).height),
    }


def _fill_cached(
    table: pa.Table, files: list[str], part: int, count: int, num_perm: int
) -> pa.Table:
    """Signatures of reused rows from the previous version's persisted minhash rows."""
    buckets = [b for b in range(1024) if b % count == part]
    stored = pa.concat_tables(
        [
            read_table(
                f, columns=["content_sha256", "signature"], filters=[("sha_bucket", "in", buckets)]
            )
            for f in files
        ]
    )
    stored = pl.from_arrow(stored).unique("content_sha256", keep="first")
    frame = pl.from_arrow(table).join(stored, on="content_sha256", how="left", suffix="_stored")
    frame = frame.with_columns(
        pl.when(pl.col("cached"))
        .then(pl.col("signature_stored"))
        .otherwise(pl.col("signature"))
        .alias("signature")
    ).drop("signature_stored")
    missing = frame.filter(pl.col("cached") & pl.col("signature").is_null()).height
    if missing:  # the curate workers only reuse what the driver saw stored
        raise RuntimeError(f"{missing} reused signatures are missing from the stored rows")
    return frame.to_arrow().cast(CANDIDATE_SCHEMA)


def index_step(run: str, part: int) -> dict[str, Any]:
    """Sort one file range's near candidates by file_id: row i gets dense id offset + i."""
    table = read_partition(join(run, "exact", "nodes"), part, CANDIDATE_SCHEMA)
    table = table.sort_by("file_id")
    write_table(join(run, "index", f"part-{part:05d}.parquet"), table)
    return {"rows": table.num_rows}


def _index(run: str, part: int) -> pa.Table:
    return read_table(join(run, "index", f"part-{part:05d}.parquet"))


def bands_step(
    run: str,
    part: int,
    count: int,
    offsets: list[int],
    num_perm: int,
    bands: int,
    rows: int,
    version: str,
    minhash_folder: str,
) -> dict[str, Any]:
    """Band keys of one range's candidates, routed by key hash; persisted with the version."""
    table = _index(run, part)
    signatures = signature_matrix(table.column("signature"), num_perm)
    keys = band_keys(signatures, bands, rows)
    ids = offsets[part] + np.arange(table.num_rows, dtype=np.int64)
    flat_keys, flat_ids = keys.ravel(), np.repeat(ids, bands)
    records = pa.table({"key": flat_keys, "id": flat_ids})
    write_partitions(
        join(run, "bands"), NAME.format(part), records, partition_of(flat_keys, count), count
    )
    persisted = pa.table(
        {
            "version": pa.array([version] * table.num_rows, pa.string()),
            "file_id": table.column("file_id"),
            "content_sha256": table.column("content_sha256"),
            "sha_bucket": pa.array(sha_bucket(table.column("content_sha256")), pa.int32()),
            "signature": table.column("signature"),
            "band_keys": pa.ListArray.from_arrays(
                np.arange(0, keys.size + 1, bands, dtype=np.int32), keys.ravel().view(np.int64)
            ),
        }
    )
    files = []
    if persisted.num_rows:
        persisted = persisted.sort_by("sha_bucket")  # row-group stats prune reads by bucket
        uri = join(minhash_folder, f"{version}-{part:05d}.parquet")
        files.append(write_table(uri, conform(persisted, MINHASH_SCHEMA)))
    return {"keys": int(flat_keys.size), "minhash_files": files}


def buckets_step(
    run: str, part: int, count: int, offsets: list[int], max_bucket: int, stars: int
) -> dict[str, Any]:
    """Star edges of one key partition's buckets, routed to the owner of the smaller id."""
    records = read_partition(
        join(run, "bands"), part, pa.schema([("key", pa.uint64()), ("id", pa.int64())])
    )
    u, v, capped, capped_members = star_edges(
        records.column("key").to_numpy(), records.column("id").to_numpy(), max_bucket, stars
    )
    edges = pa.table({"u": u, "v": v}, schema=EDGE_SCHEMA)
    write_partitions(join(run, "candidates"), NAME.format(part), edges, _owner(u, offsets), count)
    return {"edges": int(u.size), "capped_buckets": capped, "capped_members": capped_members}


def verify_send_step(run: str, part: int, count: int, offsets: list[int]) -> dict[str, Any]:
    """Attach u's signature to each distinct candidate edge and send it to the owner of v."""
    edges = read_partition(join(run, "candidates"), part, EDGE_SCHEMA)
    pairs = np.unique(
        np.stack([edges.column("u").to_numpy(), edges.column("v").to_numpy()], axis=1), axis=0
    ).reshape(-1, 2)
    index = _index(run, part) if pairs.size else None
    rows = pairs[:, 0] - offsets[part]
    signatures = (
        index.column("signature").take(rows) if index is not None else pa.array([], pa.binary())
    )
    out = pa.table({"u": pairs[:, 0], "v": pairs[:, 1], "signature": signatures})
    write_partitions(
        join(run, "verify"), NAME.format(part), out, _owner(pairs[:, 1], offsets), count
    )
    return {"pairs": int(pairs.shape[0])}


def verify_step(
    run: str, part: int, count: int, offsets: list[int], num_perm: int, threshold: float
) -> dict[str, Any]:
    """Keep candidate edges whose Jaccard estimated from full signatures reaches the threshold."""
    schema = pa.schema([("u", pa.int64()), ("v", pa.int64()), ("signature", pa.binary())])
    table = read_partition(join(run, "verify"), part, schema)
    if table.num_rows == 0:
        return {"verified": 0, "pairs": 0}
    index = _index(run, part)
    v = table.column("v").to_numpy()
    sig_u = signature_matrix(table.column("signature"), num_perm)
    sig_v = signature_matrix(index.column("signature").take(v - offsets[part]), num_perm)
    similarity = (sig_u == sig_v).mean(axis=1)
    keep = similarity >= threshold
    u = table.column("u").to_numpy()[keep]
    _route_edges(join(run, "uf", "00", "edges"), NAME.format(part), u, v[keep], count)
    return {"verified": int(keep.sum()), "pairs": int(table.num_rows)}


def _route_edges(folder: str, name: str, u: np.ndarray, v: np.ndarray, count: int) -> None:
    """Send each edge to the union-find shards of both ends (once if they share one)."""
    pu, pv = partition_of(u, count), partition_of(v, count)
    both = pu != pv
    edges = pa.table({"u": np.r_[u, u[both]], "v": np.r_[v, v[both]]}, schema=EDGE_SCHEMA)
    write_partitions(folder, name, edges, np.r_[pu, pv[both]], count)


def propose_step(run: str, round_dir: str, part: int, count: int) -> dict[str, Any]:
    """Union-find over one shard's edges; propose a parent for every node it saw."""
    edges = read_partition(join(run, "uf", round_dir, "edges"), part, EDGE_SCHEMA)
    nodes, parents = proposals(edges.column("u").to_numpy(), edges.column("v").to_numpy())
    table = pa.table({"u": nodes, "v": parents}, schema=EDGE_SCHEMA)
    write_partitions(
        join(run, "uf", round_dir, "proposals"),
        NAME.format(part),
        table,
        partition_of(nodes, count),
        count,
    )
    return {"edges": edges.num_rows, "proposals": int(nodes.size)}


def settle_step(run: str, round_dir: str, next_dir: str, part: int, count: int) -> dict[str, Any]:
    """Each node takes its smallest proposal; the next round's edges; a checksum to stop."""
    table = read_partition(join(run, "uf", round_dir, "proposals"), part, EDGE_SCHEMA)
    u, v = settle(table.column("u").to_numpy(), table.column("v").to_numpy())
    write_table(
        join(run, "uf", round_dir, "settled", f"part-{part:05d}.parquet"),
        pa.table({"u": u, "v": v}, schema=EDGE_SCHEMA),
    )
    _route_edges(join(run, "uf", next_dir, "edges"), NAME.format(part), u, v, count)
    with np.errstate(over="ignore"):
        checksum = int(mix64(mix64(u.astype(np.uint64)) ^ v.astype(np.uint64)).sum())
    return {"edges": int(u.size), "checksum": checksum, "edge_bytes": int(u.nbytes + v.nbytes)}


def members_step(run: str, round_dir: str, part: int, count: int, offsets: list[int]) -> dict:
    """(node, root) for every clustered node, roots included, routed to the node's range."""
    settled = read_table(join(run, "uf", round_dir, "settled", f"part-{part:05d}.parquet"))
    u, v = settled.column("u").to_numpy(), settled.column("v").to_numpy()
    roots = np.unique(v)
    nodes = np.r_[u, roots]
    table = pa.table({"u": nodes, "v": np.r_[v, roots]}, schema=EDGE_SCHEMA)
    write_partitions(join(run, "members"), NAME.format(part), table, _owner(nodes, offsets), count)
    return {"nodes": int(u.size)}


def attach_step(run: str, part: int, count: int, offsets: list[int]) -> dict[str, Any]:
    """Attach keep-rule columns to the nodes of one range; route them by cluster root."""
    members = read_partition(join(run, "members"), part, EDGE_SCHEMA)
    pairs = np.unique(
        np.stack([members.column("u").to_numpy(), members.column("v").to_numpy()], axis=1), axis=0
    ).reshape(-1, 2)
    index = _index(run, part).drop_columns(["signature"])
    rows = index.take(pairs[:, 0] - offsets[part])
    rows = rows.append_column("root", pa.array(pairs[:, 1], pa.int64()))
    rows = rows.append_column("node", pa.array(pairs[:, 0], pa.int64()))
    write_partitions(
        join(run, "clusters"), NAME.format(part), rows, partition_of(pairs[:, 1], count), count
    )
    return {"nodes": int(pairs.shape[0])}


def keep_step(run: str, part: int, count: int) -> dict[str, Any]:
    """Keep one file per near-duplicate cluster by the keep rule; drop the others."""
    try:
        table = read_partition(join(run, "clusters"), part)
    except FileNotFoundError:
        return {
            "clusters": 0,
            "removed": 0,
            "cluster_sizes": {},
            "removed_by_lang": {},
            "matched_previous": 0,
        }
    frame = sort_by_keep_rule(pl.from_arrow(table), ["root"])
    first = frame.select(pl.col("root").is_first_distinct()).to_series()
    keepers = frame.filter(first).select(
        "root", pl.col("file_id").alias("dup_of"), pl.col("cached").alias("keeper_cached")
    )
    # the cluster's name: its smallest file id (the same whatever the partitioning)
    named = frame.group_by("root").agg(pl.col("file_id").min().alias("dup_cluster"))
    losers = frame.filter(~first).join(keepers, on="root").join(named, on="root")
    drops = (
        losers.select(
            "file_id",
            pl.lit(DropReason.DEDUP_NEAR.value).alias("drop_reason"),
            "dup_of",
            "dup_cluster",
        )
        .to_arrow()
        .cast(DROP_SCHEMA)
    )
    write_partitions(
        join(run, "near", "drops"),
        NAME.format(part),
        drops,
        file_partition(drops.column("file_id"), count),
        count,
    )
    sizes = frame.group_by("root").len().get_column("len").to_numpy()
    by_lang = losers.group_by("lang").len().rows()
    matched = losers.filter(~pl.col("cached") & pl.col("keeper_cached")).height
    return {
        "clusters": int(sizes.size),
        "removed": losers.height,
        "cluster_sizes": _histogram(sizes),
        "removed_by_lang": {str(lang): int(n) for lang, n in by_lang},
        "matched_previous": matched,
    }
