"""`codecorpus demo`: the main job on the embedded default over a real sample corpus."""

import pyarrow.compute as pc

from corpus.cli.render import (
    console,
    dedup_line,
    governance_line,
    human_bytes,
    tally_table,
    tokens_line,
    unit_progress,
)
from corpus.core.cluster import RunnerConfig
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.sources.samples import build_sample_corpus
from corpus.store.catalog import Catalog
from corpus.store.versions import Registry, scan_version

DATASET = "sample"


def next_version_name(registry: Registry) -> str:
    taken = {v.name for v in registry.list()}
    n = 1
    while f"v{n}" in taken:
        n += 1
    return f"v{n}"


def run_demo(max_bytes: int = 64 << 20, workers: int | None = None) -> None:
    settings = Settings()
    catalog = Catalog(settings)
    runner = RunnerConfig(workers=workers)
    config = CurationConfig()
    sample = settings.home / "samples" / "site-packages"
    repos = build_sample_corpus(sample, max_bytes)
    size = sum(r.bytes for r in repos)
    console.print(
        f"[bold]sample corpus[/]: {len(repos)} installed Python distributions as repositories, "
        f"{sum(r.files for r in repos):,} files, {human_bytes(size)} in {sample}"
    )
    with unit_progress("ingest") as progress:
        report = ingest(
            [str(sample)], DATASET, catalog, config, runner, Layout.REPOS, on_progress=progress
        )
    console.print(
        f"ingest: {report.summary.seen:,} files seen, {report.added:,} added, "
        f"{report.summary.skipped:,} already in {DATASET}.raw"
    )
    registry = Registry(catalog, DATASET)
    name = next_version_name(registry)
    with unit_progress("curate") as progress:
        result = curate(DATASET, name, catalog, config, runner, on_progress=progress)
    console.print(
        tally_table(
            f"{DATASET}@{name}: kept per language, dropped per reason", result.summary.tally
        )
    )
    rewritten = (
        scan_version(catalog, DATASET, result.version)
        .select("formatter", "stripped_bytes")
        .to_arrow()
    )
    changed = rewritten.filter(pc.is_valid(rewritten["formatter"]))
    console.print(
        f"heuristics: {changed.num_rows:,} files rewritten by formatters, "
        f"{human_bytes(pc.sum(changed['stripped_bytes']).as_py() or 0)} stripped "
        f"(per rule and language: codecorpus heuristics report {DATASET})"
    )
    console.print(governance_line(result.version.stats.governance))
    console.print(dedup_line(result.version.stats.dedup))
    console.print(tokens_line(result.version.stats))
    stats = result.version.stats
    console.print(
        f"[bold green]published[/] {DATASET}@{name}: {stats.kept_files:,} of "
        f"{stats.files:,} files kept ({human_bytes(stats.kept_bytes)}); "
        f"catalog {settings.resolved_catalog_uri()}\n"
        f"next: codecorpus datasets | codecorpus versions show {DATASET} {name}\n"
        f"browse it: codecorpus keys create me --scope read   (prints a key)\n"
        f"           codecorpus serve   then open http://127.0.0.1:8000/#key=<the key>\n"
        f"           (API docs at http://127.0.0.1:8000/docs)"
    )
