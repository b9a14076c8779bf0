"""Sources: the readers of repository folders, archives and Stack-style tables (local or
s3://), the intake rules and the sample corpus; units are discovered on the driver and read
in Ray workers.

A unit is one repository folder, one archive or one table file. Discovery only
lists top-level entries; each worker walks and reads its own units, so listing
a corpus of millions of files is spread over the cluster too.
"""

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from corpus.core.errors import SourceError
from corpus.core.storage import explain, is_object_store, redact
from corpus.sources.archive import ARCHIVE_SUFFIXES, is_archive, read_archive_repo
from corpus.sources.config import IntakeConfig
from corpus.sources.directory import SKIPPED_DIRS, read_directory_repo
from corpus.sources.filesystem import Location, location_of
from corpus.sources.records import READ_SCHEMA
from corpus.sources.tables import is_table, read_table_source, resolve_columns, table_columns

__all__ = ["READ_SCHEMA", "Layout", "Unit", "UnitKind", "discover", "read_unit"]


class UnitKind(StrEnum):
    REPO = "repo"
    LOOSE_FILES = "loose"
    ARCHIVE = "archive"
    TABLE = "table"


class Layout(StrEnum):
    AUTO = "auto"
    """A folder with .git is one repo; otherwise each sub-folder is a repo."""
    REPOS = "repos"
    """Each sub-folder is a repo."""
    REPO = "repo"
    """The folder itself is one repo."""


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    uri: str
    repo: str = ""
    columns: dict[str, str] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["columns"] = sorted(self.columns.items())
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Unit":
        return cls(UnitKind(row["kind"]), row["uri"], row["repo"], dict(row["columns"] or []))


def discover(
    spec: str, layout: Layout = Layout.AUTO, columns: Mapping[str, str] | None = None
) -> list[Unit]:
    """Units of one source argument; raises SourceError with what to fix when it is unusable."""
    location = location_of(spec)
    fs, path = location.resolve()
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise SourceError(_missing(spec, fs, path))
        if info.type == pafs.FileType.File:
            return [_file_unit(location, columns, strict=True)]  # type: ignore[list-item]
        if info.type != pafs.FileType.Directory:
            raise SourceError(f"source {redact(spec)} is neither a file nor a folder")
        entries = sorted(fs.get_file_info(pafs.FileSelector(path)), key=lambda i: i.base_name)
    except OSError as exc:  # object stores: denied, unreachable
        raise SourceError(f"cannot read source {redact(spec)}: {explain(exc)}") from exc
    names = {e.base_name for e in entries}
    if layout == Layout.REPO or (layout == Layout.AUTO and ".git" in names):
        return [Unit(UnitKind.REPO, location.uri, location.name)]
    units: list[Unit] = []
    loose = False
    for entry in entries:
        child = location.child(entry.base_name)
        if entry.type == pafs.FileType.Directory:
            if entry.base_name not in SKIPPED_DIRS:
                units.append(Unit(UnitKind.REPO, child.uri, entry.base_name))
        elif (unit := _file_unit(child, columns, strict=False)) is not None:
            units.append(unit)
        else:
            loose = True
    if loose:
        # files beside the repos belong to a repo named after the folder: nothing is skipped
        units.append(Unit(UnitKind.LOOSE_FILES, location.uri, location.name))
    return units


def _missing(spec: str, fs: pafs.FileSystem, path: str) -> str:
    if is_object_store(fs):
        bucket = path.split("/", 1)[0]
        if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            return f"source {redact(spec)}: bucket {bucket!r} does not exist"
        return f"source {redact(spec)} does not exist: no object or prefix of that name"
    return f"source {spec} does not exist"


def _file_unit(location: Location, columns: Mapping[str, str] | None, strict: bool) -> Unit | None:
    if is_archive(location.name):
        return Unit(UnitKind.ARCHIVE, location.uri)
    if is_table(location.name):
        resolve_columns(table_columns(location), columns)  # fail on the driver, not in a worker
        return Unit(UnitKind.TABLE, location.uri, columns=dict(columns or {}))
    if strict:
        raise SourceError(
            f"{location.uri}: a source file must be an archive ({', '.join(ARCHIVE_SUFFIXES)}) "
            f"or a table (.parquet, .jsonl); for a folder of files pass the folder"
        )
    return None


def read_unit(unit: Unit, intake: IntakeConfig, batch_rows: int) -> Iterator[pa.Table]:
    location = Location(unit.uri)
    if unit.kind == UnitKind.REPO:
        yield from read_directory_repo(location, unit.repo, intake, batch_rows)
    elif unit.kind == UnitKind.LOOSE_FILES:
        yield from read_directory_repo(location, unit.repo, intake, batch_rows, top_level_only=True)
    elif unit.kind == UnitKind.ARCHIVE:
        yield from read_archive_repo(location, intake, batch_rows)
    else:
        yield from read_table_source(location, intake, batch_rows, unit.columns)
