"""The Iceberg catalog: SQLite + local warehouse by default, PostgreSQL + s3:// at scale, or
any catalog pyiceberg's `load_catalog` opens (REST, Glue, Hive) from
`Settings.catalog_properties`.

All commits happen on the driver through this class. Several drivers (runs)
may commit to one table at once: Iceberg's optimistic concurrency rejects a
commit whose base metadata is stale, and `commit` then reloads the table and
applies the change again to the fresh state. Workers only write Parquet files.
"""

import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import pyarrow as pa
import sqlalchemy.exc
from pyiceberg.catalog import Catalog as IcebergCatalog
from pyiceberg.catalog import load_catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchPropertyException,
    NoSuchTableError,
    NotInstalledError,
    TableAlreadyExistsError,
)
from pyiceberg.table import Table, Transaction

from corpus.core.errors import CommitConflict, ConfigError, DatasetNotFound
from corpus.core.settings import Settings
from corpus.core.storage import check_bucket, iceberg_properties

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Tables of a dataset, by role (see DESIGN.md "Catalog and versions").
RAW, DECISIONS, FILES, VERSIONS = "raw", "decisions", "files", "versions"
MINHASH, SHARDS = "minhash", "shards"
MAX_COMMIT_ATTEMPTS = 20
#: Properties of every table we create. pyiceberg retries a lost commit by replaying the
#: staged change on the new state without running the code that decided it (a registry
#: name check, say); `Catalog.commit` retries by running that code again instead.
NO_INTERNAL_RETRIES = {"commit.retry.num-retries": "0"}
#: Seconds a connection waits for SQLite's write lock before failing.
SQLITE_TIMEOUT = 30
#: Errors of concurrent first use of a database: two processes creating the catalog's
#: own tables or one namespace at once (unique violations, "already exists").
_CREATE_RACES = (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError)


class Catalog:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def iceberg(self) -> IcebergCatalog:
        configured = self.settings.resolved_catalog_properties()
        if configured is not None:
            return self._load(configured)
        warehouse = self.settings.resolved_warehouse()
        check_bucket(warehouse, "warehouse", self.settings)
        properties = iceberg_properties(self.settings)  # S3 endpoint and region for its FileIO
        uri = self._sqlite_ready(self.settings.resolved_catalog_uri())
        return _first_use(
            lambda: SqlCatalog(
                self.settings.catalog_name, uri=uri, warehouse=warehouse, **properties
            )
        )

    def _load(self, configured: dict[str, str]) -> IcebergCatalog:
        """The catalog `load_catalog` opens from the configured properties, over our S3
        settings; a SQL one gets the SQLite lock wait and our warehouse unless it names its own."""
        properties = {**iceberg_properties(self.settings), **configured}
        uri = properties.get("uri", "")
        if properties.get("type", "").lower() == "sql" or (
            "type" not in properties and uri.startswith(("sqlite", "postgresql"))
        ):
            if uri:
                properties["uri"] = self._sqlite_ready(uri)
            properties.setdefault("warehouse", self.settings.resolved_warehouse())
        if "://" in properties.get("warehouse", ""):
            check_bucket(properties["warehouse"], "warehouse", self.settings)
        kind = properties.get("type") or properties.get("py-catalog-impl") or uri or "?"
        try:
            return _first_use(lambda: load_catalog(self.settings.catalog_name, **properties))
        except NotInstalledError as exc:
            raise ConfigError(f"cannot open the {kind} catalog: {exc}") from exc
        except (
            ValueError,
            OSError,
            NoSuchPropertyException,
            sqlalchemy.exc.SQLAlchemyError,
        ) as exc:
            raise ConfigError(
                f"cannot open the {kind} catalog from CODECORPUS_CATALOG_PROPERTIES "
                f"({type(exc).__name__}: {exc}); fix the properties (pyiceberg's catalog "
                "documentation lists them per type)"
            ) from exc

    def _sqlite_ready(self, uri: str) -> str:
        """A SQLite URI whose folder exists and whose connections wait for the write lock."""
        if uri.startswith("sqlite:"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
            if "?" not in uri:  # wait for a concurrent writer instead of "database is locked"
                uri = f"{uri}?timeout={SQLITE_TIMEOUT}"
        return uri

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
        """Load the table, creating it (with its partition spec, in one commit) if missing;
        safe when several runs create it at once: the losers load the winner's table."""
        try:
            table = self.iceberg.load_table(f"{dataset}.{name}")
        except (NoSuchTableError, NoSuchNamespaceError):
            table = self._create(dataset, name, schema, partition_by)
        if set(schema.names) - {f.name for f in table.schema().fields}:
            self._evolve(dataset, name, schema)  # a newer codecorpus added columns
            table = self.iceberg.load_table(f"{dataset}.{name}")
        return table

    def _create(
        self, dataset: str, name: str, schema: pa.Schema, partition_by: str | None
    ) -> Table:
        with contextlib.suppress(NamespaceAlreadyExistsError, *_CREATE_RACES):
            self.iceberg.create_namespace(dataset)
        try:
            tx = self.iceberg.create_table_transaction(
                f"{dataset}.{name}", schema=schema, properties=NO_INTERNAL_RETRIES
            )
            if partition_by is not None:
                with tx.update_spec() as spec:
                    spec.add_identity(partition_by)
            tx.commit_transaction()
        except (TableAlreadyExistsError, CommitFailedException):
            pass  # created by a concurrent run ("Table already exists" at commit)
        return self.iceberg.load_table(f"{dataset}.{name}")

    def _evolve(self, dataset: str, name: str, schema: pa.Schema) -> None:
        """Add missing columns (old rows read as null), retried like any commit."""

        def union(table: Table, tx: Transaction) -> None:
            if set(schema.names) - {f.name for f in table.schema().fields}:
                with tx.update_schema() as update:
                    update.union_by_name(schema)

        self.commit(dataset, name, union)

    def commit(self, dataset: str, name: str, change: Callable[[Table, Transaction], T]) -> T:
        """Run `change(table, tx)` in a transaction on freshly loaded metadata, retrying when
        another writer committed first (Iceberg's optimistic concurrency). `change` must be
        a function of the table state it is given: each retry calls it on the new state."""
        delay = 0.05
        for attempt in itertools.count(1):
            table = self.table(dataset, name)
            if not NO_INTERNAL_RETRIES.items() <= table.properties.items():
                table = self._without_internal_retries(dataset, name, table)
            try:
                with table.transaction() as tx:
                    result = change(table, tx)
                return result
            except CommitFailedException as exc:
                if attempt >= MAX_COMMIT_ATTEMPTS:
                    raise CommitConflict(
                        f"could not commit to {dataset}.{name} after {attempt} attempts: other "
                        f"writers kept committing first ({exc}); run the command again"
                    ) from exc
                log.info("commit to %s.%s lost a race (attempt %d); retrying", dataset, name,
                         attempt)  # fmt: skip
                time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: racers spread out
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    def _without_internal_retries(self, dataset: str, name: str, table: Table) -> Table:
        """Set NO_INTERNAL_RETRIES on a table created before we did so (once per table)."""
        # CommitFailedException: a concurrent run did it first
        with contextlib.suppress(CommitFailedException), table.transaction() as tx:
            tx.set_properties(NO_INTERNAL_RETRIES)
        return self.table(dataset, name)


def _first_use(open_catalog: Callable[[], IcebergCatalog]) -> IcebergCatalog:
    """Open a catalog, retrying when another process created a SQL catalog's tables first."""
    for attempt in range(1, 6):
        try:
            return open_catalog()
        except _CREATE_RACES:
            if attempt == 5:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def staged_snapshot_id(tx: Transaction) -> int:
    """The snapshot a transaction is about to commit (ids are chosen by the writer, so this
    is the id of our snapshot even when other writers commit right after us)."""
    snapshot = tx.table_metadata.current_snapshot()
    if snapshot is None:
        raise ValueError("the transaction has no snapshot; stage a data change first")
    return snapshot.snapshot_id


def data_file_uris(table: Table, snapshot_id: int | None = None, row_filter=None) -> list[str]:
    """Data files of a snapshot (current by default), sorted for determinism."""
    scan = (
        table.scan(snapshot_id=snapshot_id)
        if row_filter is None
        else table.scan(row_filter=row_filter, snapshot_id=snapshot_id)
    )
    return sorted(task.file.file_path for task in scan.plan_files())
