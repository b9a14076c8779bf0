"""The Iceberg catalog: SQLite + local warehouse by default, PostgreSQL + s3:// at scale.

All commits happen on the driver through this class (SQLite serialises
writers; Iceberg's optimistic concurrency rejects a stale commit, which we
retry on fresh metadata). Workers only write Parquet data files.
"""

import contextlib
import itertools
import time
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import Table, Transaction

from corpus.errors import DatasetNotFound
from corpus.settings import Settings
from corpus.storage import check_bucket, iceberg_properties

T = TypeVar("T")

#: Tables of a dataset, by role (see DESIGN.md "Catalog and versions").
RAW, DECISIONS, FILES, VERSIONS = "raw", "decisions", "files", "versions"
MINHASH, SHARDS = "minhash", "shards"
MAX_COMMIT_ATTEMPTS = 20


class Catalog:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def iceberg(self) -> SqlCatalog:
        uri = self.settings.resolved_catalog_uri()
        if uri.startswith("sqlite:"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        warehouse = self.settings.resolved_warehouse()
        check_bucket(warehouse, "warehouse", self.settings)
        properties = iceberg_properties(self.settings)  # S3 endpoint and region for its FileIO
        return SqlCatalog(self.settings.catalog_name, uri=uri, warehouse=warehouse, **properties)

    def datasets(self) -> list[str]:
        return sorted(ns[0] for ns in self.iceberg.list_namespaces())

    def has_table(self, dataset: str, name: str) -> bool:
        return self.iceberg.table_exists(f"{dataset}.{name}")

    def table(self, dataset: str, name: str) -> Table:
        try:
            return self.iceberg.load_table(f"{dataset}.{name}")
        except (NoSuchTableError, NoSuchNamespaceError) as exc:
            raise DatasetNotFound(
                f"dataset {dataset!r} has no {name} table; "
                f"run `codecorpus ingest SOURCE --dataset {dataset}` first"
            ) from exc

    def ensure_table(
        self, dataset: str, name: str, schema: pa.Schema, partition_by: str | None = None
    ) -> Table:
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self.iceberg.create_namespace(dataset)
        try:
            table = self.iceberg.create_table(f"{dataset}.{name}", schema=schema)
        except TableAlreadyExistsError:
            table = self.iceberg.load_table(f"{dataset}.{name}")
            missing = set(schema.names) - {f.name for f in table.schema().fields}
            if missing:  # a newer codecorpus added columns: evolve, old rows read as null
                with table.update_schema() as update:
                    update.union_by_name(schema)
                table = self.iceberg.load_table(f"{dataset}.{name}")
            return table
        if partition_by is not None:
            with table.update_spec() as spec:
                spec.add_identity(partition_by)
        return table

    def commit(self, dataset: str, name: str, change: Callable[[Table, Transaction], T]) -> T:
        """Run `change(table, tx)` in a transaction on freshly loaded metadata, retrying when
        another writer committed first (Iceberg's optimistic concurrency)."""
        delay = 0.05
        for attempt in itertools.count(1):
            table = self.table(dataset, name)
            try:
                with table.transaction() as tx:
                    result = change(table, tx)
                return result
            except CommitFailedException:
                if attempt >= MAX_COMMIT_ATTEMPTS:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def data_file_uris(table: Table, snapshot_id: int | None = None, row_filter=None) -> list[str]:
    """Data files of a snapshot (current by default), sorted for determinism."""
    scan = (
        table.scan(snapshot_id=snapshot_id)
        if row_filter is None
        else table.scan(row_filter=row_filter, snapshot_id=snapshot_id)
    )
    return sorted(task.file.file_path for task in scan.plan_files())
