"""From one evidence file's text to an SPDX expression with its score.

Full license texts are matched first (matcher.py). The words no matched text
covers are then read: license names there (a notice such as "Licensed under
the Apache License, Version 2.0") add that license, whose reference text then
explains the notice's standard wording; legal language that still stays
unexplained (an added restriction, a rewritten grant) makes the result
`LicenseRef-unknown`, never a silent permissive. Unexplained wording that takes no right
away (a scope statement, an attribution list: nothing of `_RESTRICTION`) is marked
`LicenseRef-unexplained-text` instead: unknown too, but a manifest that declares the
licenses found may explain it (precedence.py); `LicenseRef-unknown` it never explains.
Choice notices ("dual licensed under X or Y", choice.py) combine their licenses with OR;
a license text that incorporates another (LGPL-3.0 and GPL-3.0) is one license
(matcher.INCORPORATES).
"""

import re
from dataclasses import dataclass, field

from corpus.licenses.choice import Choice, find_choices
from corpus.licenses.exceptions import find_exceptions, with_exceptions
from corpus.licenses.matcher import MatchResult, match_text, reference_grams
from corpus.licenses.names import UNKNOWN, names_in
from corpus.licenses.normalize import ngrams, normalise
from corpus.licenses.templates import in_slot

#: Words of legal force; found in words no known license explains, they mean a
#: modification or a license we do not know. Matched on normalised words.
_LEGAL = re.compile(
    r"\b(?:shall|must|may|will|can) not\b|\bnot (?:be )?(?:used|permitted|allowed)\b|"
    r"\bprohibit|\brestrict|\bforbid|\bnon ?commercial|\bcommercial (?:use|purpose)|"
    r"\bonly (?:for|be used|with)\b|\bprovided that\b|\bpermission\b|\bgrants?\b|\bwaive|"
    r"\byou agree\b|\bsubject to\b|\bon condition\b|\bterminat|\bliabilit|"
    r"\bwritten (?:permission|consent|agreement)|\bseparate (?:written )?(?:license|agreement)"
)
#: The part of _LEGAL that takes rights away rather than stating scope or attribution.
_RESTRICTION = re.compile(
    r"\b(?:shall|must|may|will|can) not\b|\bnot (?:be )?(?:used|permitted|allowed)\b|"
    r"\bprohibit|\brestrict|\bforbid|\bnon ?commercial|\bcommercial (?:use|purpose)|"
    r"\bonly (?:for|be used|with)\b|\byou agree\b|\bon condition\b|"
    r"\bwritten (?:permission|consent|agreement)|\bseparate (?:written )?(?:license|agreement)|"
    r"\bmilitary\b|\bdoes not (?:include|grant)\b|\brequir|\bfees?\b|\bpay|"
    r"\bpersonal\b|\bevaluation\b|\bdistribut\w* (?:is|are) not\b"
)
UNEXPLAINED = "LicenseRef-unexplained-text"
#: What a template slot may not hold: the restrictions, less the modal negation the slot's
#: own clause states ("the contributors may not be used to endorse").
_SLOT_RESTRICTION = re.compile(_RESTRICTION.pattern.replace(
    r"\b(?:shall|must|may|will|can) not\b|", "", 1))


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
    result = match_text(text)
    matched = _grams_of(result.ids)
    # a choice inside a matched license's own text (MPL-2.0's "Secondary License" means
    # either ...) is that license's wording, not a notice
    choices = [c for c in find_choices(text, result.ids) if not _quoted(c.sentence, matched)]
    # a choice notice's own words are explained by it, unless they also restrict
    rest = text
    for choice in choices:
        if not _RESTRICTION.search(normalised_text(choice.sentence)):
            rest = rest.replace(choice.sentence, "\n", 1)
    words = normalise(rest) if rest != text else normalise(text)
    licenses = list(result.ids)
    offered = [a for c in choices for a in c.alternatives]
    exceptions = find_exceptions(text, ngrams(words))
    extra = frozenset().union(*(e.grams for e in exceptions)) if exceptions else frozenset()
    spans = _uncovered(words, _grams_of(licenses) | extra, licenses)
    named = [n for span in spans for n in names_in(span) if n not in licenses + offered]
    if named:
        licenses.extend(dict.fromkeys(named))
        spans = _uncovered(words, _grams_of(licenses) | extra, licenses)
    suspicious = [s for s in spans if len(s.split()) >= MIN_SUSPICIOUS_WORDS and _LEGAL.search(s)]
    licenses = with_exceptions(licenses, [e.spdx_id for e in exceptions])
    score = _score(result, licenses or offered)
    guess = result.best_guess.spdx_id if result.best_guess else None
    stated = _combine(licenses, choices)
    found = list(dict.fromkeys([*licenses, *offered]))
    if suspicious:
        restricted = any(_RESTRICTION.search(s) for s in suspicious)
        note = ("legal text no known license explains: " if restricted
                else "wording no known license explains, restricting nothing: ")  # fmt: skip
        note += repr(next(s for s in suspicious if _RESTRICTION.search(s) or not restricted)[:100])
        marker = UNKNOWN if restricted else UNEXPLAINED
        expression = f"{_parenthesise(stated)} AND {marker}" if stated else marker
        return Finding(expression, score, found, guess or _first(found), note)
    if not stated:
        return Finding(None, 0.0, [], guess, "no license text or name found")
    note = f"choice notice: {' '.join(choices[0].sentence.split())[:100]!r}" if choices else ""
    return Finding(stated, score, found, guess, note)


def _quoted(sentence: str, explained: set[tuple[str, ...]]) -> bool:
    grams = ngrams(normalise(sentence))
    return bool(grams) and len(grams & explained) >= 0.5 * len(grams)


def normalised_text(text: str) -> str:
    return " ".join(normalise(text))


def _combine(licenses: list[str], choices: list[Choice]) -> str:
    """Licenses found side by side AND, each choice notice's alternatives OR; a license that
    a notice offers as an alternative is that alternative, not a second license."""
    offered = {a for c in choices for a in c.alternatives}
    groups = list(dict.fromkeys(c.expression for c in choices))
    parts = [*(lic for lic in licenses if lic not in offered), *groups]
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(_parenthesise(p) for p in parts)


def _parenthesise(expression: str) -> str:
    return f"({expression})" if " OR " in expression else expression


def _grams_of(licenses: list[str]) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for spdx_id in licenses:
        out |= reference_grams(spdx_id)
    return out


def _uncovered(words: list[str], explained: set[tuple[str, ...]],
               licenses: list[str] = ()) -> list[str]:  # fmt: skip
    """Runs of words that no explained trigram covers, as text; runs that fill a replaceable
    slot of one of `licenses`' templates (templates.py) and restrict nothing are explained."""
    covered = [False] * len(words)
    for i in range(len(words) - 2):
        if (words[i], words[i + 1], words[i + 2]) in explained:
            covered[i] = covered[i + 1] = covered[i + 2] = True
    # a few covered words between new ones ("commercial use [of the software] requires ...")
    # belong to the same inserted clause
    covered = _bridge(covered, MAX_BRIDGE_WORDS)
    runs, start = [], None
    for i, is_covered in enumerate([*covered, True]):
        if not is_covered and start is None:
            start = i
        elif is_covered and start is not None:
            runs.append((start, i))
            start = None
    return [" ".join(words[a:b]) for a, b in runs
            if not (licenses and in_slot(words, a, b, list(licenses))
                    and not _SLOT_RESTRICTION.search(" ".join(words[a:b])))]  # fmt: skip


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


def _first(items: list[str]) -> str | None:
    return items[0] if items else None
