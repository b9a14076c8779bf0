"""SPDX license exceptions (additional permissions) found in a text: `X WITH Y`.

Every SPDX exception grants more than its license does (linking, embedded portions, runtime
libraries), so a recognised exception keeps the license's class (core/license_class.py
judges `X WITH Y` by X). Texts: data/exceptions.json.gz (see data/README.md). A text's
exception is found by trigram containment of the exception's text, or by the names that
notices use for the long ones ("the GCC Runtime Library Exception, version 3.1"); wording
no exception explains is left to detect.py, which keeps it unknown.
"""

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from corpus.licenses.normalize import ngrams, normalise

ACCEPT = 0.8

#: Names notices give exceptions they do not quote, on lower-cased text.
NAMED: tuple[tuple[str, str], ...] = (
    (r"gcc runtime library exception(?:,? version 3\.1)?", "GCC-exception-3.1"),
    (r"\bclasspath[\"' ]+exception\b|\"classpath\" exception", "Classpath-exception-2.0"),
    (r"\bllvm[- ]exceptions?\b", "LLVM-exception"),
    (r"\bautoconf exception\b", "Autoconf-exception-3.0"),
    (r"\bbison exception\b", "Bison-exception-2.2"),
)
_NAMED = tuple((re.compile(p), spdx) for p, spdx in NAMED)


@dataclass(frozen=True)
class ExceptionMatch:
    spdx_id: str
    score: float
    grams: frozenset[tuple[str, ...]]


@cache
def exception_texts() -> dict[str, str]:
    path = resources.files("corpus.licenses") / "data" / "exceptions.json.gz"
    data = json.loads(gzip.decompress(path.read_bytes()))
    return {e["id"]: e["text"] for e in data["exceptions"]}


@cache
def _grams() -> dict[str, frozenset[tuple[str, ...]]]:
    out = {}
    for spdx_id, text in exception_texts().items():
        grams = frozenset(ngrams(normalise(text)))
        if len(grams) >= 8:  # shorter texts are too common wording to identify an exception
            out[spdx_id] = grams
    return out


def find_exceptions(text: str, grams: set[tuple[str, ...]] | None = None) -> list[ExceptionMatch]:
    """Exceptions whose text `text` contains (best first, none explained twice), then those
    it names."""
    grams = grams if grams is not None else ngrams(normalise(text))
    scored = []
    for spdx_id, reference in _grams().items():
        found = len(reference & grams)
        if found >= ACCEPT * len(reference):
            scored.append((found / len(reference), len(reference), spdx_id, reference))
    out: list[ExceptionMatch] = []
    taken: set[tuple[str, ...]] = set()
    for score, _, spdx_id, reference in sorted(scored, reverse=True):
        if len(reference - taken) < 0.5 * len(reference):
            continue  # a shorter variant inside an exception already found
        out.append(ExceptionMatch(spdx_id, round(score, 4), reference))
        taken |= reference
    lowered = " ".join(text.lower().split())
    for pattern, spdx_id in _NAMED:
        if pattern.search(lowered) and spdx_id not in {m.spdx_id for m in out}:
            out.append(ExceptionMatch(spdx_id, 0.5, frozenset()))
    return out


def with_exceptions(licenses: list[str], exceptions: list[str]) -> list[str]:
    """Attach the exceptions to the license they modify: the GPL family's for GPL-family
    exceptions when there is one, else the first license. With no license, the exception
    modifies a license this text does not state (unknown)."""
    if not exceptions:
        return licenses
    out = list(licenses)
    for exception in exceptions:
        target = _target(out, exception)
        if target is None:
            out.append(f"LicenseRef-unknown WITH {exception}")
            continue
        if " WITH " not in out[target]:  # SPDX allows one exception per license
            out[target] = f"{out[target]} WITH {exception}"
    return out


def _target(licenses: list[str], exception: str) -> int | None:
    plain = [i for i, lic in enumerate(licenses) if not lic.startswith("LicenseRef-")]
    if not plain:
        return None
    if exception in ("LLVM-exception",):
        apache = [i for i in plain if licenses[i].startswith("Apache-")]
        return apache[0] if apache else plain[0]
    gnu = [i for i in plain if re.match(r"^(?:A|L)?GPL-", licenses[i])]
    return gnu[0] if gnu and exception != "fmt-exception" else plain[0]
