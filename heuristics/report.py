"""The heuristics report of a version: per rule x language, files and bytes dropped;
per formatter x language, files rewritten and bytes stripped.

Pure function of a decisions table (the caller reads it from the catalog), so
the report never needs a second pass over content.
"""

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
import pyarrow as pa

#: Columns of `<ds>.decisions` the report reads.
REPORT_COLUMNS = ("lang", "drop_reason", "size", "formatter", "stripped_bytes")

#: Reason prefixes decided by the heuristics stage.
HEURISTIC_PREFIXES = ("quality:", "language:")


@dataclass(frozen=True)
class ReportRow:
    step: str
    """A drop reason (`quality:<rule>`, `language:not_selected`) or `formatter:<name>`."""
    lang: str
    files: int
    """Files dropped by the rule, or rewritten by the formatter."""
    bytes_dropped: int
    """Source bytes of the dropped files (0 for formatters)."""
    bytes_stripped: int
    """UTF-8 bytes the formatter removed (0 for rules)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def heuristics_report(decisions: pa.Table) -> list[ReportRow]:
    """Rows sorted by step, then bytes (largest first), then language."""
    frame = pl.DataFrame(pl.from_arrow(decisions.select(list(REPORT_COLUMNS))))
    lang = pl.col("lang").fill_null("unknown").alias("lang")
    by_rule = pl.any_horizontal(
        pl.col("drop_reason").str.starts_with(p) for p in HEURISTIC_PREFIXES
    )
    dropped = (
        frame.filter(by_rule)
        .group_by(pl.col("drop_reason").alias("step"), lang)
        .agg(
            pl.len().cast(pl.Int64).alias("files"),
            pl.col("size").sum().cast(pl.Int64).alias("bytes_dropped"),
            pl.lit(0, pl.Int64).alias("bytes_stripped"),
        )
    )
    rewritten = (
        frame.filter(pl.col("formatter").is_not_null())
        .group_by(("formatter:" + pl.col("formatter")).alias("step"), lang)
        .agg(
            pl.len().cast(pl.Int64).alias("files"),
            pl.lit(0, pl.Int64).alias("bytes_dropped"),
            pl.col("stripped_bytes").sum().cast(pl.Int64).alias("bytes_stripped"),
        )
    )
    ordered = pl.concat([dropped, rewritten]).sort(
        ["step", "bytes_dropped", "bytes_stripped", "lang"], descending=[False, True, True, False]
    )
    return [ReportRow(**row) for row in ordered.iter_rows(named=True)]
