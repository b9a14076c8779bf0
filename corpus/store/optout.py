"""The opt-out registry: repositories, owners and path globs whose authors asked to be left out.

Entries live in the catalog (`_governance.optout`), with who asked and when.
Removing an entry keeps it for the audit trail (`removed_at`). Each version
records the registry revision (its snapshot id) it honoured; the rule matches
patterns, not files, so later ingests of an opted-out repository stay out.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table, Transaction

from corpus.core.errors import CodecorpusError, ConfigError
from corpus.store.catalog import Catalog

NAMESPACE, TABLE = "_governance", "optout"

OPTOUT_SCHEMA = pa.schema(
    [
        pa.field("entry_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("pattern", pa.string(), nullable=False),
        pa.field("requested_by", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("requested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("removed_at", pa.timestamp("us", tz="UTC")),
    ]
)


class OptOutKind(StrEnum):
    REPO = "repo"
    """Exact repository name, e.g. octo/cat."""
    OWNER = "owner"
    """Every repository of an organisation or user, e.g. octo."""
    GLOB = "glob"
    """fnmatch pattern over repo/path, e.g. octo/cat/vendor/*."""


@dataclass(frozen=True)
class OptOutSnapshot:
    revision: int | None
    entries: list[dict]


class OptOutRegistry:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _table(self) -> Table:
        return self.catalog.ensure_table(NAMESPACE, TABLE, OPTOUT_SCHEMA)

    def add(self, kind: str, pattern: str, requested_by: str, reason: str | None = None) -> str:
        try:
            kind = OptOutKind(kind)
        except ValueError as exc:
            raise ConfigError(
                f"opt-out kind must be one of {[k.value for k in OptOutKind]}"
            ) from exc
        if not pattern.strip() or not requested_by.strip():
            raise ConfigError("an opt-out needs a pattern and who requested it (--by)")
        entry = {
            "entry_id": uuid.uuid4().hex[:12], "kind": kind.value, "pattern": pattern.strip(),
            "requested_by": requested_by.strip(), "reason": reason,
            "requested_at": datetime.now(UTC), "removed_at": None,
        }  # fmt: skip
        self._table()
        row = pa.Table.from_pylist([entry], schema=OPTOUT_SCHEMA)
        self.catalog.commit(NAMESPACE, TABLE, lambda _, tx: tx.append(row))
        return entry["entry_id"]

    def remove(self, entry_id: str) -> None:
        def mark(table: Table, tx: Transaction) -> None:
            rows = table.scan(row_filter=EqualTo("entry_id", entry_id)).to_arrow()
            if rows.num_rows == 0:
                raise CodecorpusError(
                    f"no opt-out entry {entry_id!r}; see `codecorpus optout list`"
                )
            removed = pa.array(
                [datetime.now(UTC)] * rows.num_rows, OPTOUT_SCHEMA.field("removed_at").type
            )
            rows = rows.set_column(rows.schema.get_field_index("removed_at"), "removed_at", removed)
            tx.overwrite(rows, overwrite_filter=EqualTo("entry_id", entry_id))

        self._table()
        self.catalog.commit(NAMESPACE, TABLE, mark)

    def snapshot(self, include_removed: bool = False) -> OptOutSnapshot:
        if not self.catalog.has_table(NAMESPACE, TABLE):
            return OptOutSnapshot(None, [])
        table = self._table()
        current = table.current_snapshot()
        if current is None:
            return OptOutSnapshot(None, [])
        rows = table.scan(snapshot_id=current.snapshot_id).to_arrow()
        if not include_removed:
            rows = rows.filter(pc.is_null(rows.column("removed_at")))
        rows = rows.sort_by([("requested_at", "ascending"), ("entry_id", "ascending")])
        return OptOutSnapshot(current.snapshot_id, rows.to_pylist())
