"""Dataset overviews: raw snapshots, current files and bytes per language, versions."""

from rich.table import Table

from corpus.catalog import RAW, Catalog
from corpus.rowkeys import ROW_KEY, drop_superseded, latest_rows
from corpus.tally import Tally
from corpus.versions import Registry


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


def dataset_overview(catalog: Catalog | None = None) -> list[Table]:
    from corpus.render import human_bytes

    catalog = catalog or Catalog()
    tables = []
    for dataset in catalog.datasets():
        if not catalog.has_table(dataset, RAW):
            continue
        tally, snapshots = current_raw_tally(catalog, dataset)
        versions = Registry(catalog, dataset).list()
        title = (
            f"{dataset}: {snapshots} raw snapshot(s), {tally.total_files:,} files, "
            f"{human_bytes(tally.total_bytes)}, {len(versions)} version(s)"
            + (f", latest {versions[-1].name}" if versions else "")
        )
        table = Table(title=title, title_justify="left")
        latest = versions[-1].stats.get("languages", {}) if versions else {}
        tokens_column = f"tokens in {versions[-1].name}" if versions else "tokens"
        for name in (
            "language",
            "files",
            "bytes",
            "usable files",
            "usable bytes",
            tokens_column,
            "chars/token",
        ):
            table.add_column(name, justify="left" if name == "language" else "right")
        usable = tally.by_language(kept_only=True)
        for lang, entry in sorted(
            tally.by_language(kept_only=False).items(), key=lambda kv: -kv[1]["bytes"]
        ):
            ok = usable.get(lang, {"files": 0, "bytes": 0})
            kept = latest.get(lang, {})
            tokens = f"{kept['tokens']:,}" if kept.get("tokens") is not None else "-"
            fertility = f"{kept['chars_per_token']:.2f}" if kept.get("chars_per_token") else "-"
            table.add_row(
                lang,
                f"{entry['files']:,}",
                human_bytes(entry["bytes"]),
                f"{ok['files']:,}",
                human_bytes(ok["bytes"]),
                tokens,
                fertility,
            )
        tables.append(table)
    return tables
