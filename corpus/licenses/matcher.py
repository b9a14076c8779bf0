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
        grams = frozenset(ngrams(normalise(ref.text)))
        if len(grams) >= 3:
            by_grams.setdefault(grams, ref.spdx_id)  # e.g. GPL-2.0-only over -or-later
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
    # Rank by trigrams found minus trigrams missing: the reference that best fits the text,
    # so MIT beats MIT-0 (a subset) and BSD-3-Clause beats a variant with an extra clause.
    order = np.argsort(-(2 * counts - index.sizes), kind="stable")
    remaining = set(grams)
    matches: list[LicenseMatch] = []
    for ref in order:
        if containment[ref] < accept or len(matches) >= max_licenses:
            continue
        new = len(index.grams[ref] & remaining)
        if new < 0.5 * index.sizes[ref]:
            continue  # explained by a license already matched (e.g. BSD-2 inside BSD-3)
        matches.append(LicenseMatch(index.ids[ref], round(float(containment[ref]), 4)))
        remaining -= index.grams[ref]
    best = int(np.argmax(containment))
    guess = LicenseMatch(index.ids[best], round(float(containment[best]), 4))
    return MatchResult(matches, len(remaining), len(grams), None if matches else guess)


def reference_grams(spdx_id: str) -> frozenset[tuple[str, ...]]:
    """Trigrams of a reference license (empty for ids without a text, e.g. LicenseRef-*)."""
    index = _index()
    position = _positions().get(spdx_id)
    return index.grams[position] if position is not None else frozenset()


@cache
def _positions() -> dict[str, int]:
    from corpus.licenses.reference import reference_licenses

    index = _index()
    positions = {spdx_id: i for i, spdx_id in enumerate(index.ids)}
    by_text = {g: i for i, g in enumerate(index.grams)}
    for ref in reference_licenses():  # ids that collapsed onto an identical text
        grams = frozenset(ngrams(normalise(ref.text)))
        if ref.spdx_id not in positions and grams in by_text:
            positions[ref.spdx_id] = by_text[grams]
    return positions
