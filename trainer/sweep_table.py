"""The sweep's results: one row per finished trial, in `results.parquet` (and `results.csv`).

A row is appended as soon as its trial finishes (the whole file is rewritten atomically, it is
small), so an interrupted sweep keeps what it trained and a rerun skips those trials. The CSV
copy spreads the per-language validation losses over `val_loss.<language>` columns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trainer.sweep_grid import SweepError

SCHEMA = pa.schema(
    [
        pa.field("trial_id", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("params", pa.int64()),  # N
        pa.field("tokens", pa.int64()),  # D, tokens trained on
        pa.field("unique_tokens", pa.int64()),  # U, tokens of the selected documents
        pa.field("epochs", pa.float64()),  # D / U
        pa.field("planned_tokens", pa.int64()),
        pa.field("planned_unique", pa.int64()),
        pa.field("planned_epochs", pa.float64()),
        pa.field("steps", pa.int64()),
        pa.field("val_loss", pa.float64()),
        pa.field("val_loss_by_language", pa.string()),  # JSON object: language -> loss
        pa.field("train_loss", pa.float64()),  # mean over the last steps (see trainer.sweep)
        pa.field("tokens_per_s", pa.float64()),
        pa.field("mfu", pa.float64()),
        pa.field("wall_s", pa.float64()),
        pa.field("evals", pa.string()),  # JSON object: bits per byte, pass@k ({} if none)
        pa.field("seed", pa.int64()),
        pa.field("finished_at", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)


class ResultsTable:
    """Results of a sweep's trials, stored under `folder`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.parquet = self.folder / "results.parquet"
        self.csv = self.folder / "results.csv"

    def read(self) -> pa.Table:
        if not self.parquet.exists():
            return SCHEMA.empty_table()
        try:
            table = pq.read_table(self.parquet)
        except (OSError, pa.ArrowInvalid) as exc:
            raise SweepError(
                f"cannot read the sweep results {self.parquet}: {exc}; move it away to start over"
            ) from exc
        if "evals" not in table.schema.names and len(table.schema.names) == len(COLUMNS) - 1:
            # a table from before evaluations: none recorded
            empty = pa.array(["{}"] * len(table), pa.string())
            table = table.add_column(COLUMNS.index("evals"), "evals", empty)
        if table.schema.names != list(COLUMNS):
            raise SweepError(
                f"{self.parquet} has columns {table.schema.names}, not a sweep's {list(COLUMNS)}: "
                "give another --out folder"
            )
        return table

    def rows(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts (per-language losses decoded), all or those of the trial `ids`, in
        their order."""
        rows = self.read().to_pylist()
        for row in rows:
            row["val_loss_by_language"] = json.loads(row["val_loss_by_language"] or "{}")
            row["evals"] = json.loads(row["evals"] or "{}")
        if ids is None:
            return rows
        by_id = {row["trial_id"]: row for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def trial_ids(self) -> set[str]:
        return set(self.read().column("trial_id").to_pylist())

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one finished trial (replacing an earlier row of the same trial)."""
        missing = sorted(set(COLUMNS) - set(row) - {"evals"})
        if missing:
            raise SweepError(f"result row lacks {missing}")
        record = {name: row.get(name) for name in COLUMNS}
        record["val_loss_by_language"] = json.dumps(row["val_loss_by_language"], sort_keys=True)
        record["evals"] = json.dumps(row.get("evals") or {}, sort_keys=True)
        old = self.read()
        old = old.filter(pc.not_equal(old["trial_id"], record["trial_id"]))
        table = pa.concat_tables([old, pa.Table.from_pylist([record], schema=SCHEMA)])
        self.folder.mkdir(parents=True, exist_ok=True)
        _replace(self.parquet, lambda path: pq.write_table(table, path))
        _replace(self.csv, lambda path: pacsv.write_csv(_spread(table), path))


def _spread(table: pa.Table) -> pa.Table:
    """The table with `val_loss_by_language` spread over `val_loss.<language>` columns."""
    decoded = [json.loads(v or "{}") for v in table.column("val_loss_by_language").to_pylist()]
    languages = sorted({lang for losses in decoded for lang in losses})
    evals = [json.loads(v or "{}") for v in table.column("evals").to_pylist()]
    table = table.drop_columns(["val_loss_by_language", "evals"])
    for lang in languages:
        values = [losses.get(lang) for losses in decoded]
        table = table.append_column(f"val_loss.{lang}", pa.array(values, pa.float64()))
    for name in sorted({k for e in evals for k, v in e.items() if isinstance(v, int | float)}):
        values = [e.get(name) for e in evals]
        table = table.append_column(name, pa.array(values, pa.float64()))
    return table


def _replace(path: Path, write) -> None:
    """Write through a temporary file so a crash never leaves half a table."""
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)
