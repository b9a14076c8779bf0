"""Which license covers which file: nearest evidence folder wins, per-file headers win.

A license file applies to the files in its folder and below, and a nested one
overrides it for its subtree; declared manifest licenses apply to their
package folder; `SPDX-License-Identifier:` headers win for their file;
licenses listed by the source (Stack-style columns) apply when a repository
has no evidence of its own.
"""

import posixpath
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.licenses.evidence import PRIORITY, EvidenceKind
from corpus.licenses.names import UNKNOWN, expression_from_declaration, licensing

EVIDENCE_COLUMNS = ["repo", "scope", "path", "kind", "expression", "score"]


@dataclass(frozen=True)
class Resolution:
    expression: str | None
    source: str | None
    """Path of the evidence file, `spdx-header` or `source-metadata`."""
    score: float
    scope: str = ""
    """Folder whose evidence decided ("" = repository root, or no evidence)."""


NONE = Resolution(None, None, 0.0)


class ScopeIndex:
    """Evidence rows sorted by repo: a worker finds a repo's rows by binary search,
    without building per-repo structures for the whole corpus."""

    def __init__(self, evidence: pa.Table) -> None:
        self.table = evidence.sort_by([("repo", "ascending"), ("scope", "ascending"),
                                       ("path", "ascending")])  # fmt: skip
        self.repos = np.array(self.table.column("repo").to_pylist(), dtype=object)
        self._for_repo = lru_cache(maxsize=4096)(self._scopes)

    def resolve(self, repo: str, path: str) -> Resolution:
        scopes = self._for_repo(repo)
        if not scopes:
            return NONE
        folder = posixpath.dirname(path)
        while True:
            if folder in scopes:
                return scopes[folder]
            if not folder:
                return NONE
            folder = posixpath.dirname(folder)

    def _scopes(self, repo: str) -> dict[str, Resolution]:
        lo = int(np.searchsorted(self.repos, repo, side="left"))
        hi = int(np.searchsorted(self.repos, repo, side="right"))
        rows = self.table.slice(lo, hi - lo).to_pylist()
        by_scope: dict[str, list[dict]] = {}
        for row in rows:
            by_scope.setdefault(row["scope"], []).append(row)
        return {scope: combine(rows, scope) for scope, rows in by_scope.items()}


def combine(rows: list[dict], scope: str = "") -> Resolution:
    """The license of one folder from its evidence files."""
    strongest = min(PRIORITY[EvidenceKind(r["kind"])] for r in rows)
    chosen = [r for r in rows if PRIORITY[EvidenceKind(r["kind"])] == strongest]
    expressions = list(dict.fromkeys(r["expression"] for r in chosen))
    source = ", ".join(r["path"] for r in chosen)
    score = min(r["score"] for r in chosen)
    if chosen[0]["kind"] == EvidenceKind.LICENSE_FILE:
        declared = [r for r in rows if r["kind"] == EvidenceKind.MANIFEST]
        combined = _and(expressions)
        if (
            declared
            and UNKNOWN not in combined
            and _keys(declared[0]["expression"]) == _keys(combined)
        ):
            # the files hold the texts, the manifest says how they combine (e.g. MIT OR Apache)
            combined = declared[0]["expression"]
        return Resolution(combined, source, score, scope)
    return Resolution(_and(expressions), source, score, scope)


def _and(expressions: list[str]) -> str:
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if " OR " in e else e for e in expressions)


def _keys(expression: str) -> frozenset[str]:
    try:
        return frozenset(licensing().license_keys(expression))
    except Exception:
        return frozenset()


def source_expression(licenses: list[str] | None) -> str | None:
    """Licenses a Stack-style source lists for the repository (all apply)."""
    if not licenses:
        return None
    parsed = [expression_from_declaration(name) for name in licenses]
    return _and([p for p in dict.fromkeys(parsed) if p]) or None


def empty_evidence() -> pa.Table:
    return pa.table(
        {
            "repo": pa.array([], pa.string()), "scope": pa.array([], pa.string()),
            "path": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
            "expression": pa.array([], pa.string()), "score": pa.array([], pa.float64()),
        }
    )  # fmt: skip


def evidence_rows(raw: pa.Table) -> pa.Table:
    """Evidence rows (EVIDENCE_COLUMNS) from raw rows carrying license facts."""
    from corpus.licenses.evidence import scope_of

    rows = raw.filter(pc.is_valid(raw.column("license_evidence")))
    paths = rows.column("path").to_pylist()
    return pa.table(
        {
            "repo": rows.column("repo").cast(pa.string()),
            "scope": pa.array([scope_of(p) for p in paths], pa.string()),
            "path": rows.column("path").cast(pa.string()),
            "kind": rows.column("license_evidence_kind").cast(pa.string()),
            "expression": rows.column("license_evidence").cast(pa.string()),
            "score": rows.column("license_evidence_score").cast(pa.float64()),
        }
    )
