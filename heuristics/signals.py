"""Signals: measured facts about each file's content, as columns the rules read.

Every column is null where a file has no content (intake dropped it) or where
the signal does not apply (HTML signals outside HTML, comments outside the
reference languages, notebook validity outside notebooks). Signals describe
the content as published, i.e. after the formatters.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from heuristics.comments import comment_fraction
from heuristics.config import HeuristicsConfig
from heuristics.html import visible_chars
from heuristics.notebooks import is_valid_notebook
from heuristics.patterns import autogen_marker, encoded_spans, xml_declaration
from heuristics.textstats import code_point_classes, text_stats

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
    "autogen_marker": "an auto-generated marker in the first lines (see heuristics.signals)",
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

SIGNAL_SCHEMA = pa.schema(
    [
        pa.field("extension", pa.string()),
        pa.field("chars", pa.int64()),
        pa.field("lines", pa.int64()),
        pa.field("mean_line_length", pa.float64()),
        pa.field("max_line_length", pa.int64()),
        pa.field("alphanumeric_fraction", pa.float64()),
        pa.field("alphabetic_fraction", pa.float64()),
        pa.field("digit_fraction", pa.float64()),
        pa.field("hex_fraction", pa.float64()),
        pa.field("autogen_marker", pa.bool_()),
        pa.field("encoded_max_span", pa.int64()),
        pa.field("encoded_fraction", pa.float64()),
        pa.field("xml_declaration", pa.bool_()),
        pa.field("html_visible_chars", pa.int64()),
        pa.field("html_visible_ratio", pa.float64()),
        pa.field("minified", pa.bool_()),
        pa.field("comment_fraction", pa.float64()),
        pa.field("notebook_valid", pa.bool_()),
        pa.field("formatter", pa.string()),
        pa.field("stripped_bytes", pa.int64()),
    ],
    metadata={k.encode(): v.encode() for k, v in SIGNAL_DOCS.items()},
)


def _share(count: np.ndarray, total: np.ndarray, valid: np.ndarray) -> pa.Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        share = count / total
    return pa.array(share, pa.float64(), mask=~valid | (total == 0))


def _in(lang: pa.Array, languages: tuple[str, ...]) -> np.ndarray:
    member = pc.is_in(lang, value_set=pa.array(languages, pa.string()))
    return pc.fill_null(member, False).to_numpy(zero_copy_only=False)


class SignalComputer:
    """Builds the code-point tables once per worker, then measures batches."""

    def __init__(self, config: HeuristicsConfig) -> None:
        self.config = config
        self.classes = code_point_classes()
        rules = set(config.resolved.rules)
        self.encoded = config.signals.all or "encoded_data" in rules
        self.comments = config.signals.all or "comments" in rules

    def notebook_validity(self, content: pa.Array, lang: pa.Array) -> pa.Array:
        """Measured before formatters rewrite notebooks into scripts."""
        present = content.is_valid().to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(_in(lang, self.config.notebook.languages) & present)
        valid = np.zeros(len(content), dtype=bool)
        texts = content.take(pa.array(rows, pa.int64())).to_pylist()
        valid[rows] = [is_valid_notebook(text) for text in texts]
        mask = np.ones(len(content), dtype=bool)
        mask[rows] = False
        return pa.array(valid, pa.bool_(), mask=mask)

    def measure(self, content: pa.Array, lang: pa.Array) -> dict[str, pa.Array]:
        """Every signal except `notebook_valid`, `formatter` and `stripped_bytes`."""
        signals = self.config.signals
        present = content.is_valid().to_numpy(zero_copy_only=False)
        stats = text_stats(content, self.classes)
        chars, lines = stats.chars, stats.lines
        has_lines = present & (lines > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_line = stats.line_chars / lines
        n = len(content)
        if self.encoded:
            longest, covered = encoded_spans(content)
            encoded = present
        else:
            longest, covered, encoded = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
        out = {
            "chars": pa.array(chars, pa.int64(), mask=~present),
            "lines": pa.array(lines, pa.int64(), mask=~present),
            "mean_line_length": pa.array(mean_line, pa.float64(), mask=~has_lines),
            "max_line_length": pa.array(stats.max_line, pa.int64(), mask=~has_lines),
            "alphanumeric_fraction": _share(stats.alnum, chars, present),
            "alphabetic_fraction": _share(stats.alpha, chars, present),
            "digit_fraction": _share(stats.digits, chars, present),
            "hex_fraction": _share(stats.hex_digits, chars, present),
            "autogen_marker": autogen_marker(content, signals.autogen_markers, signals.autogen_lines),
            "encoded_max_span": pa.array(longest, pa.int64(), mask=~encoded),
            "encoded_fraction": _share(covered, chars, encoded),
            "xml_declaration": xml_declaration(content, signals.xml_head_chars),
            "comment_fraction": comment_fraction(content, lang, chars)
            if self.comments
            else pa.nulls(n, pa.float64()),
        }
        minified_lang = _in(lang, signals.minified_languages) & has_lines
        minified = np.nan_to_num(mean_line) > signals.minified_mean_line
        out["minified"] = pa.array(minified, pa.bool_(), mask=~minified_lang)
        out.update(self._html(content, lang, chars, present))
        return out

    def _html(
        self, content: pa.Array, lang: pa.Array, chars: np.ndarray, present: np.ndarray
    ) -> dict[str, pa.Array]:
        rows = np.flatnonzero(_in(lang, ("HTML",)) & present)
        visible = np.zeros(len(content), dtype=np.int64)
        visible[rows] = visible_chars(content.take(pa.array(rows, pa.int64())).to_pylist())
        is_html = np.zeros(len(content), dtype=bool)
        is_html[rows] = True
        return {
            "html_visible_chars": pa.array(visible, pa.int64(), mask=~is_html),
            "html_visible_ratio": _share(visible, chars, is_html),
        }
