"""Resolve a source argument (local path, file:// or s3:// URI) to a pyarrow filesystem."""

from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from corpus.core.errors import SourceError
from corpus.core.storage import StorageError, filesystem_for


@dataclass(frozen=True)
class Location:
    """A path on a filesystem; picklable, so it travels to Ray workers as a URI."""

    uri: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.uri or self.uri.startswith("file://")

    def resolve(self) -> tuple[pafs.FileSystem, str]:
        try:
            return filesystem_for(self.uri)
        except StorageError as exc:
            raise SourceError(str(exc)) from exc

    def _split(self) -> tuple[str, str]:
        """(path part, query part): s3 URIs carry options such as endpoint_override."""
        base, sep, query = self.uri.partition("?")
        return base.rstrip("/"), sep + query

    def child(self, name: str) -> "Location":
        base, query = self._split()
        return Location(f"{base}/{name}{query}")

    @property
    def name(self) -> str:
        return self._split()[0].rsplit("/", 1)[-1]


def location_of(spec: str) -> Location:
    """A user's source argument as a Location; local paths become absolute."""
    if "://" in spec:
        return Location(spec)
    return Location(str(Path(spec).absolute()))
