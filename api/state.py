"""What an app holds for its lifetime: settings, the catalog, the key store, a version index.

Built once by `create_app` and kept on `app.state`; routes reach it through the
dependencies in `api.deps`, never through module globals.
"""

import threading
from dataclasses import dataclass, field

from api.keys import KeyStore
from api.metrics import Metrics
from api.settings import ApiSettings
from corpus.catalog import RAW, VERSIONS, Catalog
from corpus.errors import DatasetNotFound, VersionNotFound
from corpus.versions import Registry, Version


class VersionIndex:
    """Registry reads cached per dataset until the registry table's metadata changes.

    Versions are immutable, so the only thing to watch for is a new registry
    commit: checking the table's metadata location costs one catalog query instead
    of a scan of the registry on every request.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[str, tuple[str, list[Version]]] = {}
        self._lock = threading.Lock()

    def datasets(self) -> list[str]:
        return [d for d in self.catalog.datasets() if self.catalog.has_table(d, RAW)]

    def versions(self, dataset: str) -> list[Version]:
        # membership first: arbitrary names (dots, blanks) never reach the catalog's parser
        if dataset not in self.catalog.datasets() or not self.catalog.has_table(dataset, RAW):
            known = ", ".join(self.datasets()) or "none"
            raise DatasetNotFound(
                f"dataset {dataset!r} does not exist (datasets: {known}); "
                "GET /v1/datasets lists them"
            )
        if not self.catalog.has_table(dataset, VERSIONS):
            return []
        location = self.catalog.table(dataset, VERSIONS).metadata_location
        with self._lock:
            cached = self._cache.get(dataset)
        if cached is not None and cached[0] == location:
            return cached[1]
        versions = Registry(self.catalog, dataset).list()
        with self._lock:
            self._cache[dataset] = (location, versions)
        return versions

    def get(self, dataset: str, name: str) -> Version:
        versions = self.versions(dataset)
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

    @classmethod
    def build(cls, settings: ApiSettings) -> "AppState":
        catalog = Catalog(settings.catalog)
        return cls(settings, catalog, KeyStore(settings.catalog), VersionIndex(catalog))
