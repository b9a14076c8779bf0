"""What a reader produces: one row per file found, before intake rules run."""

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from corpus.reasons import DropReason

#: Reader output. `data` holds the exact bytes, or null when the reader did not
#: read them; `pre_reason` is set when the reader already knows the file is out
#: (symlink, unsafe archive path, over the size cap, unreadable).
READ_SCHEMA = pa.schema(
    [
        pa.field("repo", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("data", pa.large_binary()),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("pre_reason", pa.string()),
        pa.field("stars", pa.int64()),
        pa.field("forks", pa.int64()),
        pa.field("revision_date", pa.timestamp("us", tz="UTC")),
        pa.field("source_licenses", pa.list_(pa.string())),
        pa.field("source", pa.string(), nullable=False),
    ]
)


@dataclass
class RecordBuffer:
    """Accumulates file records and hands them out as Arrow batches of bounded size."""

    source: str
    batch_rows: int
    max_batch_bytes: int = 64 << 20
    _rows: dict[str, list] = field(default_factory=lambda: {f.name: [] for f in READ_SCHEMA})
    _bytes: int = 0

    def add(
        self,
        repo: str,
        path: str,
        data: bytes | None,
        size: int,
        pre_reason: DropReason | None = None,
        *,
        stars: int | None = None,
        forks: int | None = None,
        revision_date: datetime | None = None,
        source_licenses: list[str] | None = None,
    ) -> pa.Table | None:
        """Add one file; returns a full batch when one is ready, else None."""
        values = (repo, path, data, size, pre_reason and pre_reason.value, stars, forks,
                  revision_date, source_licenses, self.source)
        for name, value in zip(READ_SCHEMA.names, values, strict=True):
            self._rows[name].append(value)
        self._bytes += len(data) if data else 0
        if len(self._rows["repo"]) >= self.batch_rows or self._bytes >= self.max_batch_bytes:
            return self.flush()
        return None

    def flush(self) -> pa.Table | None:
        if not self._rows["repo"]:
            return None
        table = pa.Table.from_pydict(self._rows, schema=READ_SCHEMA)
        self._rows = {f.name: [] for f in READ_SCHEMA}
        self._bytes = 0
        return table
