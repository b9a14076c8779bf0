"""Connected components of the duplicate graph, sharded: local union-find + exchange rounds.

Each round, every edge (x, y) goes to the shards of both x and y (by hash).
A shard runs union-find over its edges and proposes, for every node it saw,
the smallest node of its local component. Proposals are then gathered per
node: the node takes the smallest proposal as its parent and the other
proposals are linked to it, so no connection is ever lost. When a round
changes nothing, every node points at the smallest node of its component
(a star forest): a chain z -> w -> w' cannot be stable, because the shard of
w sees both edges and proposes w' for z.

Memory per shard is its share of the edges; edges are int64 pairs, 16 bytes,
and after the first round there is about one edge per node with an edge.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        parent[x], x = root, parent[x]
    return root


@njit(cache=True, nogil=True)
def _union_find(left: np.ndarray, right: np.ndarray, size: int) -> np.ndarray:
    """Roots of compact node indices; the root of a component is its smallest index."""
    parent = np.arange(size)
    for i in range(left.size):
        a, b = _find(parent, left[i]), _find(parent, right[i])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    for x in range(size):
        parent[x] = _find(parent, x)
    return parent


def local_roots(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(node, smallest node of its component) for every node of the edge list."""
    nodes, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    roots = _union_find(inverse[: u.size], inverse[u.size :], nodes.size)
    return nodes, nodes[roots]


def proposals(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One shard's round: for every non-root node it saw, (node, proposed parent)."""
    if u.size == 0:
        return u, v
    nodes, roots = local_roots(u, v)
    moved = nodes != roots
    return nodes[moved], roots[moved]


def settle(nodes: np.ndarray, proposed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gather one node shard's proposals into the next round's edges.

    Each node keeps its smallest proposal m as parent (node, m); every other
    proposal r becomes an edge (r, m), which keeps r connected. Duplicates removed.
    """
    if nodes.size == 0:
        return nodes, proposed
    pairs = np.unique(np.stack([nodes, proposed], axis=1), axis=0)  # sorted by node, proposal
    nodes, proposed = pairs[:, 0], pairs[:, 1]
    first = np.r_[True, nodes[1:] != nodes[:-1]]
    smallest = proposed[first][np.cumsum(first) - 1]
    u = np.where(first, nodes, proposed)
    v = smallest
    keep = u != v
    edges = np.unique(np.stack([u[keep], v[keep]], axis=1), axis=0)
    return edges[:, 0], edges[:, 1]


def components_in_memory(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Single-shard reference (tests, small runs): (node, root) for every node with an edge."""
    return local_roots(u.astype(np.int64), v.astype(np.int64))
