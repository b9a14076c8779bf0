"""A previous version's lookup index as the source of reusable signatures (`--dedup-against`).

The curate driver resolves the index (`corpus.store.lookup_index.reuse_ref`) and hands
every worker an `IndexRef`; the worker opens it once per process and asks it for the
signatures of its candidates' content hashes (`signatures_of`), batch by batch. The
driver then neither reads nor broadcasts the previous version's content hashes, and the
exact step reads no stored signature files.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from corpus.core.storage import read_bytes


class SignatureSource(Protocol):
    def signatures_of(self, shas: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, [n, num_perm] uint32 signatures; rows not found are zeros)."""
        ...


@dataclass(frozen=True)
class IndexRef:
    """Where a worker finds the index: small and picklable (it travels in task arguments)."""

    storage: str
    """"memory" or "redis", as the manifest says."""
    location: str
    """memory: the URI of the pickled index; redis: the Redis URL."""
    build: str
    """memory: the index file's name in the manifest; redis: the build's key prefix."""
    root: str = ""
    """redis: the version's key root (`<root>:current` names the published build)."""
    sha_signatures: int = 0
    """Content hashes with a signature in the index (what can be reused)."""


#: Per process: the index opened last, by build. Ray reuses worker processes across runs;
#: keeping one bounds what they hold (a memory index is the whole version's signatures).
_OPEN: dict[str, SignatureSource] = {}


def open_index(ref: IndexRef) -> SignatureSource:
    """The index `ref` names, loaded (memory) or connected (redis) once per process."""
    source = _OPEN.get(ref.build)
    if source is None:
        source = _load(ref)
        _OPEN.clear()
        _OPEN[ref.build] = source
    return source


def _load(ref: IndexRef) -> SignatureSource:
    if ref.storage == "redis":
        from dedup.index_redis import IndexUnavailable, RedisIndex

        index = RedisIndex.open(ref.location, ref.root)
        if index is None or index.prefix != ref.build:
            raise IndexUnavailable(
                f"Redis at {ref.location} no longer holds the lookup index {ref.root} that "
                "this run reuses signatures from; rerun the curate"
            )
        return index
    from dedup.index import LookupIndexError, MemoryIndex  # datasketch: only where needed

    memory = MemoryIndex.loads(read_bytes(ref.location))
    if memory.manifest.get("file") != ref.build:
        raise LookupIndexError(
            f"{ref.location} is not the lookup index build {ref.build} this run reuses"
        )
    return memory
