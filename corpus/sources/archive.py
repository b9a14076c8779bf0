"""Read a repository packed as .tar(.gz|.bz2|.xz) or .zip without extracting it to disk.

Members are read in memory, so nothing is ever written outside our control.
Absolute paths and `..` components are recorded as `intake:unsafe_path`,
links as `intake:symlink`; size caps bound what one archive can make us read.
A single top-level folder (as in GitHub tarballs) is stripped from paths.
"""

import posixpath
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from corpus.core.errors import SourceError
from corpus.core.reasons import DropReason
from corpus.sources.config import IntakeConfig
from corpus.sources.filesystem import Location
from corpus.sources.records import RecordBuffer

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_repo_name(name: str) -> str:
    lower = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass
class _Member:
    name: str
    size: int
    kind: str  # file, link, special, dir


def safe_member_path(name: str) -> str | None:
    """The member's normalised relative path, or None if it could escape the archive root."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return posixpath.join(*parts)


def _common_root(names: list[str]) -> str | None:
    """The single top-level folder shared by every member, if there is one."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return None


def read_archive_repo(
    archive: Location, intake: IntakeConfig, batch_rows: int
) -> Iterator[pa.Table]:
    fs, path = archive.resolve()
    repo = archive_repo_name(archive.name)
    buffer = RecordBuffer(source=archive.uri, batch_rows=batch_rows)
    try:
        with fs.open_input_file(path) as handle:
            if archive.name.lower().endswith(".zip"):
                yield from _read_zip(handle, repo, intake, buffer)
            else:
                yield from _read_tar(handle, repo, intake, buffer)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SourceError(f"{archive.uri} is not a readable archive: {exc}") from exc
    if (batch := buffer.flush()) is not None:
        yield batch


def _read_tar(handle, repo: str, intake: IntakeConfig, buffer: RecordBuffer) -> Iterator[pa.Table]:
    # Listing first costs one extra decompression pass, but lets us strip a
    # common top folder before any row is emitted.
    with tarfile.open(fileobj=handle, mode="r:*") as tar:
        members = tar.getmembers()
        by_name = {m.name: m for m in members}
        infos = [_Member(m.name, m.size, _tar_kind(m)) for m in members]

        def read(name: str) -> bytes:
            extracted = tar.extractfile(by_name[name])
            return extracted.read() if extracted is not None else b""

        yield from _emit(infos, intake, repo, buffer, read)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym() or member.islnk():
        return "link"
    if member.isfile():
        return "file"
    return "special"


def _read_zip(handle, repo: str, intake: IntakeConfig, buffer: RecordBuffer) -> Iterator[pa.Table]:
    with zipfile.ZipFile(handle) as archive:
        infos = [_Member(i.filename, i.file_size, _zip_kind(i)) for i in archive.infolist()]
        yield from _emit(infos, intake, repo, buffer, archive.read)


def _zip_kind(info: zipfile.ZipInfo) -> str:
    if info.is_dir():
        return "dir"
    mode = info.external_attr >> 16
    if mode and (mode & 0o170000) == 0o120000:  # S_IFLNK set by unix zip tools
        return "link"
    return "file"


def _emit(
    members: list[_Member],
    intake: IntakeConfig,
    repo: str,
    buffer: RecordBuffer,
    read: Callable[[str], bytes],
) -> Iterator[pa.Table]:
    entries = [(m, safe_member_path(m.name)) for m in members if m.kind != "dir"]
    root = _common_root([p for _, p in entries if p is not None])
    budget_bytes, budget_members = intake.max_archive_bytes, intake.max_archive_members
    for member, safe in entries:
        path = safe if safe is not None else member.name
        if safe is not None and root is not None:
            path = safe[len(root) + 1 :]
        reason: DropReason | None = None
        data: bytes | None = None
        if safe is None:
            reason = DropReason.INTAKE_UNSAFE_PATH
        elif member.kind == "link":
            reason = DropReason.INTAKE_SYMLINK
        elif member.kind == "special":
            reason = DropReason.INTAKE_UNREADABLE
        elif member.size > intake.max_file_bytes:
            reason = DropReason.INTAKE_TOO_LARGE
        elif budget_members <= 0 or member.size > budget_bytes:
            reason = DropReason.INTAKE_ARCHIVE_LIMIT
        else:
            data = read(member.name)
            budget_bytes -= len(data)
            budget_members -= 1
        batch = buffer.add(repo, path, data, member.size, reason)
        if batch is not None:
            yield batch
