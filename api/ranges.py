"""Single byte ranges (RFC 9110 section 14) and streaming a file from any pyarrow file system."""

import re
from collections.abc import Iterator

import pyarrow.fs as pafs

from api.problems import Problem
from corpus.core.settings import Settings
from corpus.core.storage import filesystem_for

RANGE = re.compile(r"^(\d{0,19})-(\d{0,19})$")


def unsatisfiable(size: int, detail: str) -> Problem:
    return Problem(
        416,
        "range-not-satisfiable",
        f"{detail}; the file has {size} bytes: ask for one range within bytes=0-{max(size - 1, 0)}",
        headers={"Content-Range": f"bytes */{size}"},
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a `Range: bytes=...` header; None: the whole file.

    Other units are ignored (answered with the whole file), as RFC 9110 requires.
    Several ranges, malformed ones and ones past the end are answered 416.
    """
    if header is None or not header.strip():
        return None
    unit, sep, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not sep:
        return None
    spec = spec.strip()
    if "," in spec:
        raise unsatisfiable(size, "only a single range is supported per request")
    match = RANGE.match(spec)
    if match is None or spec == "-":
        raise unsatisfiable(size, f"range {spec!r} is malformed")
    first, last = match.groups()
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise unsatisfiable(size, f"suffix range {spec!r} selects no bytes")
        return max(size - length, 0), size - 1
    start = int(first)
    if start >= size:
        raise unsatisfiable(size, f"range {spec!r} starts at or past the end of the file")
    if last and int(last) < start:
        raise unsatisfiable(size, f"range {spec!r} ends before it starts")
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def open_file(
    uri: str, settings: Settings | None = None
) -> tuple[pafs.FileSystem, str, int | None]:
    """File system, path and size (None when the file is missing) of a local path or URI."""
    fs, path = filesystem_for(uri, settings)
    info = fs.get_file_info(path)
    return fs, path, info.size if info.type == pafs.FileType.File else None


def stream(fs: pafs.FileSystem, path: str, start: int, length: int, chunk: int) -> Iterator[bytes]:
    """`length` bytes from `start`, `chunk` at a time (a sync iterator: run in a thread)."""
    with fs.open_input_file(path) as handle:
        handle.seek(start)
        left = length
        while left > 0:
            data = handle.read(min(chunk, left))
            if not data:
                break
            left -= len(data)
            yield data
