"""Visible text of HTML, with a real HTML5 parser (lexbor, through selectolax).

StarCoder's HTML filter: remove `<script>` and `<style>` elements, take the text
of what is left, and compare its length with the file's. Parsing is the one
per-file loop of the signals, so it runs only over HTML rows (its throughput:
benchmarks/heuristics.py, quoted in the README).
"""

from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser

#: Elements whose text a reader never sees.
INVISIBLE = ("script", "style")


def visible_text(html: str) -> str:
    """The text a browser would render, whitespace included (as BeautifulSoup's get_text)."""
    tree = LexborHTMLParser(html)
    tree.strip_tags(list(INVISIBLE))
    root = tree.root
    return root.text(deep=True, separator="") if root is not None else ""


def visible_chars(documents: Iterable[str]) -> list[int]:
    """Characters of visible text of each document."""
    return [len(visible_text(doc)) for doc in documents]
