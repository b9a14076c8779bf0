"""Rich tables and progress for the CLI."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from corpus.core.summary import CallSummary
from corpus.core.tally import Tally
from corpus.store.version_stats import DedupStats, GovernanceStats, ShardStats, VersionStats
from corpus.store.versions import Version

console = Console()


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@contextmanager
def unit_progress(label: str) -> Iterator[Callable[[CallSummary, int], None]]:
    """A progress bar over units of work showing files and bytes seen."""
    columns = (
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None, detail="starting Ray")

        def update(summary: CallSummary, total_units: int) -> None:
            elapsed = progress.tasks[task].elapsed or 1e-9
            rate = summary.bytes_seen / elapsed / (1 << 20)
            detail = f"{summary.seen:,} files, {human_bytes(summary.bytes_seen)} ({rate:.1f} MiB/s)"
            progress.update(task, total=total_units, completed=summary.units, detail=detail)

        yield update


@contextmanager
def token_progress(label: str) -> Iterator[Callable[[int, int, int], None]]:
    """A bar over a version's data files as they are counted or sharded: files done, tokens,
    tokens per second, ETA. Silent with CODECORPUS_LOG_FORMAT=json (log lines only)."""
    from corpus.core.logs import LogSettings

    columns = (
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("data files, {task.fields[detail]}"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(),
    )  # fmt: skip
    quiet = LogSettings().format == "json"
    with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
        task = progress.add_task(label, total=None, detail="starting Ray")

        def update(done: int, total: int, tokens: int) -> None:
            rate = tokens / (progress.tasks[task].elapsed or 1e-9)
            detail = f"{tokens:,} tokens ({rate:,.0f}/s)"
            progress.update(task, total=total, completed=done, detail=detail)

        yield update


def tally_table(title: str, tally: Tally) -> Table:
    """Kept files and bytes per language, then dropped files and bytes per reason."""
    table = Table(title=title, title_justify="left")
    for name in ("language / drop reason", "files", "bytes"):
        table.add_column(name, justify="left" if name.startswith("lang") else "right")
    for lang, entry in sorted(tally.by_language().items(), key=lambda kv: -kv[1]["bytes"]):
        table.add_row(lang, f"{entry['files']:,}", human_bytes(entry["bytes"]))
    table.add_section()
    for reason, entry in sorted(tally.by_reason().items()):
        table.add_row(f"[red]{reason}", f"{entry['files']:,}", human_bytes(entry["bytes"]))
    table.add_section()
    table.add_row("[bold]total", f"{tally.total_files:,}", human_bytes(tally.total_bytes))
    return table


def versions_table(dataset: str, versions: list[Version]) -> Table:
    table = Table(title=f"versions of {dataset}", title_justify="left")
    for name in ("name", "created", "files", "kept", "kept bytes", "config", "code"):
        table.add_column(name)
    for v in versions:
        table.add_row(
            v.name, f"{v.created_at:%Y-%m-%d %H:%M}", f"{v.stats.files:,}",
            f"{v.stats.kept_files:,}", human_bytes(v.stats.kept_bytes),
            v.config_fingerprint[:12], v.code_version,
        )  # fmt: skip
    return table


def governance_line(stats: GovernanceStats | None) -> str:
    """One line on what the governance stage found (PII spans, benchmark copies)."""
    if stats is None:
        return "governance: not run (published before the stage existed)"
    decontam = ", ".join(f"{n} {files:,} files" for n, files in stats.decontam.items()) or "off"
    if stats.pii_mode == "off":
        return f"governance: PII off; decontamination dropped {decontam}"
    spans = ", ".join(f"{kind} {count:,}" for kind, count in stats.pii.items())
    verb = "redacted" if stats.pii_mode == "redact" else "found (files dropped)"
    return (
        f"governance: {sum(stats.pii.values()):,} PII spans {verb} in {stats.pii_files:,} files "
        f"({spans}); decontamination dropped {decontam}"
    )


#: How `dedup_line` names where reused signatures came from (versions before it: unsaid).
REUSE_SOURCES = {
    "index": " (asked of the previous version's lookup index)",
    "signatures": " (the previous version's stored signatures, broadcast)",
}


def dedup_line(stats: DedupStats | None) -> str:
    """One line on what dedup did in a version (its `stats.dedup`)."""
    if stats is None:
        return "dedup: disabled"
    exact = stats.exact or {}
    parts = [
        f"dedup: {exact.get('removed', 0):,} exact copies in {exact.get('groups', 0):,} groups"
    ]
    near = stats.near
    if near:
        settings = stats.settings
        parts.append(
            f"{near['removed']:,} near-duplicates in {near['clusters']:,} clusters "
            f"(J >= {settings.get('threshold')}, {settings.get('bands')} bands x "
            f"{settings.get('rows')} rows; {near['candidate_pairs']:,} candidate pairs, "
            f"{near['verified_pairs']:,} verified)"
        )
        if stats.reused_signatures:
            source = REUSE_SOURCES.get(stats.reuse_source or "", "")
            parts.append(
                f"{stats.reused_signatures:,} signatures reused{source}, "
                f"{near['matched_previous']:,} new files matched the previous version"
            )
    return "; ".join(parts)


def step_printer() -> Callable[[str, dict], None]:
    """Progress of a run's global steps: one dim line per finished step."""

    def show(name: str, result: dict) -> None:
        if result.get("resumed"):
            console.print(f"[dim]{name}: resumed from checkpoint[/]")
        elif "seconds" in result:
            console.print(f"[dim]{name}: done in {result['seconds']:.2f} s[/]")
        else:
            console.print(f"[dim]{name}: done[/]")

    return show


def cluster_table(stats: DedupStats) -> Table:
    """Near-duplicate cluster sizes and removals per language of a version's dedup stats."""
    table = Table(title="near-duplicate clusters")
    table.add_column("cluster size", justify="right")
    table.add_column("clusters", justify="right")
    for size, count in (stats.near or {}).get("cluster_sizes", {}).items():
        table.add_row(size, f"{count:,}")
    for reason, languages in stats.removed_by_language.items():
        for lang, files in sorted(languages.items(), key=lambda kv: -kv[1]):
            table.add_row(f"{reason} {lang}", f"{files:,}")
    return table


def tokens_line(stats: VersionStats) -> str:
    """Tokens per language, the tokenizer and the shards of a version's stats."""
    if not stats.tokens_by_language:
        return "tokens: not counted (shards disabled or nothing kept)"
    by_lang = ", ".join(
        f"{lang} {tokens:,}"
        for lang, tokens in sorted(stats.tokens_by_language.items(), key=lambda kv: -kv[1])
    )
    shards = stats.shards or ShardStats(0)
    tokenizer = (stats.tokenizer or "")[:12]
    return (
        f"tokens: {stats.tokens or 0:,} ({by_lang}) with tokenizer {tokenizer}; "
        f"{shards.count} shards, {shards.train_documents or 0:,} train and "
        f"{shards.validation_documents or 0:,} validation documents"
    )


def trial_printer(
    console: Any, finished: Callable[[dict], str]
) -> Callable[[str, Any, dict], None]:
    """Progress lines of sweep and ablation trials; `finished(info)` describes a finished one."""
    counts = {"done": 0, "total": 0}

    def show(kind: str, trial: Any, info: dict) -> None:
        if kind == "skipped":
            console.print(f"skip {trial.label()}: already in the table", markup=False)
        elif kind == "submitted":
            counts["total"] = info["count"]
            console.print(f"running {info['count']} trial(s)")
        elif kind in ("finished", "failed"):
            counts["done"] += 1
            what = finished(info) if kind == "finished" else f"failed {info['error']}"
            console.print(f"[{counts['done']}/{counts['total']}] {trial.label()}: {what}",
                          markup=False)  # fmt: skip

    return show
