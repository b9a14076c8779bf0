"""`codecorpus license-check`: the license decision for one local folder, explained."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from corpus.core.license_class import license_class
from corpus.licenses.evidence import analyse, evidence_kind, scope_of, spdx_header
from corpus.licenses.headers import header_notice
from corpus.licenses.scope import ScopeIndex, empty_evidence

MAX_BYTES = 1 << 20


@dataclass
class FolderReport:
    evidence: list[dict] = field(default_factory=list)
    folders: list[dict] = field(default_factory=list)


def explain_folder(root: Path) -> FolderReport:
    report = FolderReport()
    files = _files(root)
    rows = []
    for rel in files:
        kind = evidence_kind(rel)
        if kind is None:
            continue
        found = analyse(rel, _text(root / rel))
        report.evidence.append(
            {
                "path": rel,
                "kind": kind.value,
                "expression": found.expression if found else None,
                "score": found.score if found else 0.0,
                "note": found.note if found else "says nothing",
            }
        )
        if found is not None:
            rows.append({"repo": "", "scope": scope_of(rel), "path": rel,
                         "kind": found.kind.value, "expression": found.expression,
                         "score": found.score})  # fmt: skip
    notices: dict[str, object] = {}
    for rel in files:
        text = _text(root / rel) if evidence_kind(rel) is None else None
        if text and spdx_header(text) is None and (notice := header_notice(text)):
            notices[rel] = notice
            report.evidence.append({"path": rel, "kind": "header", "expression": notice.expression,
                                    "score": notice.score, "note": notice.note})  # fmt: skip
            rows.append({"repo": "", "scope": scope_of(rel), "path": rel, "kind": "header",
                         "expression": notice.expression, "score": notice.score})  # fmt: skip
    index = ScopeIndex(pa.Table.from_pylist(rows) if rows else empty_evidence())
    folders: dict[tuple, int] = {}
    for rel in files:
        header = spdx_header(_text(root / rel)) if evidence_kind(rel) is None else None
        resolution = index.resolve("", rel)
        if header:
            report.evidence.append({"path": rel, "kind": "header", "expression": header,
                                    "score": 1.0, "note": "SPDX-License-Identifier"})  # fmt: skip
            key = ("(SPDX headers)", header, rel, "a file's own header wins", None)
        elif rel in notices:
            notice = notices[rel]
            differs = resolution.expression not in (None, notice.expression)
            conflict = (f"{resolution.source} states {resolution.expression}; the header "
                        "governs this file") if differs else None  # fmt: skip
            key = ("(header notices)", notice.expression, rel,
                   "a file's own header notice governs it", conflict)  # fmt: skip
        else:
            key = (resolution.scope, resolution.expression, resolution.source,
                   resolution.rule or "no evidence", resolution.conflict)  # fmt: skip
        folders[key] = folders.get(key, 0) + 1
    for (folder, expression, source, rule, conflict), count in sorted(
        folders.items(), key=lambda kv: (kv[0][0], kv[0][2] or "")
    ):
        report.folders.append(
            {
                "folder": folder,
                "files": count,
                "license": expression,
                "class": license_class(expression).value,
                "source": source,
                "rule": rule,
                "conflict": conflict,
            }
        )
    return report


def _files(root: Path) -> list[str]:
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            full = Path(folder) / name
            if full.is_file() and not full.is_symlink():
                out.append(full.relative_to(root).as_posix())
    return out


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()[:MAX_BYTES]
    except OSError:
        return None
    return None if b"\0" in data[:8000] else data.decode("utf-8", errors="replace")
