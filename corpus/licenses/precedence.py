"""One folder's license from its evidence files: which evidence wins, and how it combines.

Precedence, in order (the rule that decided is recorded with the result):

1. A choice notice that names license files ("either of the licenses found in
   LICENSE.APACHE or LICENSE.BSD") takes those files' expressions as its alternatives;
   the files it names are then part of the notice, not licenses of their own.
   A GPL-3.0 text beside an LGPL-3.0 text is part of the LGPL (it incorporates it).
2. License files win over manifests, README sections and NOTICE files; several license
   files all apply (AND).
3. A manifest with the same licenses as the files says how they combine
   (`MIT OR Apache-2.0` for LICENSE-MIT + LICENSE-APACHE) and, for the GPL family,
   whether `-only` or `-or-later` (their texts are identical).
4. A manifest explains license files that are partly unknown when every license the files
   match is one the manifest declares: the manifest's expression wins, both pieces of
   evidence stay recorded. Only wording that restricts nothing
   (`LicenseRef-unexplained-text`) is explained so; `LicenseRef-unknown` (text that may
   restrict use) never is.
5. Otherwise files and manifest disagree: a conflict is recorded and the stricter of the
   two (non-permissive, then unknown, then permissive) is the folder's license, so a
   conflict never resolves toward permissive.
"""

import posixpath
import re
from dataclasses import dataclass

from corpus.core.license_class import LicenseClass, license_class, licensing
from corpus.licenses.choice import file_key
from corpus.licenses.detect import UNEXPLAINED
from corpus.licenses.evidence import PRIORITY, EvidenceKind
from corpus.licenses.matcher import INCORPORATES
from corpus.licenses.names import UNKNOWN

_FILE_REF = re.compile(r"LicenseRef-file-([a-z0-9.-]+)")
#: Lower is stricter.
_STRICTNESS = {LicenseClass.NON_PERMISSIVE: 0, LicenseClass.UNKNOWN: 1,
               LicenseClass.NO_LICENSE: 2, LicenseClass.PERMISSIVE: 3}  # fmt: skip

RULE_FILES = "license files"
RULE_COMBINES = "license files; the manifest says how they combine"
RULE_EXPLAINS = "manifest explains the unknown part of the license files"
RULE_CONFLICT = "license files and manifest disagree: the stricter is kept"


@dataclass(frozen=True)
class Resolution:
    expression: str | None
    source: str | None
    """Path of the evidence file(s), `spdx-header` or `source-metadata`."""
    score: float
    scope: str = ""
    """Folder whose evidence decided ("" = repository root, or no evidence)."""
    rule: str = ""
    """Which precedence rule combined the evidence."""
    conflict: str | None = None
    """Evidence that disagreed, when it did."""


NONE = Resolution(None, None, 0.0)


def combine(rows: list[dict], scope: str = "") -> Resolution:
    """The license of one folder from its evidence rows (path, kind, expression, score)."""
    rows = _without_incorporated(_resolve_file_refs(rows))
    strongest = min(PRIORITY[EvidenceKind(r["kind"])] for r in rows)
    chosen = [r for r in rows if PRIORITY[EvidenceKind(r["kind"])] == strongest]
    combined = and_all(list(dict.fromkeys(r["expression"] for r in chosen)))
    source = ", ".join(r["path"] for r in chosen)
    score = min(r["score"] for r in chosen)
    kind = EvidenceKind(chosen[0]["kind"])
    if kind != EvidenceKind.LICENSE_FILE:
        return Resolution(combined, source, score, scope, f"{kind.value} (no license file)")
    manifests = [r for r in rows if r["kind"] == EvidenceKind.MANIFEST
                 and r["expression"] and r["expression"] != UNKNOWN]  # fmt: skip
    if not manifests:
        return Resolution(combined, source, score, scope, RULE_FILES)
    declared = list(dict.fromkeys(r["expression"] for r in manifests))
    file_keys = keys(combined)
    for expression in declared:
        if keys(expression) == file_keys or _versions(keys(expression)) == _versions(file_keys):
            return Resolution(expression, source, score, scope, RULE_COMBINES)
    known = file_keys - {UNEXPLAINED}
    if UNEXPLAINED in file_keys and UNKNOWN not in file_keys and known:
        for expression, row in zip(declared, manifests, strict=False):
            if {UNKNOWN, UNEXPLAINED}.isdisjoint(keys(expression)) and known <= keys(expression):
                return Resolution(expression, f"{source}, {row['path']}", score, scope,
                                  RULE_EXPLAINS)  # fmt: skip
    manifest_paths = ", ".join(r["path"] for r in manifests)
    conflict = f"license files state {combined}; {manifest_paths} declares {' / '.join(declared)}"
    stricter = min([combined, *declared], key=lambda e: _STRICTNESS[license_class(e)])
    return Resolution(stricter, f"{source}, {manifest_paths}", score, scope, RULE_CONFLICT,
                      conflict)  # fmt: skip


def _versions(ids: frozenset[str]) -> frozenset[str]:
    """GPL-family ids without -only/-or-later: the two share one text, so a license file
    cannot tell them apart and the manifest (or a header) decides."""
    return frozenset(re.sub(r"-(?:only|or-later)$", "", i) for i in ids)


def _resolve_file_refs(rows: list[dict]) -> list[dict]:
    """Replace `LicenseRef-file-<name>` by the expression of the sibling file of that name;
    the files a notice names become part of it. Unresolved names stay (class unknown)."""
    by_key: dict[str, dict] = {}
    for row in rows:
        name = posixpath.basename(row["path"])
        by_key.setdefault(file_key(name), row)
        by_key.setdefault(file_key(posixpath.splitext(name)[0]), row)
    consumed: set[str] = set()
    out = []
    for row in rows:
        expression = row["expression"] or ""
        if "LicenseRef-file-" not in expression:
            out.append(row)
            continue

        def substitute(hit: re.Match, row: dict = row) -> str:
            target = by_key.get(hit.group(1))
            if target is None or target is row or "LicenseRef-file-" in target["expression"]:
                return hit.group(0)
            consumed.add(target["path"])
            return f"({target['expression']})"

        resolved = _normalised(_FILE_REF.sub(substitute, expression))
        out.append({**row, "expression": resolved})
    return [r for r in out if r["path"] not in consumed] or out


def _without_incorporated(rows: list[dict]) -> list[dict]:
    """A COPYING with GPL-3.0 beside a COPYING.LESSER with LGPL-3.0 is the LGPL's text."""
    files = [r for r in rows if r["kind"] == EvidenceKind.LICENSE_FILE]
    present = set().union(*(keys(r["expression"]) for r in files)) if files else set()
    parts = {INCORPORATES[k] for k in present if k in INCORPORATES}
    kept = [r for r in rows if not (r["kind"] == EvidenceKind.LICENSE_FILE
                                    and r["expression"] in parts)]  # fmt: skip
    return kept or rows


def and_all(expressions: list[str]) -> str:
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if " OR " in e else e for e in expressions)


def keys(expression: str | None) -> frozenset[str]:
    if not expression:
        return frozenset()
    try:
        return frozenset(licensing().license_keys(expression))
    except Exception:
        return frozenset()


def _normalised(expression: str) -> str:
    try:
        parsed = licensing().parse(expression, validate=False, strict=False)
    except Exception:
        return expression
    return str(parsed) if parsed is not None else expression
