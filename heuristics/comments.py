"""Share of comment characters, for the 20 reference languages, vectorised per syntax family.

One regex per family matches string literals and comments alike, leftmost
first, so comment markers inside strings (`"#"`, `"http://"`) are consumed by
the string; only matches that open like a comment are counted. Python counts
docstrings too (a triple-quoted string opening a line), as bigcode-dataset's
comment filter did: a newline is put before every file so a module docstring
opens a line as well. This is a lexer's approximation, not a parser: nested
block comments and heredocs are not modelled.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

_ANY = "(?s:.)"
_DQ = rf'"(?:[^"\\\n]|\\{_ANY})*"'
_SQ = rf"'(?:[^'\\\n]|\\{_ANY})*'"
_CHAR = r"'(?:[^'\\\n]|\\[^'\n]{1,8})'"  # C/Java/Rust/Go character literals
_BACKTICK = rf"`(?:[^`\\]|\\{_ANY})*`"  # JS/TS template literals, Go raw strings
_BLOCK = rf"/\*{_ANY}*?\*/"
_SLASHES = r"//[^\n]*"
_HASH = r"#[^\n]*"
_MARKUP = rf"<!--{_ANY}*?-->"


@dataclass(frozen=True)
class Family:
    pattern: str
    """Alternation of string literals and comments (Rust regex syntax)."""
    opens: tuple[str, ...]
    """A match is a comment when it starts with one of these."""
    excludes: tuple[str, ...] = ()
    """...and contains none of these (reStructuredText directives look like comments)."""
    line_start: bool = False
    """Prefix every file with a newline, for patterns that need a line start (docstrings)."""


FAMILIES: dict[str, Family] = {
    "python": Family(
        pattern=rf"\n[ \t]*(?:\"\"\"{_ANY}*?\"\"\"|'''{_ANY}*?''')"
        rf"|\"\"\"{_ANY}*?\"\"\"|'''{_ANY}*?'''|{_DQ}|{_SQ}|{_HASH}",
        opens=("\n", "#"),
        line_start=True,
    ),
    "c": Family(f"{_DQ}|{_CHAR}|{_BACKTICK}|{_BLOCK}|{_SLASHES}", opens=("/*", "//")),
    "js": Family(f"{_DQ}|{_SQ}|{_BACKTICK}|{_BLOCK}|{_SLASHES}", opens=("/*", "//")),
    "php": Family(f"{_DQ}|{_SQ}|{_BLOCK}|{_SLASHES}|{_HASH}", opens=("/*", "//", "#")),
    "css": Family(f"{_DQ}|{_SQ}|{_BLOCK}", opens=("/*",)),
    "sql": Family(rf"{_DQ}|'(?:[^']|'')*'|{_BLOCK}|--[^\n]*", opens=("/*", "--")),
    "hash": Family(f"{_DQ}|{_SQ}|{_HASH}", opens=("#",)),
    "shell": Family(rf"{_DQ}|{_SQ}|(?:(?m:^)|[ \t]){_HASH}", opens=("#", " #", "\t#")),
    "ruby": Family(rf"{_DQ}|{_SQ}|(?m:^)=begin{_ANY}*?(?m:^)=end|{_HASH}", opens=("#", "=begin")),
    "markup": Family(_MARKUP, opens=("<!--",)),
    "vue": Family(rf"{_MARKUP}|{_BLOCK}|(?m:^)[ \t]*//[^\n]*", opens=("<!--", "/", " ", "\t")),
    "rst": Family(
        r"(?m:^)\.\.(?:[ \t][^\n]*)?(?:\n[ \t]+[^\n]*)*",
        opens=("..",),
        excludes=("::", ".. _", ".. [", ".. |"),
    ),
}

#: Reference language -> family. Notebooks are measured as the scripts they become.
LANGUAGE_FAMILIES: dict[str, str] = {
    "Python": "python", "Jupyter Notebook": "python",
    "C": "c", "C++": "c", "Java": "c", "Rust": "c", "Go": "c",
    "JavaScript": "js", "TypeScript": "js", "JSX": "js", "PHP": "php",
    "CSS": "css", "SQL": "sql", "R": "hash", "Shell": "shell", "Ruby": "ruby",
    "HTML": "markup", "Markdown": "markup", "Vue": "vue", "reStructuredText": "rst",
}  # fmt: skip


def comment_chars(content: pa.Array, family: Family) -> np.ndarray:
    """Comment characters per row of `content` (all rows in one family)."""
    text = pl.Series(content)
    if family.line_start:
        text = "\n" + text  # a module docstring opens a line too
    is_comment = pl.lit(False)
    for prefix in family.opens:
        is_comment = is_comment | pl.element().str.starts_with(prefix)
    for needle in family.excludes:
        is_comment = is_comment & ~pl.element().str.contains(needle, literal=True)
    size = pl.element().str.strip_chars_start(" \t\n").str.len_chars()
    counted = pl.when(is_comment).then(size).otherwise(0)
    matches = pl.col("text").str.extract_all(family.pattern).list.eval(counted)
    out = pl.DataFrame({"text": text}).select(matches.list.sum().fill_null(0).cast(pl.Int64))
    return out.to_series().to_numpy()


def comment_fraction(
    content: pa.Array, lang: pa.Array, chars: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(comment characters / characters, where it applies) per row: files of a reference
    language with content."""
    n = len(content)
    fraction = np.zeros(n)
    known = np.zeros(n, dtype=bool)
    present = pc.is_valid(content).to_numpy(zero_copy_only=False)
    for name, family in FAMILIES.items():
        langs = pa.array([lang for lang, fam in LANGUAGE_FAMILIES.items() if fam == name])
        member = pc.fill_null(pc.is_in(lang, value_set=langs), False).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(member & present & (chars > 0))
        if rows.size == 0:
            continue
        counted = comment_chars(content.take(pa.array(rows)), family)
        fraction[rows] = counted / chars[rows]
        known[rows] = True
    return fraction, known
