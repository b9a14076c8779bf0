"""Which license covers which file: nearest evidence folder wins, per-file headers win.

A license file applies to the files in its folder and below, and a nested one
overrides it for its subtree; declared manifest licenses apply to their
package folder; `SPDX-License-Identifier:` headers and header notices win for their
file; a repository with no other evidence whose header notices all agree takes that
license for its other files; licenses listed by the source (Stack-style columns)
apply when a repository has no evidence of its own. How one folder's evidence
combines: precedence.py.
"""

import posixpath
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.licenses.names import expression_from_declaration
from corpus.licenses.precedence import NONE, Resolution, and_all, combine

HEADER_KIND = "header"
RULE_HEADERS = "no other evidence: the files' header notices agree"

__all__ = ["NONE", "Resolution", "ScopeIndex", "combine", "empty_evidence", "evidence_rows",
           "source_expression"]  # fmt: skip

EVIDENCE_COLUMNS = ["repo", "scope", "path", "kind", "expression", "score"]


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
                return scopes.get(None, NONE)
            folder = posixpath.dirname(folder)

    def _scopes(self, repo: str) -> dict[str | None, Resolution]:
        """Each evidence folder's resolution; under None, the header consensus of a repo
        with no other evidence. Header rows never speak for their folder: one notice
        governs one file (LicenseStage reads it from the file's own row)."""
        lo = int(np.searchsorted(self.repos, repo, side="left"))
        hi = int(np.searchsorted(self.repos, repo, side="right"))
        rows = self.table.slice(lo, hi - lo).to_pylist()
        headers = [r for r in rows if r["kind"] == HEADER_KIND]
        by_scope: dict[str | None, list[dict]] = {}
        for row in rows:
            if row["kind"] != HEADER_KIND:
                by_scope.setdefault(row["scope"], []).append(row)
        out: dict[str | None, Resolution] = {
            scope: combine(rows, scope) for scope, rows in by_scope.items()
        }
        if not out and headers:
            out[None] = header_consensus(headers)
        return out


def header_consensus(headers: list[dict]) -> Resolution:
    """The license of a repository whose only evidence is header notices: theirs when they
    all state the same expression; none when they disagree (each file keeps its own)."""
    expressions = {r["expression"] for r in headers}
    if len(expressions) != 1:
        return NONE
    paths = sorted(r["path"] for r in headers)
    shown = ", ".join(paths[:3]) + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
    return Resolution(expressions.pop(), f"header notices: {shown}",
                      min(r["score"] for r in headers), "", RULE_HEADERS)  # fmt: skip


def source_expression(licenses: list[str] | None) -> str | None:
    """Licenses a Stack-style source lists for the repository (all apply)."""
    if not licenses:
        return None
    parsed = [expression_from_declaration(name) for name in licenses]
    return and_all([p for p in dict.fromkeys(parsed) if p]) or None


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
