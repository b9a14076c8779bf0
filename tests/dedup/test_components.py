"""Sharded union-find: the rounds of dedup.components give scipy's connected components."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dedup.components import components_in_memory, proposals, settle
from dedup.lsh import partition_of


def sharded_components(u: np.ndarray, v: np.ndarray, shards: int) -> tuple[dict, int]:
    """The distributed algorithm with shards simulated in memory (same routing as the steps)."""

    def route(a, b):
        pa_, pb = partition_of(a, shards), partition_of(b, shards)
        return [
            (
                np.r_[a[pa_ == s], a[(pb == s) & (pa_ != s)]],
                np.r_[b[pa_ == s], b[(pb == s) & (pa_ != s)]],
            )
            for s in range(shards)
        ]

    edges = route(u, v)
    previous = None
    for rounds in range(1, 65):
        props = [proposals(a, b) for a, b in edges]
        nodes = np.concatenate([p[0] for p in props])
        parents = np.concatenate([p[1] for p in props])
        owner = partition_of(nodes, shards)
        settled = [settle(nodes[owner == s], parents[owner == s]) for s in range(shards)]
        su = np.concatenate([s[0] for s in settled])
        sv = np.concatenate([s[1] for s in settled])
        current = set(zip(su.tolist(), sv.tolist(), strict=True))
        if current == previous:
            return dict(current), rounds
        previous = current
        edges = route(su, sv)
    raise AssertionError("did not settle")


def scipy_roots(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    graph = coo_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    roots = np.full(labels.max() + 1, n)
    np.minimum.at(roots, labels, np.arange(n))
    return roots[labels]


@pytest.mark.parametrize("shards", [1, 2, 3, 8])
@pytest.mark.parametrize("seed", range(6))
def test_sharded_rounds_match_scipy(shards: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    # chains, stars and random edges: long chains are the hard case for label propagation
    chain = rng.permutation(n)[:120]
    u = np.r_[chain[:-1], rng.integers(0, n, 150)]
    v = np.r_[chain[1:], rng.integers(0, n, 150)]
    keep = u != v
    u, v = u[keep].astype(np.int64), v[keep].astype(np.int64)
    parent, rounds = sharded_components(u, v, shards)
    expected = scipy_roots(u, v, n)
    touched = np.unique(np.r_[u, v])
    for node in touched.tolist():
        root = parent.get(node, node)
        assert root == expected[node], (node, root, expected[node])
        assert parent.get(root, root) == root  # a star: roots point nowhere
    assert rounds < 20


def test_in_memory_reference_gives_smallest_root() -> None:
    nodes, roots = components_in_memory(np.array([5, 9, 2]), np.array([9, 7, 3]))
    assert dict(zip(nodes.tolist(), roots.tolist(), strict=True)) == {
        2: 2, 3: 2, 5: 5, 7: 5, 9: 5,
    }  # fmt: skip
