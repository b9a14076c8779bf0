"""Which files are license evidence, what they state, and which folder they cover.

Evidence kinds, strongest first: license files (LICENSE*, LICENCE*, COPYING*,
UNLICENSE, files under a LICENSES/ folder), manifests (declared licenses),
README license sections, NOTICE files (names only). Per-file
`SPDX-License-Identifier:` headers and license notices in leading comments (headers.py)
are read from every other file.
"""

import posixpath
import re
from dataclasses import dataclass
from enum import StrEnum

from corpus.licenses.detect import UNEXPLAINED, detect
from corpus.licenses.manifests import declared_license, is_manifest
from corpus.licenses.names import UNKNOWN, expression_from_declaration, parse_expression


class EvidenceKind(StrEnum):
    LICENSE_FILE = "license_file"
    MANIFEST = "manifest"
    README = "readme"
    NOTICE = "notice"
    HEADER = "header"
    """A license notice in a file's leading comments (headers.py): it governs its own file;
    a repository with no other evidence takes its headers' license when they agree."""


#: Priority of kinds within one folder (lower wins).
PRIORITY = {k: i for i, k in enumerate(EvidenceKind)}

_LICENSE_NAME = re.compile(
    r"^(?:un)?licen[cs]e(?:[-_. ].*)?$|^copying(?:[-_. ].*)?$|^copyright(?:[-_.].*)?$|"
    r"^(?:mit|apache|bsd|gpl|lgpl|mpl|isc)[-_.](?:licen[cs]e|copying).*$",
    re.IGNORECASE,
)
_NOTICE_NAME = re.compile(r"^(?:notice|legal|third[-_]?party[-_]?notices?)(?:[-_.].*)?$", re.I)
_README_NAME = re.compile(r"^readme(?:\.(?:md|markdown|rst|txt|org|adoc))?$", re.IGNORECASE)
_LICENSES_DIR = {"licenses", "licences", "license", "licence"}
_PACKAGE_META_DIR = re.compile(r"\.(?:dist|egg)-info$")
_SPDX_HEADER = re.compile(r"SPDX-License-Identifier:\s*([^\n*]+?)\s*(?:\*/|-->|$)", re.M)
_README_HEADING = re.compile(
    r"^(?:#{1,6}\s*(?:licen[cs]e|licen[cs]ing|copyright)\b.*|"
    r"(?:licen[cs]e|licen[cs]ing)\s*\n[=\-~^*#]{3,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_NEXT_HEADING = re.compile(r"^(?:#{1,6}\s+\S.*|.+\n[=\-~^*#]{3,})\s*$", re.MULTILINE)
SPDX_HEADER_BYTES = 4096
SHORT_DECLARATION_CHARS = 60
README_SECTION_CHARS = 8000


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    expression: str | None
    score: float
    note: str = ""


def evidence_kind(path: str) -> EvidenceKind | None:
    """The kind of evidence a file is, judged by its path alone."""
    folder, filename = posixpath.split(path)
    if _NOTICE_NAME.match(filename):
        return EvidenceKind.NOTICE
    in_licenses_dir = posixpath.basename(folder).lower() in _LICENSES_DIR
    if _LICENSE_NAME.match(filename) or (in_licenses_dir and _is_text_name(filename)):
        return EvidenceKind.LICENSE_FILE
    if is_manifest(filename):
        return EvidenceKind.MANIFEST
    if _README_NAME.match(filename):
        return EvidenceKind.README
    if _NOTICE_NAME.match(filename):
        return EvidenceKind.NOTICE
    return None


_NOT_LICENSE_TEXT = re.compile(
    r"^(?:readme|authors?|changelog|changes|history|code_of_conduct|contributing|contributors)\b",
    re.IGNORECASE,
)


def _is_text_name(filename: str) -> bool:
    """LICENSES/MIT.txt is a license text; licenses/__init__.py and licenses/AUTHORS.rst
    are not."""
    stem, extension = posixpath.splitext(filename)
    return extension.lower() in ("", ".txt", ".md", ".rst") and not _NOT_LICENSE_TEXT.match(stem)


_PEP639 = re.compile(r"^(?:(.*)/)?[^/]+\.dist-info/licenses/(.*)$")


def scope_of(path: str) -> str:
    """The folder an evidence file speaks for: its own, or the package folder above a
    `*.dist-info` / `*.egg-info` or `LICENSES/` folder ("" is the repository root).
    PEP 639: `X.dist-info/licenses/<path>` speaks for `<path>`'s folder in the project."""
    if pep639 := _PEP639.match(path):
        base, rest = pep639.group(1) or "", posixpath.dirname(pep639.group(2))
        return posixpath.join(base, rest) if base and rest else base or rest
    folder = posixpath.dirname(path)
    if posixpath.basename(folder).lower() in _LICENSES_DIR:
        folder = posixpath.dirname(folder)
    if _PACKAGE_META_DIR.search(posixpath.basename(folder)):
        folder = posixpath.dirname(folder)
    return folder


def analyse(path: str, text: str | None) -> Evidence | None:
    """What an evidence file states; None for files that are not evidence or say nothing."""
    kind = evidence_kind(path)
    if kind is None or not text or not text.strip():
        return None
    filename = posixpath.basename(path)
    if kind == EvidenceKind.MANIFEST:
        expression = declared_license(filename, text)
        return Evidence(kind, expression, 0.5) if expression else None
    if kind == EvidenceKind.README:
        section = readme_license_section(text)
        if section is None:
            return None
        finding = detect(section)
    elif kind == EvidenceKind.LICENSE_FILE and len(text.strip()) <= SHORT_DECLARATION_CHARS:
        # a LICENSE file that only names its license ("MIT", "Apache 2.0")
        expression = expression_from_declaration(text.strip().splitlines()[0])
        return Evidence(kind, expression, 0.5) if expression not in (None, UNKNOWN) else None
    else:
        finding = detect(text)
    if finding.expression is None:
        return None
    if kind == EvidenceKind.NOTICE and (UNKNOWN in finding.expression
                                        or UNEXPLAINED in finding.expression):  # fmt: skip
        # NOTICE files carry attributions, not grants: only the licenses they name count
        if not finding.licenses:
            return None
        return Evidence(kind, " AND ".join(finding.licenses), finding.score, finding.note)
    return Evidence(kind, finding.expression, finding.score, finding.note)


def readme_license_section(text: str) -> str | None:
    """The text under a README's License heading, up to the next heading."""
    heading = _README_HEADING.search(text)
    if heading is None:
        return None
    rest = text[heading.end() :]
    following = _NEXT_HEADING.search(rest)
    section = rest[: following.start()] if following else rest
    return section[:README_SECTION_CHARS].strip() or None


def spdx_header(text: str | None) -> str | None:
    """The expression of an `SPDX-License-Identifier:` line in the head of a file."""
    if not text:
        return None
    match = _SPDX_HEADER.search(text[:SPDX_HEADER_BYTES])
    if match is None:
        return None
    return parse_expression(match.group(1).strip().strip("\"'")) or UNKNOWN
