"""Signals: measured facts about each file's content, as columns the rules read.

Every column is null where a file has no content (intake dropped it) or where
the signal does not apply (HTML signals outside HTML, comments outside the
reference languages, notebook validity outside notebooks). Signals describe
the content as published, i.e. after the formatters.

Cheap signals are measured for every file. The others come in groups measured
together; with `signals.all` (the default) every group is measured for every
file, otherwise a group is measured only when the first rule reading it runs,
and only for the files no earlier rule dropped (null for the others), as a
per-file loop that returns early would.
"""

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from heuristics.comments import comment_fraction
from heuristics.config import HeuristicsConfig
from heuristics.html import visible_chars
from heuristics.notebooks import is_valid_notebook
from heuristics.patterns import autogen_pattern, encoded_spans, xml_declaration
from heuristics.textstats import code_point_classes, code_points, count_text

#: Column name -> what it holds; the schema below follows this order.
SIGNAL_DOCS: dict[str, str] = {
    "extension": "lower-case extension of the file name, no dot (thresholds per extension)",
    "chars": "characters (code points) of the content after formatters",
    "lines": "lines (pieces between newlines; no empty piece after a final newline)",
    "mean_line_length": "mean characters per line (a line's final \\r not counted)",
    "max_line_length": "characters of the longest line",
    "alphanumeric_fraction": "share of characters that are letters or digits (str.isalnum)",
    "alphabetic_fraction": "share of characters that are letters (str.isalpha)",
    "digit_fraction": "share of characters that are ASCII digits",
    "hex_fraction": "share of characters that are ASCII hex digits [0-9a-fA-F]",
    "autogen_marker": "an auto-generated marker in the first lines (heuristics.signals config)",
    "encoded_max_span": "characters of the longest encoded-data match (base64, hex, \\u)",
    "encoded_fraction": "share of characters inside encoded-data matches",
    "xml_declaration": "<?xml version= within the first characters",
    "html_visible_chars": "HTML: characters of visible text (script and style removed)",
    "html_visible_ratio": "HTML: visible text characters / characters",
    "minified": "JavaScript/CSS whose mean line is longer than linguist's 110",
    "comment_fraction": "reference languages: share of characters in comments (docstrings too)",
    "notebook_valid": "notebooks: the original content parses as a notebook",
    "formatter": "formatter that rewrote the content (null: unchanged)",
    "stripped_bytes": "UTF-8 bytes the formatter removed (0: unchanged)",
}

_STRINGS = ("extension", "formatter")
_FLAGS = ("autogen_marker", "xml_declaration", "minified", "notebook_valid")
_COUNTS = ("chars", "lines", "max_line_length", "encoded_max_span", "html_visible_chars",
           "stripped_bytes")  # fmt: skip


def _type(name: str) -> pa.DataType:
    """Strings, flags and counts are named; every other signal is a float64 share or mean."""
    if name in _STRINGS:
        return pa.string()
    return pa.bool_() if name in _FLAGS else pa.int64() if name in _COUNTS else pa.float64()


SIGNAL_SCHEMA = pa.schema(
    [pa.field(name, _type(name)) for name in SIGNAL_DOCS],
    metadata={k.encode(): v.encode() for k, v in SIGNAL_DOCS.items()},
)

#: Signals measured together, at a cost; every other signal is measured for every file.
_TEXT = ("lines", "mean_line_length", "max_line_length", "minified")
_CLASSES = ("alphanumeric_fraction", "alphabetic_fraction", "digit_fraction", "hex_fraction")
GROUPS: dict[str, tuple[str, ...]] = {
    "text": _TEXT + _CLASSES,
    "encoded": ("encoded_max_span", "encoded_fraction"),
    "html": ("html_visible_chars", "html_visible_ratio"),
    "comments": ("comment_fraction",),
}
GROUP_OF: dict[str, str] = {column: group for group, cols in GROUPS.items() for column in cols}

Signals = dict[str, pa.Array]


#: Per column: values and where they are valid, as numpy (converted to Arrow once).
Measured = dict[str, tuple[np.ndarray, np.ndarray]]


def _share(
    count: np.ndarray, total: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        share = count / total
    return share, valid & (total > 0)


def _in(lang: pa.Array, languages: pa.Array) -> np.ndarray:
    return pc.is_in(lang, value_set=languages).to_numpy(zero_copy_only=False)


def _present(content: pa.Array) -> np.ndarray:
    return content.is_valid().to_numpy(zero_copy_only=False)


def _arrow(column: str, values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, SIGNAL_SCHEMA.field(column).type, mask=~valid)


class SignalComputer:
    """Builds the code-point tables once per worker, then measures batches."""

    def __init__(self, config: HeuristicsConfig) -> None:
        self.config = config
        self.classes = code_point_classes()
        self.autogen = autogen_pattern(config.signals.autogen_markers, config.signals.autogen_lines)
        self.notebooks = pa.array(config.notebook.languages, pa.string())
        self.minifiable = pa.array(config.signals.minified_languages, pa.string())
        self.html = pa.array(["HTML"], pa.string())
        self.measures: dict[str, Callable[[pa.Array, pa.Array, np.ndarray], Measured]] = {
            "text": self._text, "encoded": self._encoded,
            "html": self._html, "comments": self._comments,
        }  # fmt: skip

    def notebook_validity(self, content: pa.Array, lang: pa.Array) -> pa.Array:
        """Measured before formatters rewrite notebooks into scripts."""
        rows = np.flatnonzero(_in(lang, self.notebooks) & _present(content))
        if rows.size == 0:
            return pa.nulls(len(content), pa.bool_())
        valid = np.zeros(len(content), dtype=bool)
        texts = content.take(pa.array(rows, pa.int64())).to_pylist()
        valid[rows] = [is_valid_notebook(text) for text in texts]
        mask = np.ones(len(content), dtype=bool)
        mask[rows] = False
        return pa.array(valid, pa.bool_(), mask=mask)

    def cheap(self, content: pa.Array) -> Signals:
        """The signals measured for every file: size, auto-generated marker, XML declaration."""
        signals = self.config.signals
        return {
            "chars": pa.array(code_points(content), pa.int64(), mask=~_present(content)),
            "autogen_marker": pc.match_substring_regex(content, self.autogen),
            "xml_declaration": xml_declaration(content, signals.xml_head_chars),
        }

    def group(
        self, name: str, content: pa.Array, lang: pa.Array, chars: pa.Array, rows: np.ndarray | None
    ) -> Signals:
        """Measure group `name` for `rows` (None: every row); null for the other rows."""
        if rows is None:
            measured = self.measures[name](content, lang, self._numbers(chars))
            return {col: _arrow(col, values, valid) for col, (values, valid) in measured.items()}
        n = len(content)
        index = pa.array(rows, pa.int64())
        measured = self.measures[name](
            content.take(index), lang.take(index), self._numbers(chars.take(index))
        )
        out = {}
        for col, (values, valid) in measured.items():
            dense, everywhere = np.zeros(n, dtype=values.dtype), np.zeros(n, dtype=bool)
            dense[rows], everywhere[rows] = values, valid
            out[col] = _arrow(col, dense, everywhere)
        return out

    @staticmethod
    def _numbers(chars: pa.Array) -> np.ndarray:
        return pc.fill_null(chars, 0).to_numpy(zero_copy_only=False)

    def _text(self, content: pa.Array, lang: pa.Array, chars: np.ndarray) -> Measured:
        counts, lines = count_text(content, self.classes)
        present = _present(content)
        has_lines = present & (lines.lines > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = lines.line_chars / lines.lines
        signals = self.config.signals
        minified = np.nan_to_num(mean) > signals.minified_mean_line
        return {
            "lines": (lines.lines, present),
            "mean_line_length": (mean, has_lines),
            "max_line_length": (lines.max_line, has_lines),
            "minified": (minified, _in(lang, self.minifiable) & has_lines),
            "alphanumeric_fraction": _share(counts.alnum, counts.chars, present),
            "alphabetic_fraction": _share(counts.alpha, counts.chars, present),
            "digit_fraction": _share(counts.digits, counts.chars, present),
            "hex_fraction": _share(counts.hex_digits, counts.chars, present),
        }

    def _encoded(self, content: pa.Array, lang: pa.Array, chars: np.ndarray) -> Measured:
        longest, covered = encoded_spans(content)
        present = _present(content)
        return {
            "encoded_max_span": (longest, present),
            "encoded_fraction": _share(covered, chars, present),
        }

    def _html(self, content: pa.Array, lang: pa.Array, chars: np.ndarray) -> Measured:
        rows = np.flatnonzero(_in(lang, self.html) & _present(content))
        visible = np.zeros(len(content), dtype=np.int64)
        if rows.size:
            visible[rows] = visible_chars(content.take(pa.array(rows, pa.int64())).to_pylist())
        is_html = np.zeros(len(content), dtype=bool)
        is_html[rows] = True
        return {
            "html_visible_chars": (visible, is_html),
            "html_visible_ratio": _share(visible, chars, is_html),
        }

    def _comments(self, content: pa.Array, lang: pa.Array, chars: np.ndarray) -> Measured:
        return {"comment_fraction": comment_fraction(content, lang, chars)}
