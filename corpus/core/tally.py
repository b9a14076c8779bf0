"""Files and bytes per (language, drop reason): the accounting every stage reports.

Workers tally what they write and return the tallies; the driver sums them,
so statistics never require a second pass over the corpus.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

Key = tuple[str | None, str | None]  # (lang, drop_reason)


@dataclass
class Tally:
    files: Counter[Key] = field(default_factory=Counter)
    bytes: Counter[Key] = field(default_factory=Counter)

    def add_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        frame = pl.from_arrow(table.select(["lang", "drop_reason", "size"]))
        grouped = frame.group_by(["lang", "drop_reason"]).agg(
            pl.len().alias("files"), pl.col("size").sum().alias("bytes")
        )
        for lang, reason, files, size in grouped.iter_rows():
            self.files[(lang, reason)] += files
            self.bytes[(lang, reason)] += size

    def merge(self, other: "Tally") -> None:
        self.files.update(other.files)
        self.bytes.update(other.bytes)

    def to_rows(self) -> list[dict[str, Any]]:
        return [
            {"lang": lang, "drop_reason": reason, "files": n, "bytes": self.bytes[(lang, reason)]}
            for (lang, reason), n in sorted(self.files.items(), key=_sort_key)
        ]

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> "Tally":
        tally = cls()
        for row in rows:
            key = (row["lang"], row["drop_reason"])
            tally.files[key] += row["files"]
            tally.bytes[key] += row["bytes"]
        return tally

    @property
    def total_files(self) -> int:
        return sum(self.files.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def by_language(self, kept_only: bool = True) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (lang, reason), n in sorted(self.files.items(), key=_sort_key):
            if kept_only and reason is not None:
                continue
            entry = out.setdefault(lang or "unknown", {"files": 0, "bytes": 0})
            entry["files"] += n
            entry["bytes"] += self.bytes[(lang, reason)]
        return out

    def by_reason(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (lang, reason), n in sorted(self.files.items(), key=_sort_key):
            if reason is None:
                continue
            entry = out.setdefault(reason, {"files": 0, "bytes": 0})
            entry["files"] += n
            entry["bytes"] += self.bytes[(lang, reason)]
        return out


def _sort_key(item: tuple[Key, int]) -> tuple[str, str]:
    (lang, reason), _ = item
    return (lang or "", reason or "")


TALLY_TYPE = pa.list_(
    pa.struct(
        [
            ("lang", pa.string()),
            ("drop_reason", pa.string()),
            ("files", pa.int64()),
            ("bytes", pa.int64()),
        ]
    )
)
