"""Regex signals over a whole batch: auto-generated markers, XML declarations, encoded data.

Markers and XML run on RE2 through pyarrow.compute (anchored at the start, so only
the head of a file is scanned); encoded-data spans need every match, which polars
(Rust `regex`, linear time) extracts per batch.
"""

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

#: The Stack v2's encoded-data expressions, one alternation so overlaps count once:
#: base64 runs, hex byte runs (`0x12, 0x34`, `\x12\x34`, `12 34`), `\uXXXX` runs.
#: Word boundaries and `\s` are ASCII (`-u`), as in Python's `re.ASCII`.
ENCODED_DATA = (
    r"[a-zA-Z0-9+/\n=]{64,}"
    r"|(?:(?-u:\b)(?:0x|\\x)?[0-9a-fA-F]{2}(?:,|(?-u:\b)(?-u:\s)*)){8,}"
    r"|(?:\\u[0-9a-fA-F]{4}){8,}"
)

_RE2_SPECIAL = set(r"\.^$|?*+()[]{}-")


def re2_literal(text: str) -> str:
    """`text` as a literal inside an RE2 pattern."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)


def autogen_pattern(markers: tuple[str, ...], lines: int) -> str:
    """Case-insensitive: one of `markers` within the first `lines` lines."""
    alternatives = "|".join(re2_literal(m.lower()) for m in markers)
    return rf"(?i)\A(?:[^\n]*\n){{0,{lines - 1}}}[^\n]*?(?:{alternatives})"


def xml_declaration(content: pa.Array, head_chars: int) -> pa.Array:
    """StarCoder's XML test: `<?xml version=` within the first `head_chars` characters."""
    head = pc.utf8_slice_codeunits(content, 0, head_chars)
    return pc.match_substring(head, "<?xml version=")


def encoded_spans(content: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(longest encoded-data match, characters covered by matches) per row; 0 for nulls."""
    spans = pl.col("content").str.extract_all(ENCODED_DATA).list.eval(pl.element().str.len_chars())
    frame = pl.DataFrame({"content": pl.Series(content)}).select(spans.alias("spans"))
    out = frame.select(
        pl.col("spans").list.max().fill_null(0).cast(pl.Int64).alias("longest"),
        pl.col("spans").list.sum().fill_null(0).cast(pl.Int64).alias("covered"),
    )
    return out["longest"].to_numpy(), out["covered"].to_numpy()
