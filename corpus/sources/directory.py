"""Read a repository laid out as a folder, locally or on any pyarrow filesystem.

Local folders are walked with lstat so symlinks are recorded, never followed:
a symlink loop or a link out of the repository cannot make us read elsewhere.
"""

import functools
import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.fs as pafs

from corpus.core.reasons import DropReason
from corpus.sources.archive import is_archive
from corpus.sources.config import IntakeConfig
from corpus.sources.filesystem import Location
from corpus.sources.records import RecordBuffer
from corpus.sources.tables import is_table

#: Version-control internals are not files of the repository.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})
#: Reads a worker keeps in flight on an object store (each is a round trip), and how many
#: files ahead of the one being processed they may run.
REMOTE_READS_IN_FLIGHT = 16
READ_WINDOW = 64


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
        walker, read, threads = _walk_local(base, recursive), _read_local, 1
    else:
        walker = _walk_remote(fs, base, recursive)
        read, threads = functools.partial(_read, fs), REMOTE_READS_IN_FLIGHT
    if top_level_only:
        walker = (e for e in walker if not ("/" in e[0] or is_archive(e[0]) or is_table(e[0])))
    for rel_path, size, kind, data in _with_contents(walker, base, read, intake, threads):
        if kind == "symlink":
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_SYMLINK)
        elif kind == "special":
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_UNREADABLE)
        elif size > intake.max_file_bytes:
            batch = buffer.add(repo, rel_path, None, size, DropReason.INTAKE_TOO_LARGE)
        else:
            reason = DropReason.INTAKE_UNREADABLE if data is None else None
            batch = buffer.add(repo, rel_path, data, size, reason)
        if batch is not None:
            yield batch
    if (batch := buffer.flush()) is not None:
        yield batch


def _with_contents(
    entries: Iterator[tuple[str, int, str]],
    base: str,
    read: Callable[[str, int], bytes | None],
    intake: IntakeConfig,
    threads: int,
) -> Iterator[tuple[str, int, str, bytes | None]]:
    """Entries in walk order with the bytes of the files intake reads. On object stores each
    read is a round trip (HEAD + GET), so `threads` reads of a window are in flight at once;
    the window bounds the bytes held (READ_WINDOW files of at most max_file_bytes)."""

    def wanted(entry: tuple[str, int, str]) -> bool:
        return entry[2] == "file" and entry[1] <= intake.max_file_bytes

    if threads <= 1:
        for entry in entries:
            yield *entry, read(f"{base}/{entry[0]}", entry[1]) if wanted(entry) else None
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="codecorpus-read") as pool:
        while window := list(itertools.islice(entries, READ_WINDOW)):
            reads = [
                pool.submit(read, f"{base}/{e[0]}", e[1]) if wanted(e) else None for e in window
            ]
            for entry, pending in zip(window, reads, strict=True):
                yield *entry, pending.result() if pending is not None else None


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
