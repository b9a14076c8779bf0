"""File pages that read only the data files able to hold them.

A version's rows are written one data file per file-id range, sorted by file id,
and Iceberg keeps each data file's smallest and largest file id. A page of the
`limit` smallest ids above a cursor therefore needs the files in order of their
smallest id, and can stop at the first file whose smallest id is above the page's
last: usually one or two files, whatever the corpus size, where a plain scan
reads them all. Scan plans (manifests read, files pruned by the filters) depend
only on the version and the filters, so they are kept and reused by every page.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import And, BooleanExpression, GreaterThan
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import DataScan, FileScanTask

from api.caching import Lru

ORDER = "file_id"


@dataclass(frozen=True)
class Plan:
    """The files a filtered version scan reads, ordered by their smallest file id."""

    scan: DataScan
    tasks: tuple[FileScanTask, ...]
    lower: tuple[str, ...]
    """Smallest file id in each file ("" when unknown: such a file is always read)."""
    upper: tuple[str | None, ...]
    """Largest file id in each file (None when unknown)."""

    @classmethod
    def of(cls, scan: DataScan) -> "Plan":
        field_id = scan.table_metadata.schema().find_field(ORDER).field_id

        def bound(bounds: dict[int, bytes] | None) -> str | None:
            raw = (bounds or {}).get(field_id)
            return raw.decode("utf-8", "replace") if raw is not None else None

        tasks = sorted(scan.plan_files(), key=lambda t: bound(t.file.lower_bounds) or "")
        return cls(
            scan,
            tuple(tasks),
            tuple(bound(t.file.lower_bounds) or "" for t in tasks),
            tuple(bound(t.file.upper_bounds) for t in tasks),
        )

    def first_rows(self, limit: int, after: str | None = None) -> pa.Table | None:
        """The `limit` rows with the smallest file ids above `after`, in file-id order."""
        row_filter: BooleanExpression = self.scan.row_filter
        if after is not None:
            row_filter = And(row_filter, GreaterThan(ORDER, after))
        arrow = ArrowScan(
            self.scan.table_metadata,
            self.scan.io,
            self.scan.projection(),
            row_filter,
            self.scan.case_sensitive,
        )
        best: pa.Table | None = None
        for task, lower, upper in zip(self.tasks, self.lower, self.upper, strict=True):
            if after is not None and upper is not None and upper <= after:
                continue  # every id in this file is at or below the cursor
            if best is not None and best.num_rows >= limit and lower > best[ORDER][-1].as_py():
                break  # this file and all later ones start above the page's last id
            for batch in arrow.to_record_batches([task]):
                best = _smallest(best, batch, limit)
        return best


def _smallest(best: pa.Table | None, batch: pa.RecordBatch, limit: int) -> pa.Table | None:
    """The `limit` smallest rows of `best` and `batch`, sorted (at most one batch more held)."""
    if batch.num_rows == 0:
        return best
    table = pa.Table.from_batches([batch])
    if best is not None:
        table = pa.concat_tables([best, table])
    if table.num_rows > limit:
        table = table.take(pc.select_k_unstable(table, limit, [(ORDER, "ascending")]))
    return table.sort_by(ORDER)


class PlanCache(Lru[tuple, Plan]):
    """Scan plans by (dataset, table, snapshot, filter, columns), least recently used out."""

    def __init__(self, capacity: int = 256) -> None:
        super().__init__(capacity)

    def plan(self, key: tuple, make: Callable[[], DataScan]) -> Plan:
        plan = self.get(key)
        if plan is None:
            plan = Plan.of(make())
            self.put(key, plan)
        return plan
