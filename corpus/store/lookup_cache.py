"""Loaded lookup indexes of a service, by (dataset, version); light to import (the index code,
datasketch and numba load on first use)."""

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
                self._loaded[key] = load_index(self.catalog, dataset, version)
            return self._loaded[key]
