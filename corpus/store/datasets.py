"""Dataset overviews: raw snapshots and the current files and bytes per language."""

from corpus.core.rowkeys import ROW_KEY, drop_superseded, latest_rows
from corpus.core.tally import Tally
from corpus.store.catalog import RAW, Catalog


def current_raw_tally(catalog: Catalog, dataset: str) -> tuple[Tally, int]:
    """Tally of the latest row of every file in raw, and the number of raw snapshots."""
    table = catalog.table(dataset, RAW)
    tally = Tally()
    if table.current_snapshot() is None:
        return tally, 0
    columns = table.scan(selected_fields=(*ROW_KEY, "lang", "drop_reason")).to_arrow()
    _, superseded = latest_rows(columns)
    tally.add_table(drop_superseded(columns, superseded))
    return tally, len(table.snapshots())
