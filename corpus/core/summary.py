"""The small summary row each worker call returns: files written and tallies."""

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from corpus.core.tally import TALLY_TYPE, Tally

SUMMARY_SCHEMA = pa.schema(
    [
        ("units", pa.int64()),
        ("seen", pa.int64()),
        ("skipped", pa.int64()),
        ("bytes_seen", pa.int64()),
        ("stripped_bytes", pa.int64()),
        ("data_files", pa.list_(pa.string())),
        ("extra_files", pa.list_(pa.string())),
        ("tally", TALLY_TYPE),
        ("pii", pa.map_(pa.string(), pa.int64())),
    ]
)


@dataclass
class CallSummary:
    units: int = 0
    seen: int = 0
    skipped: int = 0
    bytes_seen: int = 0
    stripped_bytes: int = 0
    """Bytes formatters removed from kept files (e.g. long inline content in HTML/CSS)."""
    data_files: list[str] = field(default_factory=list)
    extra_files: list[str] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    pii: dict[str, int] = field(default_factory=dict)
    """Spans of personal data and secrets found per kind, and `files` that held any."""

    def to_table(self) -> pa.Table:
        row: dict[str, Any] = {
            "units": self.units,
            "seen": self.seen,
            "skipped": self.skipped,
            "bytes_seen": self.bytes_seen,
            "stripped_bytes": self.stripped_bytes,
            "data_files": self.data_files,
            "extra_files": self.extra_files,
            "tally": self.tally.to_rows(),
            "pii": sorted(self.pii.items()),
        }
        return pa.Table.from_pylist([row], schema=SUMMARY_SCHEMA)

    def merge_table(self, table: pa.Table) -> None:
        for row in table.to_pylist():
            self.units += row["units"]
            self.seen += row["seen"]
            self.skipped += row["skipped"]
            self.bytes_seen += row["bytes_seen"]
            self.stripped_bytes += row["stripped_bytes"]
            self.data_files.extend(row["data_files"])
            self.extra_files.extend(row["extra_files"])
            self.tally.merge(Tally.from_rows(row["tally"]))
            for kind, count in row.get("pii") or []:
                self.pii[kind] = self.pii.get(kind, 0) + count
