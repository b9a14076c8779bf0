"""What an app holds for its lifetime: settings, the catalog, the key store, a version index.

Built once by `create_app` and kept on `app.state`; routes reach it through the
dependencies in `api.deps`, never through module globals.
"""

import threading
import time
from dataclasses import dataclass, field

from api.caching import BodyCache
from api.keys import KeyStore
from api.listing import PlanCache
from api.metrics import Metrics
from api.ratelimit import TokenBuckets
from api.settings import ApiSettings
from corpus.core.errors import DatasetNotFound, VersionNotFound
from corpus.store.catalog import RAW, VERSIONS, Catalog
from corpus.store.lookup_cache import IndexCache
from corpus.store.versions import Registry, Version


class VersionIndex:
    """Registry reads cached per dataset until the registry table's metadata changes.

    Versions are immutable and never deleted, so a version once seen is served
    from memory without any I/O (`cached`). Only listings watch for a new
    registry commit: the table's metadata location (one catalog query and one
    small file) is checked at most every `refresh_seconds` per dataset, and at
    once when a request names a version or dataset the cache does not know.
    """

    def __init__(self, catalog: Catalog, refresh_seconds: float = 1.0) -> None:
        self.catalog = catalog
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, tuple[str, list[Version]]] = {}
        self._by_name: dict[tuple[str, str], Version] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def datasets(self) -> list[str]:
        return [d for d in self.catalog.datasets() if self.catalog.has_table(d, RAW)]

    def versions(self, dataset: str, refresh: bool = False) -> list[Version]:
        with self._lock:
            cached, checked = self._cache.get(dataset), self._checked.get(dataset, 0.0)
        fresh = time.monotonic() - checked < self.refresh_seconds
        if cached is not None and fresh and not refresh:
            return cached[1]
        # membership first: arbitrary names (dots, blanks) never reach the catalog's parser
        if dataset in self.catalog.datasets():
            try:
                location = self.catalog.table(dataset, VERSIONS).metadata_location
            except DatasetNotFound:  # no version published yet (or not a dataset at all)
                if self.catalog.has_table(dataset, RAW):
                    return []
            else:
                return self._cached(dataset, location)
        known = ", ".join(self.datasets()) or "none"
        raise DatasetNotFound(
            f"dataset {dataset!r} does not exist (datasets: {known}); GET /v1/datasets lists them"
        )

    def _cached(self, dataset: str, location: str) -> list[Version]:
        with self._lock:
            cached = self._cache.get(dataset)
        if cached is not None and cached[0] == location:
            versions = cached[1]
        else:
            versions = Registry(self.catalog, dataset).list()
        with self._lock:
            self._cache[dataset] = (location, versions)
            self._checked[dataset] = time.monotonic()
            self._by_name.update(((dataset, v.name), v) for v in versions)
        return versions

    def cached(self, dataset: str, name: str) -> Version | None:
        """The version if it was seen before: no I/O, safe on the event loop."""
        return self._by_name.get((dataset, name))

    def get(self, dataset: str, name: str) -> Version:
        if (version := self.cached(dataset, name)) is not None:
            return version
        for refresh in (False, True):  # a version published since the last check is found
            versions = self.versions(dataset, refresh)
            for version in versions:
                if version.name == name:
                    return version
        known = ", ".join(v.name for v in versions) or "none yet"
        raise VersionNotFound(
            f"dataset {dataset!r} has no version {name!r} (versions: {known}); "
            f"GET /v1/datasets/{dataset}/versions lists them"
        )


@dataclass
class AppState:
    settings: ApiSettings
    catalog: Catalog
    keys: KeyStore
    versions: VersionIndex
    metrics: Metrics = field(default_factory=Metrics)
    bodies: BodyCache = field(default_factory=BodyCache)
    """Serialized version-resolved answers by ETag (versions are immutable)."""
    plans: PlanCache = field(default_factory=PlanCache)
    """Scan plans of file listings by version and filters."""
    lookups: IndexCache | None = None
    """Lookup indexes, loaded on first use."""
    lookup_limits: TokenBuckets = field(default_factory=lambda: TokenBuckets(50.0, 100))
    """Per-caller rate limits of the lookup routes."""

    @classmethod
    def build(cls, settings: ApiSettings) -> "AppState":
        catalog = Catalog(settings.catalog)
        bodies = BodyCache(max_bytes=settings.response_cache_mb << 20)
        return cls(
            settings,
            catalog,
            KeyStore(settings.catalog, settings.key_cache_seconds),
            VersionIndex(catalog),
            bodies=bodies,
            lookups=IndexCache(catalog),
            lookup_limits=TokenBuckets(settings.lookup_rate, settings.lookup_burst),
        )
