"""`codecorpus gc`: expire old Iceberg snapshots of a dataset and delete what nothing reads.

A named (registered) version is never touched: every snapshot its registry row
records stays, and so do tags (each version's commits are tagged with its name),
branch heads and the newest `retain_last` snapshots of each table. What goes, in
this order, each step only for what is older than the cutoff:

1. Run folders (stage checkpoints) of runs that ended long ago: registered
   versions' leftovers and abandoned attempts.
2. Rows, tags and files of abandoned attempts: a version name with rows or a tag
   in a table but no registry row, no run folder and no running run.
3. Snapshots (`ExpireSnapshots`), committed like any change (retried on races).
4. Orphan files under each table's location: files no remaining snapshot reads,
   older than the cutoff and never younger than `min_file_age` (a commit in
   flight has written files that no snapshot lists yet).

A version name being published (its publish lock held) is left alone: gc takes
that lock itself before it removes anything of a name.
"""

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyiceberg.expressions import In
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.update.snapshot import ExpireSnapshots, ManageSnapshots

from corpus.core.errors import ConfigError, DatasetNotFound, VersionInProgress
from corpus.core.storage import delete_tree, filesystem_for
from corpus.store.catalog import DECISIONS, FILES, MINHASH, RAW, SHARDS, Catalog
from corpus.store.gc_files import (
    delete_files,
    newest_mtime,
    referenced_paths,
    storage_path,
    stored_files,
)
from corpus.store.locks import publish_lock
from corpus.store.versions import Registry, Version

log = logging.getLogger(__name__)
#: Files younger than this are never deleted, whatever the cutoff: a commit in flight has
#: written manifests and data files that no snapshot lists yet.
MIN_FILE_AGE = timedelta(hours=1)


@dataclass
class GcReport:
    dataset: str
    cutoff: datetime
    dry_run: bool
    run_folders: list[str] = field(default_factory=list)
    abandoned: dict[str, list[str]] = field(default_factory=dict)
    """Per table: unregistered version names whose rows and tag were removed."""
    snapshots: dict[str, list[int]] = field(default_factory=dict)
    """Per table: expired snapshot ids."""
    kept: dict[str, int] = field(default_factory=dict)
    """Per table: snapshots left."""
    files: list[str] = field(default_factory=list)
    bytes: int = 0


def gc(
    catalog: Catalog,
    dataset: str,
    older_than: timedelta = timedelta(days=7),
    retain_last: int = 1,
    dry_run: bool = False,
    now: datetime | None = None,
    min_file_age: timedelta = MIN_FILE_AGE,
) -> GcReport:
    """Collect the dataset's garbage (see the module docstring); `dry_run` only lists it."""
    if older_than < timedelta(0):
        raise ConfigError(f"--older-than must not be negative, got {older_than}")
    if retain_last < 1:
        raise ConfigError(f"--retain-last must be >= 1 (the current snapshot), got {retain_last}")
    if not catalog.has_table(dataset, RAW):
        raise DatasetNotFound(f"dataset {dataset!r} does not exist; see `codecorpus datasets`")
    started = datetime.now(UTC)
    now = now or started
    report = GcReport(dataset, now - older_than, dry_run)
    versions = Registry(catalog, dataset).list()
    registered = {v.name for v in versions}
    pending = _run_folders(catalog, dataset, registered, report)
    tables = sorted(ident[-1] for ident in catalog.iceberg.list_tables(dataset))
    for name in tables:
        _abandoned(catalog, dataset, name, registered | pending, report)
        _expire(catalog, dataset, name, _protected(versions, name), retain_last, report)
    # nor anything this gc wrote itself (its own commits), whatever `now` says
    file_cutoff = min(report.cutoff, now - min_file_age, started)
    for name in tables:
        _orphans(catalog, dataset, name, pending, file_cutoff, report)
    log.info(
        "gc %s%s: %d run folders, %d snapshots, %d files (%d bytes)", dataset,
        " (dry run)" if dry_run else "", len(report.run_folders),
        sum(map(len, report.snapshots.values())), len(report.files), report.bytes,
    )  # fmt: skip
    return report


@contextmanager
def _claimed(catalog: Catalog, dataset: str, version: str | None, dry_run: bool) -> Iterator[bool]:
    """Hold the name's publish lock while the block removes what is its (not in a dry run,
    nor for files of no version); False when a run is publishing that name."""
    with ExitStack() as stack:
        if not dry_run and version is not None:
            try:
                stack.enter_context(publish_lock(catalog.settings, dataset, version))
            except VersionInProgress:
                yield False
                return
        yield True


def _run_folders(
    catalog: Catalog, dataset: str, registered: set[str], report: GcReport
) -> set[str]:
    """Remove finished or abandoned run folders; the names whose runs may still resume."""
    root = f"{catalog.settings.resolved_warehouse().rstrip('/')}/_runs/{dataset}"
    fs, path = filesystem_for(root)
    from pyarrow.fs import FileSelector, FileType

    pending: set[str] = set()
    for info in fs.get_file_info(FileSelector(path, allow_not_found=True)):
        if info.type != FileType.Directory:
            continue
        version = info.base_name.rsplit("-", 1)[0]
        folder = f"{root}/{info.base_name}"
        changed = newest_mtime(folder) or datetime.min.replace(tzinfo=UTC)
        if version not in registered and changed >= report.cutoff:
            pending.add(version)  # a recent run: it may still be resumed
            continue
        with _claimed(catalog, dataset, version, report.dry_run) as ours:
            if not ours:
                pending.add(version)
                continue
            report.run_folders.append(folder)
            if not report.dry_run:
                delete_tree(folder)
    return pending


def _abandoned(catalog: Catalog, dataset: str, name: str, keep: set[str], report: GcReport) -> None:
    """Remove rows and tags of version names nobody registered and nobody is publishing."""
    table = catalog.table(dataset, name)
    names = _tagged_versions(table) | _partition_versions(table)
    candidates = sorted(n for n in names - keep if _last_written(table, n) < report.cutoff)
    for version in candidates:
        with _claimed(catalog, dataset, version, report.dry_run) as ours:
            if not ours or Registry(catalog, dataset).exists(version):
                continue
            report.abandoned.setdefault(name, []).append(version)
            if not report.dry_run:
                catalog.commit(dataset, name, _drop_version(version))


def _tagged_versions(table: Table) -> set[str]:
    return {
        n for n, ref in table.metadata.refs.items() if ref.snapshot_ref_type == SnapshotRefType.TAG
    }


def _partition_versions(table: Table) -> set[str]:
    """Version names in the current state of a table partitioned by version (metadata only)."""
    if table.current_snapshot() is None or "version" not in [f.name for f in table.spec().fields]:
        return set()
    partitions = table.inspect.partitions()
    return {p["version"] for p in partitions.column("partition").to_pylist()}


def _last_written(table: Table, version: str) -> datetime:
    """When the version's tag was last moved, or the table's last commit without a tag."""
    ref = table.metadata.refs.get(version)
    snapshot = table.snapshot_by_id(ref.snapshot_id) if ref else table.current_snapshot()
    millis = snapshot.timestamp_ms if snapshot else 0
    return datetime.fromtimestamp(millis / 1000, UTC)


def _drop_version(version: str):
    def change(table: Table, tx: Transaction) -> None:
        if version in _partition_versions(table):
            tx.delete(In("version", [version]))
        if version in table.metadata.refs:
            ManageSnapshots(tx).remove_tag(version).commit()

    return change


def _protected(versions: list[Version], table: str) -> set[int]:
    """Snapshot ids of `table` that registered versions record."""
    keys = {
        RAW: lambda v: v.raw_snapshot_id,
        DECISIONS: lambda v: v.decisions_snapshot_id,
        FILES: lambda v: v.files_snapshot_id,
        MINHASH: lambda v: v.lineage.minhash_snapshot_id,
        SHARDS: lambda v: v.lineage.shards_snapshot_id,
    }
    key = keys.get(table)
    return {key(v) for v in versions if key is not None and key(v)}


def _expire(
    catalog: Catalog,
    dataset: str,
    name: str,
    protected: set[int],
    retain_last: int,
    report: GcReport,
) -> None:
    cutoff_ms = int(report.cutoff.timestamp() * 1000)
    # a dry run has not dropped the abandoned versions: count as if it had
    dropping = set(report.abandoned.get(name, [])) if report.dry_run else set()

    def expirable(table: Table) -> list[int]:
        snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
        refs = {n: ref for n, ref in table.metadata.refs.items() if n not in dropping}
        if new_head:
            refs.pop(MAIN_BRANCH, None)
        heads = {ref.snapshot_id for ref in refs.values()}  # tags and branches
        keep = retain_last - 1 if new_head else retain_last
        newest = {s.snapshot_id for s in snapshots[len(snapshots) - keep :]} if keep else set()
        return [
            s.snapshot_id
            for s in snapshots
            if s.timestamp_ms < cutoff_ms and s.snapshot_id not in protected | heads | newest
        ]

    def change(table: Table, tx: Transaction) -> list[int]:
        ids = expirable(table)
        if ids:
            ExpireSnapshots(tx).by_ids(ids).commit()
        return ids

    table = catalog.table(dataset, name)
    new_head = bool(dropping & _partition_versions(table))  # the drop commits a snapshot
    ids = expirable(table) if report.dry_run else catalog.commit(dataset, name, change)
    if ids:
        report.snapshots[name] = ids
    report.kept[name] = len(table.snapshots()) - len(ids) + new_head


def _orphans(
    catalog: Catalog,
    dataset: str,
    name: str,
    pending: set[str],
    cutoff: datetime,
    report: GcReport,
) -> None:
    """Delete files under the table's location that no remaining snapshot reads."""
    table = catalog.table(dataset, name)
    if report.dry_run:  # what the table would read after the commits a real run makes
        expired = set(report.snapshots.get(name, []))
        dropping = set(report.abandoned.get(name, []))
        needed = referenced_paths(table, expired, dropping)
        if expired or dropping:  # a real run commits: the current metadata file is replaced
            needed.discard(storage_path(table.metadata_location))
    else:
        needed = referenced_paths(table)
    by_version: dict[str | None, list] = {}
    for file in stored_files(table.location()):
        if file.path not in needed and file.mtime < cutoff:
            by_version.setdefault(file.version, []).append(file)
    for version, files in sorted(by_version.items(), key=lambda kv: kv[0] or ""):
        if version in pending:
            continue  # a resumable run commits these files later
        with _claimed(catalog, dataset, version, report.dry_run) as ours:
            if not ours:
                continue
            report.files.extend(f.path for f in files)
            report.bytes += sum(f.size for f in files)
            if not report.dry_run:
                delete_files(table.location(), [f.path for f in files])
