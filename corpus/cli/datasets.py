"""`codecorpus datasets`: every dataset's raw snapshots, files and bytes per language, versions."""

from rich.table import Table

from corpus.cli.render import human_bytes
from corpus.store.catalog import RAW, Catalog
from corpus.store.datasets import current_raw_tally
from corpus.store.versions import Registry


def dataset_overview(catalog: Catalog | None = None) -> list[Table]:
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
        latest = versions[-1].stats.languages if versions else {}
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
            kept = latest.get(lang)
            counted = kept is not None and kept.tokens is not None
            tokens = f"{kept.tokens:,}" if counted else "-"
            fertility = f"{kept.chars_per_token:.2f}" if counted and kept.chars_per_token else "-"
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
