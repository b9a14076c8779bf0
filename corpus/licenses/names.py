"""License names and SPDX ids written in prose or manifests -> SPDX expressions.

Manifests and notices name licenses ("Apache License, Version 2.0", "BSD",
"License :: OSI Approved :: MIT License") rather than quote them. Exact SPDX
ids and expressions are parsed with license-expression; the common names
below cover what real manifests and notices say.
"""

import re
from functools import cache

from license_expression import ExpressionError

from corpus.core.license_class import licensing
from corpus.licenses.reference import spdx_ids, spdx_names

#: (pattern on lower-cased text, SPDX id, strong). Specific before generic. Weak patterns
#: (bare acronyms such as "gpl" or "bsd") are trusted in manifest values only: in prose
#: they are too often mentions ("GPL-compatible") rather than grants.
NAME_PATTERNS: tuple[tuple[str, str, bool], ...] = (
    (r"apache(?: software)? license,? (?:version |v\.? ?)?2(?:[. ]0)?|"
     r"apache[. ]org/licenses/license[- ]2[. ]0", "Apache-2.0", True),
    (r"\bapache[- ]2(?:[. ]0)?\b|apache software license|\bapache license\b", "Apache-2.0", False),
    (r"mozilla public license,? (?:version |v\.? ?)?2[. ]0", "MPL-2.0", True),
    (r"\bmpl[- ]?2[. ]0\b", "MPL-2.0", False),
    (r"mozilla public license(?: \(mpl\))?,? (?:version |v\.? ?)?1[. ]1", "MPL-1.1", True),
    (r"\bmpl[- ]?1[. ]1\b", "MPL-1.1", False),
    (r"gnu affero general public license", "AGPL-3.0-only", True),
    (r"\bagpl", "AGPL-3.0-only", False),
    (r"gnu lesser general public license(?: \(?lgpl\)?)?,? (?:version |v\.? ?)?3",
     "LGPL-3.0-only", True),
    (r"\blgpl[- ]?v?3", "LGPL-3.0-only", False),
    (r"gnu (?:lesser|library) general public license", "LGPL-2.1-only", True),
    (r"\blgpl\b", "LGPL-2.1-only", False),
    (r"gnu general public license,? (?:version |v\.? ?)?3", "GPL-3.0-only", True),
    (r"\bgpl[- ]?v?3", "GPL-3.0-only", False),
    (r"gnu general public license", "GPL-2.0-only", True),
    (r"\bgpl[- ]?v?2|\bgpl\b", "GPL-2.0-only", False),
    (r"eclipse public license,? (?:version |v\.? ?)?2", "EPL-2.0", True),
    (r"eclipse public license", "EPL-1.0", True),
    (r"\bepl[- ]?2", "EPL-2.0", False),
    (r"\bepl\b", "EPL-1.0", False),
    (r"\bbsd[- ]3[- ]clause|new bsd license|revised bsd license|modified bsd license|"
     r"3[- ]clause bsd", "BSD-3-Clause", True),
    (r"\bbsd[- ]2[- ]clause|simplified bsd license|freebsd license|2[- ]clause bsd",
     "BSD-2-Clause", True),
    (r"\bbsd[- ]0[- ]clause|zero[- ]clause bsd|\b0bsd\b", "0BSD", True),
    (r"\bnew bsd\b|\brevised bsd\b|\bbsd license\b|\bbsd\b", "BSD-3-Clause", False),
    (r"mit no attribution|\bmit-0\b", "MIT-0", True),
    (r"\bthe mit license\b|\bmit license\b", "MIT", True),
    (r"\bmit\b|\bexpat\b", "MIT", False),
    (r"university of illinois[/ ]ncsa open source license", "NCSA", True),
    (r"\bncsa\b", "NCSA", False),
    (r"\bisc license\b", "ISC", True),
    (r"\biscl?\b", "ISC", False),
    (r"python software foundation license", "PSF-2.0", True),
    (r"\bpsf(?:l|[- ]2[. ]0)?\b", "PSF-2.0", False),
    (r"boost software license", "BSL-1.0", True),
    (r"\bbsl[- ]1[. ]0\b", "BSL-1.0", False),
    (r"\bzlib license\b", "Zlib", True),
    (r"\bzlib\b", "Zlib", False),
    (r"creativecommons[. ]org[/ ]publicdomain[/ ]zero", "CC0-1.0", True),
    (r"\bcc0\b", "CC0-1.0", False),
    (r"creativecommons[. ]org[/ ]licenses[/ ]by[/ ]4[. ]0", "CC-BY-4.0", True),
    (r"\bcc[- ]by[- ]4[. ]0\b", "CC-BY-4.0", False),
    (r"free and unencumbered software released into the public domain", "Unlicense", True),
    (r"\bunlicense\b", "Unlicense", False),
    (r"do what the fuck you want", "WTFPL", True),
    (r"\bwtfpl\b", "WTFPL", False),
    (r"\bpublic domain\b", "LicenseRef-scancode-public-domain", False),
)  # fmt: skip

_COMPILED = tuple((re.compile(p), spdx, strong) for p, spdx, strong in NAME_PATTERNS)
UNKNOWN = "LicenseRef-unknown"


@cache
def parse_expression(text: str) -> str | None:
    """A valid SPDX expression (normalised), or None if `text` is not one."""
    text = text.strip()
    if not text or len(text) > 200:
        return None
    try:
        parsed = licensing().parse(text, validate=True, strict=False)
    except ExpressionError:
        return None
    if parsed is None:
        return None
    return str(parsed)


_GPL_FAMILY = re.compile(r"^(?:A|L)?GPL-\d\.\d-only$")
_OR_LATER = re.compile(
    r"^(?:[^.]|\.\d){0,80}?(?:\+|\bor later\b|\bor (?:\(at your option\) )?any later)"
)


def or_later(text: str, spdx_id: str) -> str:
    """`GPL-2.0-only` -> `GPL-2.0-or-later` where `text` follows the name with "or later",
    "or (at your option) any later version" or "+" (GPLv2+)."""
    if not _GPL_FAMILY.match(spdx_id):
        return spdx_id
    lowered = " ".join(text.lower().split())
    for pattern, spdx, _ in _COMPILED:
        if spdx != spdx_id:
            continue
        for hit in pattern.finditer(lowered):
            if _OR_LATER.match(lowered[hit.end() :]):
                return spdx_id.removesuffix("-only") + "-or-later"
    return spdx_id


def names_in(text: str, prose: bool = True) -> list[str]:
    """SPDX ids of the licenses `text` names, in order of first mention, without overlaps.
    In prose only full names count; in manifest values (`prose=False`) acronyms too."""
    lowered = text.lower()
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, spdx, strong in _COMPILED:
        if prose and not strong:
            continue
        for hit in pattern.finditer(lowered):
            span = hit.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            taken.append(span)
            found.append((span[0], spdx))
    out: list[str] = []
    for _, spdx in sorted(found):
        if spdx not in out:
            out.append(spdx)
    return out


def expression_from_declaration(value: str) -> str | None:
    """A manifest's license value -> SPDX expression: an id or expression, else named licenses
    (several names joined with OR, as manifests list alternatives), else LicenseRef-unknown."""
    value = value.strip()
    if not value or value.upper() in ("UNKNOWN", "NONE", "N/A"):
        return None
    if value.upper() == "UNLICENSED":  # npm: proprietary, not The Unlicense
        return "LicenseRef-proprietary"
    exact = spdx_ids().get(value.lower()) or spdx_names().get(value)
    if exact:
        return exact
    parsed = parse_expression(value)
    if parsed and all(_known(key) for key in _keys(parsed)):
        return parsed
    names = names_in(value, prose=False)
    if names:
        return " OR ".join(names)
    return UNKNOWN


def _keys(expression: str) -> list[str]:
    return licensing().license_keys(expression)


def _known(key: str) -> bool:
    return key.lower() in spdx_ids() or key.startswith("LicenseRef-")
