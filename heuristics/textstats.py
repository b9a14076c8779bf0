"""Character and line statistics of a whole batch, straight from Arrow's UTF-8 buffers.

Definitions (the per-file reference in benchmarks/heuristics.py follows them):

- characters are code points, as Python's `len(str)` counts them;
- lines are the pieces of `content.split("\\n")`, without the empty piece after a
  final newline; a `\\r` that ends a line is not counted in its length;
- alphanumeric and alphabetic are `str.isalnum` and `str.isalpha` of each code
  point; digits are ASCII 0-9 and hex digits ASCII [0-9a-fA-F].

Counting works on bytes. Character classes: one `np.bincount` per file gives its
byte histogram (one numpy call per file; a single bincount over (row, byte) keys
measured slower, see the README's "Measurements behind design choices"), from which
the ASCII classes follow;
the few multi-byte code points are decoded in bulk and
classified by a table built once per process. Lines: the newline positions of
the whole batch, then one vectorised pass over its lines.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

_ALNUM, _ALPHA = 1, 2
_ASCII_DIGIT = np.array([48 <= b <= 57 for b in range(256)], dtype=np.int64)
_ASCII_HEX = np.array([chr(b) in "0123456789abcdefABCDEF" for b in range(256)], dtype=np.int64)


class CodePointClasses:
    """`str.isalnum` / `str.isalpha` for every code point, as bit flags (1.1 MB, built once)."""

    def __init__(self) -> None:
        every = "".join(map(chr, range(0x110000)))
        alnum = np.fromiter(map(str.isalnum, every), dtype=bool, count=len(every))
        alpha = np.fromiter(map(str.isalpha, every), dtype=bool, count=len(every))
        self.flags = (alnum * _ALNUM + alpha * _ALPHA).astype(np.uint8)
        self.ascii_alnum = alnum[:256].astype(np.int64) * (np.arange(256) < 128)
        self.ascii_alpha = alpha[:256].astype(np.int64) * (np.arange(256) < 128)


@cache
def code_point_classes() -> CodePointClasses:
    """The tables of this Python's Unicode database: a constant, built once per process."""
    return CodePointClasses()


@dataclass
class CharCounts:
    """Per-row counts of code points by class; rows without content count as empty."""

    chars: np.ndarray
    alnum: np.ndarray
    alpha: np.ndarray
    digits: np.ndarray
    hex_digits: np.ndarray


@dataclass
class LineCounts:
    """Per-row line counts; rows without content have no lines."""

    lines: np.ndarray
    max_line: np.ndarray
    line_chars: np.ndarray
    """Characters in lines: every character but newlines and line-final \r."""


def single_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array, without copying when the column already is one chunk."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def utf8_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets from 0, bytes) of a string array, zero-copy where Arrow allows."""
    n = len(array)
    if n == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.uint8)
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buffer, data_buffer = array.buffers()[:3]
    offsets = np.frombuffer(offsets_buffer, dtype=width)[array.offset : array.offset + n + 1]
    offsets = offsets.astype(np.int64)
    if data_buffer is None:
        return offsets - offsets[0], np.zeros(0, np.uint8)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if array.null_count:
        array = array.fill_null("")
    return utf8_buffers(array)


def high_bytes(data: np.ndarray) -> np.ndarray:
    """Positions of the bytes >= 0x80: the bytes of multi-byte code points (rare in code)."""
    return np.flatnonzero(data >= 0x80)


def code_points(array: pa.Array) -> np.ndarray:
    """Code points per row: bytes less UTF-8 continuation bytes (nulls count as empty)."""
    offsets, data = _buffers(array)
    high = high_bytes(data)
    continuation = high[data[high] < 0xC0]
    extra = np.bincount(np.searchsorted(offsets, continuation, side="right") - 1,
                        minlength=len(offsets) - 1)  # fmt: skip
    return np.diff(offsets) - extra[: len(offsets) - 1]


def count_text(array: pa.Array, classes: CodePointClasses) -> tuple[CharCounts, LineCounts]:
    """Character classes and lines of every row of a string array, in one pass of setup."""
    offsets, data = _buffers(array)
    high = high_bytes(data)
    return _char_counts(offsets, data, high, classes), _line_counts(offsets, data, high)


def _char_counts(
    offsets: np.ndarray, data: np.ndarray, high: np.ndarray, classes: CodePointClasses
) -> CharCounts:
    n = len(offsets) - 1
    hist = np.empty((n, 256), dtype=np.int64)
    for row in range(n):  # one C call per file; see the module docstring
        hist[row] = np.bincount(data[offsets[row] : offsets[row + 1]], minlength=256)
    chars = np.diff(offsets) - hist[:, 0x80:0xC0].sum(axis=1)  # continuation bytes
    alnum = hist @ classes.ascii_alnum
    alpha = hist @ classes.ascii_alpha
    wide = high[data[high] >= 0xC0]  # first bytes of multi-byte code points (rare)
    if wide.size:
        flags = classes.flags[_decode(data, wide)]
        rows = np.searchsorted(offsets, wide, side="right") - 1
        alnum += np.bincount(rows, weights=flags & _ALNUM, minlength=n).astype(np.int64)
        alpha += np.bincount(rows, weights=(flags & _ALPHA) >> 1, minlength=n).astype(np.int64)
    return CharCounts(chars, alnum, alpha, hist @ _ASCII_DIGIT, hist @ _ASCII_HEX)


def _line_counts(offsets: np.ndarray, data: np.ndarray, high: np.ndarray) -> LineCounts:
    continuation = high[data[high] < 0xC0]
    return LineCounts(*_line_lengths(offsets, data, len(offsets) - 1, continuation))


def _decode(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Code points of the multi-byte UTF-8 sequences starting at `starts`."""
    last = len(data) - 1
    b0 = data[starts].astype(np.int32)
    b1, b2, b3 = (data[np.minimum(starts + k, last)].astype(np.int32) & 0x3F for k in (1, 2, 3))
    two = ((b0 & 0x1F) << 6) | b1
    three = ((b0 & 0x0F) << 12) | (b1 << 6) | b2
    four = ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3
    points = np.where(b0 < 0xE0, two, np.where(b0 < 0xF0, three, four))
    return np.minimum(points, 0x10FFFF)


def _line_lengths(
    offsets: np.ndarray, data: np.ndarray, n: int, continuation: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lines, longest line, characters in lines) per row, in code points."""
    newlines = np.flatnonzero(data == 10)
    per_row = np.diff(np.searchsorted(newlines, offsets))  # newlines of each row
    filled = np.diff(offsets) > 0
    tail = np.zeros(n, dtype=bool)  # a last line without a newline
    tail[filled] = data[offsets[1:][filled] - 1] != 10
    lines = per_row + tail
    zeros = np.zeros(n, np.int64)
    if not lines.any():
        return lines, zeros, zeros
    # the last byte of every line, in order: each row's tail goes after its newlines
    tail_rows = np.flatnonzero(tail)
    last = np.insert(newlines, np.cumsum(per_row)[tail_rows], offsets[tail_rows + 1] - 1)
    has_lines = lines > 0
    first = (np.cumsum(lines) - lines)[has_lines]  # index of each row's first line
    starts = np.empty_like(last)
    starts[1:] = last[:-1] + 1
    starts[first] = offsets[:-1][has_lines]
    ends = last + (data[last] != 10)  # exclusive, without the newline
    length = ends - starts
    if (data[ends[ends > starts] - 1] == 13).any():  # a line-final \r is not counted
        length -= (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13)
    if continuation.size:  # continuation bytes are not characters
        per_line = np.bincount(np.searchsorted(last, continuation), minlength=len(last))
        length -= per_line[: len(last)]
    max_line, line_chars = zeros.copy(), zeros.copy()
    max_line[has_lines] = np.maximum.reduceat(length, first)
    line_chars[has_lines] = np.add.reduceat(length, first)
    return lines, max_line, line_chars
