"""One publishing run per version name at a time, released when its process dies.

Two runs publishing the same name would write the same data files and share
checkpoints, so a run holds an exclusive lock on (catalog, dataset, version)
from start to registration. On PostgreSQL it is a session advisory lock, on
SQLite an `flock` next to the database file: the server or the kernel drops it
when the holder's connection or process goes away, so a killed run never
leaves a stale lock and a rerun can start at once.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from corpus.core.errors import VersionInProgress
from corpus.core.settings import Settings
from corpus.store.sql import create_engine, sqlite_path

log = logging.getLogger(__name__)


def lock_key(settings: Settings, dataset: str, version: str) -> int:
    """A stable signed 64-bit key (PostgreSQL advisory locks take a bigint)."""
    name = f"codecorpus:{settings.catalog_name}:{dataset}:{version}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def publish_lock(settings: Settings, dataset: str, version: str) -> Iterator[None]:
    """Hold the lock for the block, or raise VersionInProgress at once if another run has it."""
    uri = settings.resolved_catalog_uri()
    busy = VersionInProgress(
        f"another run is publishing version {version!r} of {dataset!r} right now; "
        f"wait for it to finish (`codecorpus versions list {dataset}`) or pick another name"
    )
    if uri.startswith("postgresql"):
        with _advisory_lock(uri, lock_key(settings, dataset, version), busy):
            yield
    elif uri.startswith("sqlite"):
        with _file_lock(_lock_path(settings, dataset, version), busy):
            yield
    else:  # other SQL databases: the registry still admits one winner per name
        log.warning("no publish lock for %s catalogs; avoid concurrent runs of one name", uri)
        yield


@contextmanager
def _advisory_lock(uri: str, key: int, busy: Exception) -> Iterator[None]:
    engine = create_engine(uri, poolclass=NullPool)  # a connection of its own, held open
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise busy
            try:
                yield
            finally:  # a lost connection has released the lock already
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def _lock_path(settings: Settings, dataset: str, version: str) -> Path:
    database = sqlite_path(settings.resolved_catalog_uri())
    digest = f"{lock_key(settings, dataset, version) & (2**64 - 1):016x}"
    return database.parent / "locks" / f"{digest}.lock"


@contextmanager
def _file_lock(path: Path, busy: Exception) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
