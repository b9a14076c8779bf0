"""Which SPDX licenses does a text contain?

Each reference text becomes a set of normalised word trigrams. A text matches
a reference when it contains at least `accept` of the reference's trigrams
(containment, robust to license files that add a title or omit an optional
appendix). Several licenses in one file are all reported: after the best
match, another is accepted only if it explains trigrams the earlier ones did
not. Trigrams left unexplained are reported too, so a modified license (an
added restriction, a rewritten clause) comes out `LicenseRef-unknown` with its
best guess and score instead of passing as the license it resembles.
"""

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from corpus.licenses.normalize import ngrams, normalise
from corpus.licenses.reference import reference_licenses

UNKNOWN = "LicenseRef-unknown"


@dataclass(frozen=True)
class LicenseMatch:
    spdx_id: str
    score: float
    """Fraction of the reference's trigrams found in the text."""


@dataclass(frozen=True)
class MatchResult:
    matches: list[LicenseMatch] = field(default_factory=list)
    unexplained: int = 0
    """Trigrams of the text that no matched license explains."""
    total: int = 0
    best_guess: LicenseMatch | None = None
    """Closest reference when nothing matched well enough."""

    @property
    def ids(self) -> list[str]:
        return [m.spdx_id for m in self.matches]


#: What follows this line in the GPL family and Apache-2.0 ("How to apply these terms")
#: is optional: LICENSE files often leave it out, so matching uses the terms alone.
_END_OF_TERMS = re.compile(r"\bEND OF TERMS AND CONDITIONS\b", re.IGNORECASE)


#: Reference texts that incorporate another whole license text (the SPDX LGPL-3.0 text is the
#: LGPL's additional permissions followed by the full GPL-3.0). A file holding only the
#: additional permissions (what COPYING.LESSER files hold) is that license too, and the
#: incorporated license inside a match is part of it, not a second license.
INCORPORATES: dict[str, str] = {
    "LGPL-3.0-only": "GPL-3.0-only",
    "LGPL-3.0-or-later": "GPL-3.0-or-later",
}


def _terms(text: str) -> str:
    cut = _END_OF_TERMS.search(text)
    return text[: cut.end()] if cut else text


@dataclass
class _Index:
    ids: list[str]
    grams: list[frozenset[tuple[str, ...]]]
    sizes: np.ndarray
    vocab: dict[tuple[str, ...], int]
    postings: list[np.ndarray]


@cache
def _index() -> _Index:
    """Trigram index of the reference texts; identical texts collapse to one id."""
    by_grams: dict[frozenset, str] = {}
    for ref in sorted(reference_licenses(), key=lambda r: (r.deprecated, r.spdx_id)):
        grams = frozenset(ngrams(normalise(_terms(ref.text))))
        if len(grams) >= 3:
            by_grams.setdefault(grams, ref.spdx_id)  # e.g. GPL-2.0-only over -or-later
    texts = {ref.spdx_id: frozenset(ngrams(normalise(_terms(ref.text))))
             for ref in reference_licenses()}  # fmt: skip
    for whole, part in INCORPORATES.items():
        if whole in texts and part in texts:
            by_grams.setdefault(texts[whole] - texts[part], whole)
    ids = list(by_grams.values())
    grams = list(by_grams.keys())
    vocab: dict[tuple[str, ...], int] = {}
    rows: list[list[int]] = []
    for ref_index, gram_set in enumerate(grams):
        for gram in gram_set:
            slot = vocab.setdefault(gram, len(vocab))
            if slot == len(rows):
                rows.append([])
            rows[slot].append(ref_index)
    postings = [np.array(r, dtype=np.int32) for r in rows]
    sizes = np.array([len(g) for g in grams], dtype=np.float64)
    return _Index(ids, grams, sizes, vocab, postings)


def match_text(text: str, accept: float = 0.85, max_licenses: int = 8) -> MatchResult:
    """The licenses `text` contains, best first."""
    grams = ngrams(normalise(text))
    if not grams:
        return MatchResult()
    index = _index()
    slots = [index.vocab[g] for g in grams if g in index.vocab]
    if not slots:
        return MatchResult(unexplained=len(grams), total=len(grams))
    counts = np.bincount(np.concatenate([index.postings[s] for s in slots]),
                         minlength=len(index.ids))  # fmt: skip
    containment = counts / index.sizes
    # Trigrams found, less half of those missing: a license beats its subsets (MIT over
    # MIT-0, ISC over 0BSD) and a variant that adds a clause the text lacks loses to the
    # plain license (BSD-3-Clause over BSD-3-Clause-No-Nuclear-License-2014).
    fit = counts - 0.5 * (index.sizes - counts)
    order = np.lexsort((-containment, -fit))
    remaining = set(grams)
    matches: list[LicenseMatch] = []
    for ref in order:
        if containment[ref] < accept or len(matches) >= max_licenses:
            continue
        if index.ids[ref] in {m.spdx_id for m in matches}:
            continue  # a second entry of a license already matched (its own part)
        if any(INCORPORATES.get(m.spdx_id) == index.ids[ref] for m in matches):
            remaining -= index.grams[ref]
            continue  # the license the matched one incorporates is part of it
        new = len(index.grams[ref] & remaining)
        if new < 0.5 * index.sizes[ref]:
            continue  # explained by a license already matched (e.g. BSD-2 inside BSD-3)
        matches.append(LicenseMatch(index.ids[ref], round(float(containment[ref]), 4)))
        remaining -= index.grams[ref]
    best = int(np.argmax(containment))
    guess = LicenseMatch(index.ids[best], round(float(containment[best]), 4))
    return MatchResult(matches, len(remaining), len(grams), None if matches else guess)


@cache
def reference_grams(spdx_id: str) -> frozenset[tuple[str, ...]]:
    """Trigrams of a reference's full text, optional parts included (they hold the standard
    notices, e.g. Apache's "Licensed under the Apache License, Version 2.0 ..."); empty for
    ids without a text (LicenseRef-*)."""
    texts = {ref.spdx_id: ref.text for ref in reference_licenses()}
    return frozenset(ngrams(normalise(texts[spdx_id]))) if spdx_id in texts else frozenset()
