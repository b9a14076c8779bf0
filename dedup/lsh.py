"""LSH banding and star edges: candidates without ever listing all pairs of a bucket."""

import logging

import numpy as np

log = logging.getLogger(__name__)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised: a bijection that spreads every input bit."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return x


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 [n, bands]: one key per band, a hash of the band's index and its rows.

    Keys are stable across processes and versions of this code's dependencies
    (pure integer arithmetic), so they can be persisted with a version.
    """
    n = signatures.shape[0]
    keys = np.broadcast_to(mix64(np.arange(1, bands + 1, dtype=np.uint64)), (n, bands)).copy()
    block = signatures[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    for r in range(rows):
        keys = mix64(keys ^ block[:, :, r])
    return keys


def partition_of(values: np.ndarray, count: int) -> np.ndarray:
    """Hash partition of uint64/int64 values: well spread even for dense ids."""
    return (mix64(values.astype(np.uint64)) % np.uint64(count)).astype(np.int64)


def star_edges(
    keys: np.ndarray, ids: np.ndarray, max_bucket: int, stars: int = 1
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Edges (smallest id of the bucket, other member) for every bucket of equal keys.

    A bucket of k files gives k - 1 edges, not k(k-1)/2. With `stars` > 1 the
    next smallest ids head stars of their own (edges to the members after them):
    when the smallest file is an outlier that only shares boilerplate with the
    rest (a license header), its star fails verification and the second star
    still links the true duplicates. Buckets larger than `max_bucket` keep their
    `max_bucket` smallest ids; returns the edges and how many buckets and
    members were capped.
    """
    empty = np.empty(0, dtype=np.int64)
    if keys.size == 0:
        return empty, empty, 0, 0
    order = np.lexsort((ids, keys))
    keys, ids = keys[order], ids[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lengths = np.diff(np.r_[starts, keys.size])
    run = np.repeat(np.arange(starts.size), lengths)
    position = np.arange(keys.size) - starts[run]
    capped = lengths > max_bucket
    if capped.any():
        log.warning(
            "LSH: %d bucket(s) larger than max_bucket=%d (largest %d) were capped",
            int(capped.sum()),
            max_bucket,
            int(lengths.max()),
        )
    heads_u, members_v = [], []
    for star in range(stars):
        take = (position > star) & (position < max_bucket)
        if not take.any():
            break
        head_position = np.minimum(starts + star, keys.size - 1)
        heads = ids[head_position][run]
        take &= heads != ids  # a file listed twice in a bucket never links to itself
        heads_u.append(heads[take])
        members_v.append(ids[take])
    if not heads_u:
        return empty, empty, int(capped.sum()), int((lengths[capped] - max_bucket).sum())
    u, v = np.concatenate(heads_u), np.concatenate(members_v)
    return u, v, int(capped.sum()), int((lengths[capped] - max_bucket).sum())
