"""Text normalisation following the SPDX matching guidelines, then word n-grams.

Guidelines applied: case folds; whitespace collapses; all dashes, quotes and
bullets are equal or ignored; comment prefixes are ignored; copyright notices
are ignored; equivalent spellings are equal (licence/license, ...); http and
https are equal (URLs reduce to their words anyway).
"""

import re
from functools import lru_cache

#: Spelling variants the SPDX guidelines treat as the same word (varietal spellings).
EQUIVALENT_WORDS: dict[str, str] = {
    "acknowledgment": "acknowledgement", "analogue": "analog", "analyse": "analyze",
    "artefact": "artifact", "authorisation": "authorization", "authorised": "authorized",
    "calibre": "caliber", "cancelled": "canceled", "capitalisations": "capitalizations",
    "catalogue": "catalog", "categorise": "categorize", "centre": "center",
    "emphasised": "emphasized", "favour": "favor", "favourite": "favorite",
    "fulfil": "fulfill", "fulfilment": "fulfillment", "initialise": "initialize",
    "judgment": "judgement", "labelling": "labeling", "labour": "labor",
    "licence": "license", "licences": "licenses", "licenced": "licensed",
    "licencing": "licensing", "maximise": "maximize", "modelled": "modeled",
    "modelling": "modeling", "offence": "offense", "optimise": "optimize",
    "organisation": "organization", "organise": "organize", "practise": "practice",
    "programme": "program", "realise": "realize", "recognise": "recognize",
    "signalling": "signaling", "sublicence": "sublicense", "utilisation": "utilization",
    "whilst": "while", "wilful": "wilfull", "noncommercial": "non commercial",
    "percent": "per cent", "sublicense": "sub license", "sublicensed": "sub licensed",
    "sublicenses": "sub licenses", "sublicensing": "sub licensing",
    "copyrightholder": "copyright holder", "copyrightowner": "copyright owner",
    "https": "http",
}  # fmt: skip

_COMMENT_PREFIX = re.compile(r"^\s*(?://+|#+|/\*+|\*+/?|--+|;+|rem\s|\"\"\"|''')\s?", re.I | re.M)
#: A copyright notice line ("Copyright (c) 2020 Ann", "© 2019 Bob", "Copyright <year> <owner>"),
#: not a line of license text that happens to start with the word ("copyright notice and ...").
_COPYRIGHT_LINE = re.compile(
    r"^\W*(?:copyright\b\s*(?:\(c\)|©|[\d<\[{]|by\b)|\(c\)\s*\d|©\s*\d).*$"
    r"|^\W*all rights reserved\W*$",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"[a-z0-9]+")
#: Bullets and list numbering that start a line: "1.", "(a)", "ii)", "*", "-", "•".
_BULLET = re.compile(r"^\s*(?:[-*•·◦‣]|\(?[0-9a-z]{1,3}[.)])\s+", re.IGNORECASE | re.MULTILINE)


def normalise(text: str) -> list[str]:
    """Word tokens of `text` after the SPDX normalisations."""
    text = _COMMENT_PREFIX.sub("", text)
    text = _COPYRIGHT_LINE.sub(" ", text)
    text = _BULLET.sub(" ", text)
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        words.extend(_equivalent(word))
    return words


@lru_cache(maxsize=4096)
def _equivalent(word: str) -> tuple[str, ...]:
    return tuple(EQUIVALENT_WORDS.get(word, word).split())


def ngrams(words: list[str], n: int = 3) -> set[tuple[str, ...]]:
    if len(words) < n:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(n)), strict=False))
