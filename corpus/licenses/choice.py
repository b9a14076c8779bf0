"""Dual- and multi-license notices: sentences that offer a choice between licenses.

"dual licensed under X and Y", "either X or Y at your option", "your choice of X or Y",
"licensed under X. Alternatively, ... under the terms of Y", "under the terms of either of
the licenses found in LICENSE.APACHE or LICENSE.BSD": each offers alternatives, so the
licenses it names combine with OR. Licenses named by file (`LICENSE-MIT`) come out as
`LicenseRef-file-<name>` and are replaced by that file's own expression when the folder's
evidence is combined (scope.py); one that stays unresolved keeps the class unknown.

GPL's "version 2 of the License, or (at your option) any later version" is not a choice
between licenses: it only decides `-or-later` (names.or_later).
"""

import re
from dataclasses import dataclass

from corpus.licenses.names import names_in, or_later

#: Words that offer alternatives, on lower-cased text with collapsed whitespace.
_CHOICE = re.compile(
    r"\b(?:dual|multi|triple|tri)[- ]?licen[cs]ed\b|\beither\b|\bat your (?:option|choice)\b|"
    r"\byour choice\b|\bat the (?:user|licensee)'?s? (?:option|choice)\b|\balternatively\b|"
    r"\bchoose (?:between|either|one of|any of)\b|\bunder (?:one|any) of the following licen"
)
#: The GPL family's version choice, which is not a choice between licenses.
_VERSION_CHOICE = re.compile(
    r"\beither version \d[.\d]*(?: of the licen[cs]e)?,? or\b|"
    r"\(?at your option\)? any later version|\bor any later version\b"
)
#: A file named as holding one of the licenses: LICENSE-MIT, LICENSE.APACHE, COPYING.BSD.
_FILE = re.compile(r"\b(?:licen[cs]e|copying)[-_.](?!txt\b|md\b|rst\b|[0-9])[a-z0-9][a-z0-9.-]*",
                   re.I)  # fmt: skip
#: "dual licensed (both MIT and PSF)": both apply, no choice.
_BOTH = re.compile(r"\bboth\b[^.]{0,40}\band\b")
_SENTENCE_END = re.compile(r"(?<![a-z0-9][.])[.!?](?=\s)|\n\s*\n", re.I)


@dataclass(frozen=True)
class Choice:
    alternatives: list[str]
    """SPDX ids (or `LicenseRef-file-*`) the notice offers, in order of mention."""
    sentence: str
    """The notice's text as found, for the note and for hiding from the unexplained check."""

    @property
    def expression(self) -> str:
        return " OR ".join(self.alternatives)


def sentences(text: str) -> list[str]:
    parts, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        parts.append(text[start : end.end()])
        start = end.end()
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def find_choices(text: str, matched: list[str] | None = None,
                 max_chars: int = 20000) -> list[Choice]:  # fmt: skip
    """Every choice notice in the head of `text`. An "alternatively" sentence offers its
    licenses as alternatives to the one named (or whose text was `matched`) before it. A
    bare family name ("the BSD or the GPL") means the matched text of that family, and a
    notice that restates an earlier choice between the same families is not a second one."""
    out: list[Choice] = []
    matched = matched or []
    previous: list[str] = list(matched)
    for sentence in sentences(text[:max_chars]):
        flat = " ".join(sentence.split())
        lowered = _VERSION_CHOICE.sub(" ", flat.lower())
        named = _align(_named(flat), matched)
        trigger = None if _BOTH.search(lowered) else _CHOICE.search(lowered)
        if trigger and trigger.group(0) == "alternatively" and previous and named:
            if not any(n in previous for n in named):
                out.append(Choice(list(dict.fromkeys([previous[-1], *named])), sentence))
        elif trigger and len(named) >= 2:
            out.append(Choice(named, sentence))
        if named:
            previous = named
    return _without_restatements(out)


def _family(spdx_id: str) -> str:
    return re.split(r"[-.\d]", spdx_id, maxsplit=1)[0]


def _align(named: list[str], matched: list[str]) -> list[str]:
    out = []
    for name in named:
        same = [m for m in matched if _family(m) == _family(name)]
        out.append(name if name in matched or not same else same[0])
    return list(dict.fromkeys(out))


def _without_restatements(choices: list[Choice]) -> list[Choice]:
    kept: list[Choice] = []
    for choice in choices:
        families = {_family(a) for a in choice.alternatives}
        if not any(families <= {_family(a) for a in k.alternatives} for k in kept):
            kept.append(choice)
    return kept


def _named(sentence: str) -> list[str]:
    """Licenses a notice names: by name (acronyms count inside a choice notice, "the BSD or
    the GPL"), with GPL-family versions read as -or-later where the sentence says so; else
    by the files that hold them."""
    names = [or_later(sentence, n) for n in names_in(sentence, prose=False)]
    names = [n for n in names if not n.startswith("LicenseRef-")]
    if len(names) >= 2 or not _FILE.search(sentence):
        return list(dict.fromkeys(names))
    files = [_file_ref(m.group(0)) for m in _FILE.finditer(sentence)]
    return list(dict.fromkeys(files)) if len(files) >= 2 else list(dict.fromkeys(names))


def _file_ref(name: str) -> str:
    return "LicenseRef-file-" + file_key(name)


def file_key(name: str) -> str:
    """A file name as the idstring of a LicenseRef (letters, digits, '.', '-'), case folded."""
    return re.sub(r"[^a-z0-9.-]", "-", name.lower()).strip(".-")
