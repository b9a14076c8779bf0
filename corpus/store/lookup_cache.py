"""Loaded lookup indexes of a service, by (dataset, version); light to import (the index code,
datasketch and numba load on first use)."""

import gc
import threading
from dataclasses import dataclass, field
from typing import Any

from corpus.store.catalog import Catalog
from corpus.store.versions import Version


@dataclass
class IndexCache:
    """Each version's index loaded once, on its first lookup."""

    catalog: Catalog
    _loaded: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, dataset: str, version: str) -> Any | None:
        return self._loaded.get((dataset, version))

    def get(self, dataset: str, version: Version) -> Any:
        from corpus.store.lookup_index import load_index

        key = (dataset, version.name)
        with self._lock:  # one load per version, even under concurrent first requests
            if key not in self._loaded:
                index = load_index(self.catalog, dataset, version)
                ready_to_serve(index)
                self._loaded[key] = index
            return self._loaded[key]


def ready_to_serve(index: Any) -> None:
    """Warm the query path and take the index out of the garbage collector's sight.

    An in-process index is millions of long-lived objects (datasketch's band sets, the
    entries): every full collection would walk them all, seconds per pass at 100k files,
    stalling every request in flight. `gc.freeze` moves what exists now to the permanent
    generation; the index never changes, so nothing is lost. The first lookup also loads
    the numba kernel and draws the permutations, so that is done here too."""
    from corpus.store.lookup_index import warm

    warm(index)
    gc.freeze()
