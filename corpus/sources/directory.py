"""Read a repository laid out as a folder, locally or on any pyarrow filesystem.

Local folders are walked with lstat so symlinks are recorded, never followed:
a symlink loop or a link out of the repository cannot make us read elsewhere.
"""

import functools
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.fs as pafs

from corpus.config import IntakeConfig
from corpus.reasons import DropReason
from corpus.sources.archive import is_archive
from corpus.sources.filesystem import Location
from corpus.sources.records import RecordBuffer
from corpus.sources.tables import is_table

#: Version-control internals are not files of the repository.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


def read_directory_repo(
    root: Location,
    repo: str,
    intake: IntakeConfig,
    batch_rows: int,
    top_level_only: bool = False,
) -> Iterator[pa.Table]:
    """Rows for every file under `root`; with `top_level_only`, only the loose files directly
    in it that are not sources of their own (archives, tables)."""
    buffer = RecordBuffer(source=root.uri, batch_rows=batch_rows)
    fs, base = root.resolve()
    recursive = not top_level_only
    if isinstance(fs, pafs.LocalFileSystem):
        walker, read = _walk_local(base, recursive), _read_local
    else:
        walker = _walk_remote(fs, base, recursive)
        read = functools.partial(_read, fs)
    for rel_path, size, kind in walker:
        if top_level_only and ("/" in rel_path or is_archive(rel_path) or is_table(rel_path)):
            continue
        if kind == "symlink":
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_SYMLINK)
        elif kind == "special":
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_UNREADABLE)
        elif size > intake.max_file_bytes:
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_TOO_LARGE)
        else:
            data = read(f"{base}/{rel_path}", size)
            reason = DropReason.INTAKE_UNREADABLE if data is None else None
            batch = buffer.add(repo, rel_path, data, size, reason)
        if batch is not None:
            yield batch
    if (batch := buffer.flush()) is not None:
        yield batch


def _read(fs: pafs.FileSystem, path: str, size_hint: int = 0) -> bytes | None:
    try:
        # compression=None: pyarrow would otherwise gunzip *.gz behind our back
        with fs.open_input_stream(path, compression=None) as stream:
            return stream.read()
    except OSError:
        return None


def _read_local(path: str, size_hint: int) -> bytes | None:
    """`_read` for local files with plain syscalls: no stream object per file, and one
    read of the size the walk saw (a file that grew meanwhile is read to its end)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, size_hint + 1 if not chunks else 1 << 20):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _walk_local(base: str, recursive: bool) -> Iterator[tuple[str, int, str]]:
    """Yield (relative POSIX path, size, kind) in sorted order; kind is file/symlink/special."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(base, rel_dir)), key=lambda e: e.name)
        except OSError:
            yield rel_dir or ".", 0, "special"
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_symlink():
                yield rel, entry.stat(follow_symlinks=False).st_size, "symlink"
            elif entry.is_dir(follow_symlinks=False):
                if recursive and entry.name not in SKIPPED_DIRS:
                    subdirs.append(rel)
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry.stat(follow_symlinks=False).st_size, "file"
            else:
                yield rel, 0, "special"
        stack.extend(reversed(subdirs))


def _walk_remote(fs: pafs.FileSystem, base: str, recursive: bool) -> Iterator[tuple[str, int, str]]:
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=recursive))
    prefix = base.rstrip("/") + "/"
    for info in sorted(infos, key=lambda i: i.path):
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
        if SKIPPED_DIRS.isdisjoint(rel.split("/")[:-1]):
            yield rel, info.size or 0, "file"
