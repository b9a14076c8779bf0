"""Three-valued evaluation of SPDX expressions: allowed, not allowed, or unknown.

An expression is allowed when every branch of an AND and at least one branch
of an OR is allowed (`MIT OR GPL-3.0` passes, `MIT AND GPL-3.0` fails). A
`WITH` exception only adds permissions, so it is judged by its license.
Unknown licenses (`LicenseRef-unknown`, ids outside the index) make the answer
unknown unless the rest decides it (`GPL-3.0 AND LicenseRef-unknown` is no).
"""

import json
from collections.abc import Callable
from enum import StrEnum
from functools import cache
from importlib import resources

from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_spdx_licensing,
)

Verdict = bool | None

#: ScanCode categories that count as permissive (The Stack's permissive set).
PERMISSIVE_CATEGORIES = frozenset({"Permissive", "Public Domain"})


class LicenseClass(StrEnum):
    PERMISSIVE = "permissive"
    NON_PERMISSIVE = "non_permissive"
    NO_LICENSE = "no_license"
    UNKNOWN = "unknown"


#: LicenseRefs we emit ourselves, with what they mean.
OWN_REFS: dict[str, Verdict] = {
    "LicenseRef-unknown": None,  # text no known license explains, which may restrict use
    "LicenseRef-unexplained-text": None,  # unexplained wording that restricts nothing
    "LicenseRef-proprietary": False,
    "LicenseRef-scancode-public-domain": True,
}


def is_permissive(key: str) -> Verdict:
    """Fact: is this license in ScanCode's permissive or public-domain categories?"""
    if key in OWN_REFS:
        return OWN_REFS[key]
    category = spdx_categories().get(key)
    if category is None:
        return None
    return category in PERMISSIVE_CATEGORIES


def evaluate(expression: str, allowed: Callable[[str], Verdict]) -> Verdict:
    """Apply `allowed` to each license of `expression` and combine with AND/OR."""
    try:
        parsed = licensing().parse(expression, validate=False, strict=False)
    except ExpressionError:
        return None
    if parsed is None:
        return None
    return _walk(parsed, allowed)


def _walk(node, allowed: Callable[[str], Verdict]) -> Verdict:
    if isinstance(node, LicenseWithExceptionSymbol):
        return _walk(node.license_symbol, allowed)
    if isinstance(node, LicenseSymbol):
        return allowed(node.key)
    verdicts = [_walk(arg, allowed) for arg in node.args]
    if isinstance(node, AND):
        if False in verdicts:
            return False
        return None if None in verdicts else True
    if isinstance(node, OR):
        if True in verdicts:
            return True
        return None if None in verdicts else False
    return None


@cache
def spdx_categories() -> dict[str, str]:
    """SPDX id -> ScanCode category, including the ids ScanCode lists as aliases."""
    path = resources.files("license_expression") / "data" / "scancode-licensedb-index.json"
    out: dict[str, str] = {}
    for entry in json.loads(path.read_text()):
        category = entry.get("category")
        for key in [entry.get("spdx_license_key"), *entry.get("other_spdx_license_keys", [])]:
            if key and category:
                out.setdefault(key, category)
    return out


@cache
def licensing() -> Licensing:
    """license-expression's SPDX Licensing, built once (building it parses a large index)."""
    return get_spdx_licensing()


@cache
def license_class(expression: str | None) -> LicenseClass:
    if expression is None:
        return LicenseClass.NO_LICENSE
    verdict = evaluate(expression, is_permissive)
    if verdict is None:
        return LicenseClass.UNKNOWN
    return LicenseClass.PERMISSIVE if verdict else LicenseClass.NON_PERMISSIVE
