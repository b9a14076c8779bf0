"""What a reader produces: one row per file found, before intake rules run."""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from corpus.core.reasons import DropReason

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

#: Repository metadata only some sources carry; all-null columns unless a value came.
_METADATA = ("stars", "forks", "revision_date", "source_licenses")


@dataclass
class RecordBuffer:
    """Accumulates file records and hands them out as Arrow batches of bounded size.

    File bytes are appended to one growing buffer beside their Arrow offsets, so a
    batch's `data` column is built from that buffer without a copy or a Python
    object per file (the reader's bytes are copied once, into the buffer).
    """

    source: str
    batch_rows: int
    max_batch_bytes: int = 64 << 20
    _repos: list[str] = field(default_factory=list)
    _paths: list[str] = field(default_factory=list)
    _sizes: list[int] = field(default_factory=list)
    _reasons: list[str | None] = field(default_factory=list)
    _data: bytearray = field(default_factory=bytearray)
    _offsets: list[int] = field(default_factory=lambda: [0])
    _nulls: list[int] = field(default_factory=list)
    _metadata: list[tuple] = field(default_factory=list)

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
        row = len(self._repos)
        self._repos.append(repo)
        self._paths.append(path)
        self._sizes.append(size)
        self._reasons.append(pre_reason and pre_reason.value)
        if data is None:
            self._nulls.append(row)
        else:
            self._data += data
        self._offsets.append(len(self._data))
        metadata = (stars, forks, revision_date, source_licenses)
        if metadata != (None, None, None, None):
            self._metadata.append((row, *metadata))
        if row + 1 >= self.batch_rows or len(self._data) >= self.max_batch_bytes:
            return self.flush()
        return None

    def flush(self) -> pa.Table | None:
        rows = len(self._repos)
        if not rows:
            return None
        columns = {
            "repo": pa.array(self._repos, pa.string()),
            "path": pa.array(self._paths, pa.string()),
            "data": self._data_column(rows),
            "size": pa.array(self._sizes, pa.int64()),
            "pre_reason": pa.array(self._reasons, pa.string()),
            **self._metadata_columns(rows),
            "source": pa.array([self.source] * rows, pa.string()),
        }
        table = pa.Table.from_arrays(
            [columns[name] for name in READ_SCHEMA.names], schema=READ_SCHEMA
        )
        self._repos, self._paths, self._sizes, self._reasons = [], [], [], []
        self._data, self._offsets, self._nulls, self._metadata = bytearray(), [0], [], []
        return table

    def _data_column(self, rows: int) -> pa.Array:
        validity = None
        if self._nulls:
            valid = np.ones(rows, dtype=bool)
            valid[self._nulls] = False
            validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        offsets = pa.py_buffer(np.array(self._offsets, dtype=np.int64))
        # zero-copy: Arrow keeps the bytearray alive; flush starts a new one
        data = pa.py_buffer(self._data)
        return pa.Array.from_buffers(
            pa.large_binary(), rows, [validity, offsets, data], null_count=len(self._nulls)
        )

    def _metadata_columns(self, rows: int) -> dict[str, pa.Array]:
        types = {name: READ_SCHEMA.field(name).type for name in _METADATA}
        if not self._metadata:
            return {name: pa.nulls(rows, type_) for name, type_ in types.items()}
        values: dict[str, list] = {name: [None] * rows for name in _METADATA}
        for row, *metadata in self._metadata:
            for name, value in zip(_METADATA, metadata, strict=True):
                values[name][row] = value
        return {name: pa.array(values[name], types[name]) for name in _METADATA}
