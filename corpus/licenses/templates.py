"""Replaceable text of the license templates: where a license lets names vary.

SPDX templates mark replaceable text (`<<var;...>>`: copyright holders, the party named in a
disclaimer, "the contributors" in BSD's endorsement clause). The SPDX data the project
reads has no templates; `licenseclassifier` ships the same positions as `__N__` slots of
its matching templates (at most N words). A slot is kept as the words the template fixes
on each side of it. Words no reference explains that fill a slot of a matched license (the
fixed words of the slot beside them, at most N words) are its variable text: they explain
nothing away, restrict nothing, and do not make the text unknown.
"""

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from corpus.licenses.normalize import normalise

CONTEXT_WORDS = 3
#: How far from the unexplained words the slot's fixed words may start: words the slot
#: holds that trigrams of the reference still cover ("... may [not] be used to endorse").
SLACK_WORDS = 3
_TOKEN = re.compile(r"\(\(|\)\)\??|\|\||__\d+__|[^\s()|]+")
_COMMENT = re.compile(r"//\*\*.*?\*\*//", re.S)


@dataclass(frozen=True)
class Slot:
    left: tuple[str, ...]
    """Normalised words the template fixes just before the slot (may be empty)."""
    right: tuple[str, ...]
    max_words: int


@cache
def _templates() -> dict[str, str]:
    path = resources.files("licenseclassifier") / "_engine" / "licenses.json.gz"
    entries = json.loads(gzip.decompress(path.read_bytes()))
    return {e["id"]: e["lre"] for e in entries if e.get("lre")}  # others are URL entries


@cache
def slots(spdx_id: str) -> tuple[Slot, ...]:
    """The replaceable slots of a license's template (none when it has no template)."""
    template = _templates().get(spdx_id) or _templates().get(_base(spdx_id))
    if template is None:
        return ()
    tokens = _TOKEN.findall(_COMMENT.sub(" ", template))
    out = []
    for i, token in enumerate(tokens):
        variable = re.fullmatch(r"__(\d+)__", token)
        if variable is None:
            continue
        left = _fixed(reversed(tokens[:i]))[::-1]
        right = _fixed(tokens[i + 1 :])
        if len(left) + len(right) >= 2:  # one fixed word ("of", "by") places nothing
            out.append(Slot(left, right, int(variable.group(1))))
    return tuple(out)


def _base(spdx_id: str) -> str:
    return re.sub(r"-(?:only|or-later)$", "", spdx_id)


def _fixed(tokens) -> tuple[str, ...]:
    """Normalised literal words next to a slot, up to the first template syntax."""
    words: list[str] = []
    for token in tokens:
        if token.startswith(("((", "))", "||", "__")) or len(words) >= CONTEXT_WORDS:
            break
        words.append(token)
    return tuple(normalise(" ".join(words))[:CONTEXT_WORDS])


def in_slot(words: list[str], start: int, end: int, licenses: list[str]) -> bool:
    """Do words[start:end] fill a replaceable slot of one of `licenses`?"""
    for spdx_id in licenses:
        for slot in slots(spdx_id):
            if _fits(words, start, end, slot):
                return True
    return False


def _fits(words: list[str], start: int, end: int, slot: Slot) -> bool:
    lo, hi = start, end
    if slot.right:
        at = _find(words, slot.right, end, end + SLACK_WORDS + 1)
        if at is None:
            return False
        hi = at
    if slot.left:
        n = len(slot.left)
        at = _find_back(words, slot.left, start - SLACK_WORDS - n, start)
        if at is None:
            return False
        lo = at + n
    return 0 < hi - lo <= slot.max_words


def _find(words: list[str], phrase: tuple[str, ...], lo: int, hi: int) -> int | None:
    n = len(phrase)
    for i in range(max(0, lo), min(hi, len(words) - n + 1)):
        if tuple(words[i : i + n]) == phrase:
            return i
    return None


def _find_back(words: list[str], phrase: tuple[str, ...], lo: int, hi: int) -> int | None:
    """The last start of `phrase` at or after lo whose end is at or before hi."""
    n = len(phrase)
    for i in range(min(hi - n, len(words) - n), max(0, lo) - 1, -1):
        if tuple(words[i : i + n]) == phrase:
            return i
    return None
