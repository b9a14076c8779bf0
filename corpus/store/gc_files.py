"""What a table still needs on storage, and what lies under its location: the inputs of
orphan-file deletion in `corpus.store.gc`."""

import re
from dataclasses import dataclass
from datetime import datetime

import pyarrow.fs as pafs
from pyiceberg.table import Table

from corpus.core.storage import filesystem_for

#: `.../data/version=<name>/...`: files that belong to one version's publication.
VERSION_FOLDER = re.compile(r"/data/version=([^/]+)/")


@dataclass(frozen=True)
class StoredFile:
    path: str
    """File-system path (as `filesystem_for` gives it), the key files are compared by."""
    size: int
    mtime: datetime

    @property
    def version(self) -> str | None:
        match = VERSION_FOLDER.search(self.path)
        return match.group(1) if match else None


def storage_path(uri: str) -> str:
    return filesystem_for(uri)[1]


def referenced_paths(
    table: Table, without: set[int] | None = None, dropping: set[str] | None = None
) -> set[str]:
    """Every file the snapshots of `table` read: the current metadata file, manifest lists,
    manifests, live data and delete files, and the token shards that shard rows name.

    For a dry run: `without` are snapshots about to be expired; `dropping` are versions
    whose rows are about to be deleted from the current state, which then reads the rest.
    """
    io, without, dropping = table.io, without or set(), dropping or set()
    paths = {table.metadata_location}
    manifests = {}
    for snapshot in table.snapshots():
        if snapshot.snapshot_id not in without:
            paths.add(snapshot.manifest_list)
            manifests.update({m.manifest_path: m for m in snapshot.manifests(io)})
    data_files: set[str] = set()
    for path, manifest in manifests.items():
        paths.add(path)
        data_files |= {e.data_file.file_path for e in _live(manifest, io)}
    current = table.current_snapshot()
    if dropping and current is not None:  # the state the deletion commit leaves
        position = [f.name for f in table.spec().fields].index("version")
        for manifest in current.manifests(io):
            entries = _live(manifest, io)
            kept = [e for e in entries if e.data_file.partition[position] not in dropping]
            if len(kept) == len(entries):
                paths.add(manifest.manifest_path)  # untouched manifests are reused
            data_files |= {e.data_file.file_path for e in kept}
    paths |= data_files
    if "prefix" in {f.name for f in table.schema().fields}:  # the shard manifest
        paths |= _shard_files(data_files)
    return {storage_path(p) for p in paths}


def _live(manifest, io) -> list:
    return manifest.fetch_manifest_entry(io, discard_deleted=True)


def _shard_files(data_files: set[str]) -> set[str]:
    """`.bin`/`.idx` files named by any row of any remaining snapshot of the shards table."""
    from corpus.core.storage import read_parquet

    names: set[str] = set()
    for uri in data_files:
        for prefix in read_parquet(uri, columns=["prefix"]).column("prefix").to_pylist():
            names.update((f"{prefix}.bin", f"{prefix}.idx"))
    return names


def stored_files(location: str) -> list[StoredFile]:
    """Every file under a table's location, in path order."""
    fs, root = filesystem_for(location)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    files = [
        StoredFile(i.path, i.size or 0, i.mtime)  # type: ignore[arg-type]
        for i in infos
        if i.type == pafs.FileType.File
    ]
    return sorted(files, key=lambda f: f.path)


def delete_files(location: str, paths: list[str]) -> None:
    fs, _ = filesystem_for(location)
    for path in paths:
        fs.delete_file(path)


def newest_mtime(folder: str) -> datetime | None:
    """When anything under `folder` last changed (None when it holds no file)."""
    files = stored_files(folder)
    return max((f.mtime for f in files), default=None)
