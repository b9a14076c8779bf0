"""The catalog database's own tables (runs, mixtures, API keys) and the one engine per URI.

Iceberg keeps its metadata in the same database (SQLite by default, PostgreSQL at
scale); next to it live the few tables codecorpus writes itself. They share one
`MetaData` and one engine per catalog URI, created (with its tables) on first use,
so a process opens one connection pool per database, not one per store object.
"""

import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from corpus.core.settings import Settings

#: SQLite waits this long for another writer's lock instead of failing at once.
SQLITE_TIMEOUT_S = 30
MAX_API_KEY_NAME = 100

metadata = sa.MetaData()

RUNS = sa.Table(
    "codecorpus_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

MIXTURES = sa.Table(
    "codecorpus_mixtures",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("tokenizer", sa.String(64), nullable=False),
    sa.Column("weights", sa.Text, nullable=False),
    sa.Column("token_budget", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

API_KEYS = sa.Table(
    "codecorpus_api_keys",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(MAX_API_KEY_NAME), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


def catalog_uri(settings_or_uri: Settings | str) -> str:
    """The SQLAlchemy URI of the catalog database; for the embedded SQLite catalog its home
    folder is created, so the database file can be."""
    if isinstance(settings_or_uri, str):
        return settings_or_uri
    uri = settings_or_uri.resolved_catalog_uri()
    if uri.startswith("sqlite:"):
        settings_or_uri.home.mkdir(parents=True, exist_ok=True)
    return uri


def sqlite_path(uri: str) -> Path:
    """The database file of a `sqlite:///...` URI."""
    return Path(sa.engine.make_url(uri).database or "")


def create_engine(uri: str, **options: Any) -> sa.Engine:
    """A new engine on the catalog database, with the connect arguments every user needs
    (SQLite: wait for a busy database). Callers that want a pool of their own (the publish
    lock: a connection held open for a run) pass `poolclass` and dispose of it."""
    args = {"timeout": SQLITE_TIMEOUT_S} if uri.startswith("sqlite") else {}
    return sa.create_engine(uri, connect_args=args, **options)


def engine(settings_or_uri: Settings | str) -> sa.Engine:
    """The process's shared engine on the catalog database, its tables created on first use."""
    uri = catalog_uri(settings_or_uri)
    with _lock:
        found = _engines.get(uri)
        if found is None:
            found = create_engine(uri)
            metadata.create_all(found, checkfirst=True)
            if len(_engines) >= MAX_ENGINES:  # a test session opens many throwaway homes
                _engines.pop(next(iter(_engines))).dispose()
            _engines[uri] = found
        return found


#: At most this many catalog databases keep a pool open in one process.
MAX_ENGINES = 32
_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def _forget_pooled_connections() -> None:
    """A forked child must not use its parent's pooled connections (SQLAlchemy's advice)."""
    for shared in _engines.values():
        shared.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pooled_connections)

__all__ = ["API_KEYS", "MIXTURES", "RUNS", "catalog_uri", "create_engine", "engine", "metadata"]
