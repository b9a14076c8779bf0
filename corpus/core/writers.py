"""Parquet data files written by workers, later committed to Iceberg by the driver."""

import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.core.storage import ensure_parent, filesystem_for

#: Row groups are buffered to about this size: readers want large groups,
#: workers want bounded memory.
ROW_GROUP_BYTES = 32 << 20
#: A data file is closed and a new one started past this size.
FILE_BYTES = 256 << 20


@dataclass
class ParquetSink:
    """Writes batches of one schema under `folder_uri`, rolling files; `close` returns their
    URIs."""

    folder_uri: str
    schema: pa.Schema
    prefix: str = ""
    name: str | None = None
    """Deterministic file names `<prefix><name>-<n>`: a retried task overwrites its own files."""
    written: list[str] = field(default_factory=list)
    rows: int = 0
    _pending: list[pa.Table] = field(default_factory=list)
    _pending_bytes: int = 0
    _writer: pq.ParquetWriter | None = None
    _stream: object | None = None
    _file_bytes: int = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_bytes += table.nbytes
        self.rows += table.num_rows
        if self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> list[str]:
        self._flush()
        self._close_file()
        return self.written

    def _flush(self) -> None:
        if not self._pending:
            return
        group = pa.concat_tables(self._pending)
        self._pending, self._pending_bytes = [], 0
        writer = self._writer or self._open_file()
        writer.write_table(group, row_group_size=group.num_rows)
        self._file_bytes += group.nbytes
        if self._file_bytes >= FILE_BYTES:
            self._close_file()

    def _open_file(self) -> pq.ParquetWriter:
        stem = f"{self.name}-{len(self.written):04d}" if self.name else uuid.uuid4().hex
        uri = f"{self.folder_uri.rstrip('/')}/{self.prefix}{stem}.parquet"
        fs, path = filesystem_for(uri)
        ensure_parent(fs, path)
        self._stream = fs.open_output_stream(path)
        self._writer = pq.ParquetWriter(self._stream, self.schema, compression="zstd")
        self.written.append(uri)
        return self._writer

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._stream.close()  # type: ignore[union-attr]
            self._writer, self._stream, self._file_bytes = None, None, 0
