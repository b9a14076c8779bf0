"""The version registry: a version exists once its row commits to `<ds>.versions`.

Publishing writes the version's data files, commits them to `<ds>.decisions`,
`<ds>.files` and the other tables (each commit tagged with the version name),
and only then appends the registry row: that append is the single atomic step
that makes a version visible. Readers find a version's rows through the
snapshot ids its row records, never through a table's current state. A crash
before the registry row leaves no visible version; the next publish of the
same name (one run per name at a time, `corpus.store.locks`) replaces the orphaned
rows.
"""

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table, Transaction
from pyiceberg.table.update.snapshot import ManageSnapshots

from corpus.core import __version__
from corpus.core.errors import ConfigError, DatasetNotFound, VersionExists, VersionNotFound
from corpus.store.catalog import (
    DECISIONS,
    FILES,
    RAW,
    VERSIONS,
    Catalog,
    data_file_uris,
    staged_snapshot_id,
)
from corpus.store.version_stats import Lineage, VersionStats

VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RESERVED_NAMES = frozenset({"main", "latest"})

VERSIONS_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("raw_snapshot_id", pa.int64(), nullable=False),
        pa.field("decisions_snapshot_id", pa.int64(), nullable=False),
        pa.field("files_snapshot_id", pa.int64(), nullable=False),
        pa.field("config_fingerprint", pa.string(), nullable=False),
        pa.field("code_version", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class Version:
    name: str
    created_at: datetime
    raw_snapshot_id: int
    decisions_snapshot_id: int
    files_snapshot_id: int
    config_fingerprint: str
    code_version: str
    config: dict[str, Any]
    stats: VersionStats
    lineage: Lineage

    def __post_init__(self) -> None:
        # stats and lineage as stored (plain JSON) are read into their typed records
        if isinstance(self.stats, dict):
            object.__setattr__(self, "stats", VersionStats.from_dict(self.stats))
        if isinstance(self.lineage, dict):
            object.__setattr__(self, "lineage", Lineage.from_dict(self.lineage))

    def to_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in VERSIONS_SCHEMA.names if name != "record"}
        record = {
            "config": self.config,
            "stats": self.stats.to_dict(),
            "lineage": self.lineage.to_dict(),
        }
        row["record"] = json.dumps(record, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Version":
        row = dict(row)
        record = json.loads(row.pop("record"))
        return cls(
            **row,
            config=record["config"],
            stats=VersionStats.from_dict(record["stats"]),
            lineage=Lineage.from_dict(record["lineage"]),
        )


def validate_version_name(name: str) -> str:
    if not VERSION_NAME.match(name) or name in RESERVED_NAMES:
        raise ConfigError(
            f"version name {name!r} is invalid: use letters, digits, '.', '_' or '-' "
            f"(at most 128, not {sorted(RESERVED_NAMES)})"
        )
    return name


@cache
def code_version() -> str:
    """Package version plus the git commit of the checkout it runs from, when there is one."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__


class Registry:
    def __init__(self, catalog: Catalog, dataset: str) -> None:
        self.catalog = catalog
        self.dataset = dataset

    def _table(self) -> Table:
        return self.catalog.ensure_table(self.dataset, VERSIONS, VERSIONS_SCHEMA)

    def list(self) -> list[Version]:
        if not self.catalog.has_table(self.dataset, VERSIONS):
            return []
        table = self.catalog.table(self.dataset, VERSIONS)
        rows = table.scan().to_arrow().sort_by("created_at").to_pylist()
        return [Version.from_row(r) for r in rows]

    def get(self, name: str) -> Version:
        if not self.catalog.has_table(self.dataset, RAW):
            known = ", ".join(self.catalog.datasets()) or "none"
            raise DatasetNotFound(
                f"dataset {self.dataset!r} does not exist (datasets: {known}); "
                f"run `codecorpus ingest SOURCE --dataset {self.dataset}` first"
            )
        for version in self.list():
            if version.name == name:
                return version
        known = ", ".join(v.name for v in self.list()) or "none"
        raise VersionNotFound(
            f"dataset {self.dataset!r} has no version {name!r} (versions: {known})"
        )

    def exists(self, name: str) -> bool:
        return any(v.name == name for v in self.list())

    def register(self, version: Version) -> None:
        """Append the registry row; fails with VersionExists if another run won the name."""
        self._table()

        def append(table: Table, tx: Transaction) -> None:
            names = table.scan(selected_fields=("name",)).to_arrow().column("name")
            if version.name in names.to_pylist():
                raise VersionExists(f"version {version.name!r} of {self.dataset!r} already exists")
            tx.append(pa.Table.from_pylist([version.to_row()], schema=VERSIONS_SCHEMA))

        self.catalog.commit(self.dataset, VERSIONS, append)


def commit_version_files(
    catalog: Catalog,
    dataset: str,
    table_name: str,
    version: str,
    files: list[str],
    properties: dict[str, str],
) -> int:
    """Commit a version's data files to a partitioned table, tagged with the version name, in
    one commit; returns the snapshot id. Rows of the same name left by a run that died before
    registering it are replaced (the caller holds the name's publish lock)."""

    def replace(table: Table, tx: Transaction) -> int:
        orphans = data_file_uris(table, row_filter=EqualTo("version", version))
        if orphans:
            tx.delete(EqualTo("version", version))
        tx.add_files(sorted(files), snapshot_properties=properties)
        return tag_staged_snapshot(tx, version)

    return catalog.commit(dataset, table_name, replace)


def tag_staged_snapshot(tx: Transaction, tag: str) -> int:
    """Point `tag` at the snapshot `tx` is about to commit (same commit); returns its id.
    Tags keep a version's snapshots from being expired while it is being published."""
    snapshot_id = staged_snapshot_id(tx)
    manage = ManageSnapshots(tx)
    if tag in tx.table_metadata.refs:  # from an earlier attempt at this name
        manage = manage.remove_tag(tag)
    manage.create_tag(snapshot_id, tag).commit()
    return snapshot_id


def scan_version(catalog: Catalog, dataset: str, version: Version, table_name: str = DECISIONS):
    """A pyiceberg scan of one version's rows, pinned to the snapshot it was published with."""
    snapshot = (
        version.decisions_snapshot_id if table_name == DECISIONS else version.files_snapshot_id
    )
    table = catalog.table(dataset, table_name)
    return table.scan(row_filter=EqualTo("version", version.name), snapshot_id=snapshot)


__all__ = [
    "FILES",
    "Lineage",
    "Registry",
    "Version",
    "VersionStats",
    "commit_version_files",
    "scan_version",
]
