"""Formatters rewrite content; rules never do. Both run in the heuristics stage, formatters first.

A formatter rewrites files of its languages that are still kept, one file at a
time (parsing notebooks and HTML raw-text elements has no columnar form; these
are a small share of rows). The stage records which formatter changed a file
(`formatter`) and how many UTF-8 bytes it removed (`stripped_bytes`, 0 when
nothing changed); rules and signals then see the rewritten content.
"""

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from heuristics.config import HeuristicsConfig
from heuristics.notebooks import notebook_to_script, parse_notebook
from heuristics.strip import HtmlCssStripper
from heuristics.textstats import single_array


class Formatter(ABC):
    name: ClassVar[str]
    languages: tuple[str, ...]

    @abstractmethod
    def rewrite(self, text: str, lang: str) -> str:
        """The new content (the same string when nothing changes)."""


class NotebookFormatter(Formatter):
    """Jupyter notebooks -> code + markdown as script text; invalid notebooks stay as they are."""

    name = "notebook"

    def __init__(self, config: HeuristicsConfig) -> None:
        self.languages = config.notebook.languages
        self.markdown = config.notebook.markdown

    def rewrite(self, text: str, lang: str) -> str:
        notebook = parse_notebook(text)
        return text if notebook is None else notebook_to_script(notebook, self.markdown)


class HtmlCssFormatter(Formatter):
    """Strips data URIs, base64 blobs, long inline script/style bodies and minified lines."""

    name = "html_css"

    def __init__(self, config: HeuristicsConfig) -> None:
        self.languages = config.strip.languages
        self.stripper = HtmlCssStripper(config.strip)

    def rewrite(self, text: str, lang: str) -> str:
        return self.stripper.strip(text, html=lang != "CSS")


FORMATTERS: dict[str, type[Formatter]] = {
    NotebookFormatter.name: NotebookFormatter,
    HtmlCssFormatter.name: HtmlCssFormatter,
}


def build_formatters(config: HeuristicsConfig) -> list[Formatter]:
    return [FORMATTERS[name](config) for name in config.resolved.formatters]


def apply_formatters(
    batch: pa.Table, formatters: list[Formatter]
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(content, formatter, stripped_bytes) after every formatter, for the whole batch."""
    content = single_array(batch.column("content"))
    n = batch.num_rows
    if not formatters:
        unchanged = pc.if_else(pc.is_valid(content), 0, pa.scalar(None, pa.int64()))
        return content, pa.nulls(n, pa.string()), unchanged
    applied = np.full(n, None, dtype=object)
    live = pc.and_(pc.is_valid(content), pc.is_null(batch.column("drop_reason")))
    for formatter in formatters:
        mine = pc.is_in(batch.column("lang"), value_set=pa.array(formatter.languages, pa.string()))
        rows = np.flatnonzero(
            pc.fill_null(pc.and_(live, mine), False).to_numpy(zero_copy_only=False)
        )
        if rows.size == 0:
            continue
        texts = content.take(pa.array(rows)).to_pylist()
        langs = batch.column("lang").take(pa.array(rows)).to_pylist()
        rewritten = [formatter.rewrite(text, lang) for text, lang in zip(texts, langs, strict=True)]
        changed = [new != old for new, old in zip(rewritten, texts, strict=True)]
        if not any(changed):
            continue
        mask = np.zeros(n, dtype=bool)
        changed_rows = rows[np.array(changed)]
        mask[changed_rows] = True
        values = pa.array([t for t, c in zip(rewritten, changed, strict=True) if c], content.type)
        content = pc.replace_with_mask(content, pa.array(mask), values)
        applied[changed_rows] = formatter.name
    before = pc.binary_length(batch.column("content"))
    stripped = pc.subtract(before, pc.binary_length(content)).cast(pa.int64())
    return content, pa.array(applied, pa.string()), stripped
