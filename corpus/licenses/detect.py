"""From one evidence file's text to an SPDX expression with its score.

Full license texts are matched first (matcher.py). The words no matched text
covers are then read: license names there (a notice such as "Licensed under
the Apache License, Version 2.0") add that license, whose reference text then
explains the notice's standard wording; legal language that still stays
unexplained (an added restriction, a rewritten grant) makes the result
`LicenseRef-unknown`, never a silent permissive.
"""

import re
from dataclasses import dataclass, field

from corpus.licenses.matcher import MatchResult, match_text, reference_grams
from corpus.licenses.names import UNKNOWN, names_in
from corpus.licenses.normalize import normalise

#: Words of legal force; found in words no known license explains, they mean a
#: modification or a license we do not know. Matched on normalised words.
_LEGAL = re.compile(
    r"\b(?:shall|must|may|will|can) not\b|\bnot (?:be )?(?:used|permitted|allowed)\b|"
    r"\bprohibit|\brestrict|\bforbid|\bnon ?commercial|\bcommercial (?:use|purpose)|"
    r"\bonly (?:for|be used|with)\b|\bprovided that\b|\bpermission\b|\bgrants?\b|\bwaive|"
    r"\byou agree\b|\bsubject to\b|\bon condition\b|\bterminat|\bliabilit|"
    r"\bwritten (?:permission|consent|agreement)|\bseparate (?:written )?(?:license|agreement)"
)


#: Shorter uncovered runs are wording variants the SPDX templates allow (e.g. BSD's
#: "the author may not be used to endorse" for "the names of its contributors may not").
MIN_SUSPICIOUS_WORDS = 4
MAX_BRIDGE_WORDS = 3


@dataclass(frozen=True)
class Finding:
    expression: str | None
    """SPDX expression; None when the text carries no license information."""
    score: float = 0.0
    """Lowest containment among matched texts (0.5 for licenses known only by name)."""
    licenses: list[str] = field(default_factory=list)
    best_guess: str | None = None
    note: str = ""


def detect(text: str) -> Finding:
    """What license(s) a license file, README section or notice states."""
    words = normalise(text)
    result = match_text(text)
    licenses = list(result.ids)
    explained = _grams_of(licenses)
    spans = _uncovered(words, explained)
    named = [n for span in spans for n in names_in(span) if n not in licenses]
    if named:
        licenses.extend(dict.fromkeys(named))
        spans = _uncovered(words, _grams_of(licenses))
    suspicious = [s for s in spans if len(s.split()) >= MIN_SUSPICIOUS_WORDS and _LEGAL.search(s)]
    score = _score(result, licenses)
    guess = result.best_guess.spdx_id if result.best_guess else None
    if suspicious:
        note = f"legal text no known license explains: {suspicious[0][:100]!r}"
        return Finding(
            _join([*licenses, UNKNOWN]), score, licenses, guess or _first(licenses), note
        )
    if not licenses:
        return Finding(None, 0.0, [], guess, "no license text or name found")
    return Finding(_join(licenses), score, licenses, guess)


def _grams_of(licenses: list[str]) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for spdx_id in licenses:
        out |= reference_grams(spdx_id)
    return out


def _uncovered(words: list[str], explained: set[tuple[str, ...]]) -> list[str]:
    """Runs of words that no explained trigram covers, as text."""
    covered = [False] * len(words)
    for i in range(len(words) - 2):
        if (words[i], words[i + 1], words[i + 2]) in explained:
            covered[i] = covered[i + 1] = covered[i + 2] = True
    # a few covered words between new ones ("commercial use [of the software] requires ...")
    # belong to the same inserted clause
    covered = _bridge(covered, MAX_BRIDGE_WORDS)
    spans, current = [], []
    for word, is_covered in zip(words, covered, strict=True):
        if is_covered:
            if current:
                spans.append(" ".join(current))
            current = []
        else:
            current.append(word)
    if current:
        spans.append(" ".join(current))
    return spans


def _bridge(covered: list[bool], width: int) -> list[bool]:
    out = list(covered)
    i = 0
    while i < len(out):
        if out[i]:
            j = i
            while j < len(out) and out[j]:
                j += 1
            if i > 0 and j < len(out) and j - i <= width:
                out[i:j] = [False] * (j - i)
            i = j
        else:
            i += 1
    return out


def _score(result: MatchResult, licenses: list[str]) -> float:
    if result.matches:
        return min(m.score for m in result.matches)
    return 0.5 if licenses else 0.0


def _join(licenses: list[str]) -> str:
    # Licenses stated side by side all apply (The Stack's rule: any non-permissive one
    # makes the file non-permissive); manifests state alternatives explicitly with OR.
    return " AND ".join(licenses)


def _first(items: list[str]) -> str | None:
    return items[0] if items else None
