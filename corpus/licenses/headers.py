"""License notices in the leading comment block of a file.

Read per file (the first HEAD_CHARS characters and HEAD_LINES lines, only where a cheap
vectorised test over the batch finds license wording there): the comment lines, block
comments and docstring before the first line of code. Notices recognised:

- GPL-family notices ("... under the terms of the GNU Lesser General Public License as
  published by the Free Software Foundation; either version 2.1 of the License, or (at your
  option) any later version"): family and version, and `-or-later` only where the notice
  says so; a notice that names an exception (GCC Runtime Library Exception) or quotes one
  gives `X WITH Y`;
- a grant naming a license ("Licensed under the Apache License, Version 2.0", "Released
  under the MIT license", MPL-2.0's "subject to the terms of the Mozilla Public License,
  v. 2.0", `:license: BSD`), choice notices ("dual licensed under MIT or Apache-2.0");
- public domain dedications and SQLite's blessing (`blessing`);
- proprietary notices ("Unauthorized copying of this file ... is strictly prohibited");
- a whole license text in the header (matched like a license file; wording beside it that
  restricts rights keeps the file unknown, descriptions of the module do not).

"Use of this source code is governed by a BSD-style license that can be found in the
LICENSE file" names no license: the repository's license file decides such files.
"""

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from corpus.licenses.choice import find_choices
from corpus.licenses.detect import UNEXPLAINED, detect
from corpus.licenses.exceptions import find_exceptions, with_exceptions
from corpus.licenses.matcher import match_text
from corpus.licenses.names import UNKNOWN, expression_from_declaration, names_in

HEAD_CHARS = 4096
HEAD_LINES = 60
#: The vectorised pre-test (RE2 syntax, on the head of every file of a batch).
TRIGGER = (r"(?i)licen[cs]|public domain|general public|free software|blessing|"
           r"permission is hereby|redistribution and use|proprietary|unauthori[sz]ed")  # fmt: skip

_LINE_COMMENT = re.compile(r"^\s*(?:#|//|--|;|%|!|\*|'|rem\b|dnl\b)", re.I)
_BLOCKS = (("/*", "*/"), ('"""', '"""'), ("'''", "'''"), ("<!--", "-->"), ("{-", "-}"),
           ("(*", "*)"), ("=begin", "=end"))  # fmt: skip
_PREAMBLE = re.compile(r"^\s*(?:#!|<\?php|<\?xml|@echo off|(?:r|u|b)?(?=\"\"\"|'''))", re.I)

_GNU = re.compile(
    r"\bgnu (?:(lesser|library) |(affero) )?general public licen[cs]e\b(.{0,240})", re.S
)
_VERSION = re.compile(r"\bversion (\d(?:\.\d)?)\b|\bv(\d(?:\.\d)?)\b")
_LATER = re.compile(r"\bany later version\b|\bor later\b|\bor newer\b|\bany later\b")
_GRANT = re.compile(
    r"\b(?:licen[cs]ed|released|distributed|available|provided|published|dedicated|"
    r"placed|offered|copyrighted) (?:\w+ ){0,3}under\b|\bunder the terms of\b|"
    r"\bsubject to the terms of\b|\byou can redistribute\b|\bis free software\b|"
    r"\bunder (?:the|an?) [\w .,-]{0,40}licen[cs]e\b|\blicen[cs]e: *\S|@licen[cs]e\b"
)
_DECLARED = re.compile(
    r"(?:^|\s|@|:)licen[cs]e:?\s*:?\s+([A-Za-z0-9][\w .+-]{0,38}?)\s*(?:[,;(]|$)", re.I | re.M
)
_PUBLIC_DOMAIN = re.compile(
    r"\b(?:placed|released|dedicated|put|is|are|been|into|in) (?:\w+ ){0,2}(?:in|into|to) "
    r"the public domain\b|\bpublic domain dedication\b"
)
_BLESSING = re.compile(r"disclaims? copyright to this source code.{0,80}here is a blessing", re.S)
_PROPRIETARY = re.compile(
    r"\bunauthori[sz]ed (?:copying|use|reproduction|distribution)\b.{0,120}\bprohibited\b|"
    r"\bproprietary and confidential\b|\bconfidential and proprietary\b", re.S
)
_GNU_IDS = {
    None: {"1": "GPL-1.0", "2": "GPL-2.0", "3": "GPL-3.0"},
    "lesser": {"2": "LGPL-2.0", "2.0": "LGPL-2.0", "2.1": "LGPL-2.1", "3": "LGPL-3.0"},
    "affero": {"1": "AGPL-1.0", "3": "AGPL-3.0"},
}
_DEFAULT_VERSION = {None: "2", "lesser": "2.1", "affero": "3"}


@dataclass(frozen=True)
class HeaderNotice:
    expression: str
    note: str
    score: float = 1.0


def candidates(contents: pa.Array | pa.ChunkedArray) -> list[bool]:
    """Vectorised: which files' heads hold wording a notice needs (the rest skip parsing)."""
    head = pc.utf8_slice_codeunits(contents, 0, HEAD_CHARS)
    mask = pc.match_substring_regex(head, TRIGGER)
    return pc.fill_null(mask, False).to_pylist()


def leading_comment(text: str) -> str:
    """Comment lines, block comments and docstrings before the first line of code."""
    lines = text[:HEAD_CHARS].splitlines()[:HEAD_LINES]
    out: list[str] = []
    closing: str | None = None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if closing is not None:
            out.append(line)
            if closing in stripped:
                closing = None
            continue
        if not stripped or (number < 2 and _PREAMBLE.match(stripped) and not _opens(stripped)):
            continue
        opened = _opens(stripped)
        if opened:
            start, end = opened
            out.append(line)
            rest = stripped[stripped.index(start) + len(start):]
            if end not in rest:
                closing = end
            continue
        if _LINE_COMMENT.match(line):
            out.append(line)
            continue
        break
    return "\n".join(out)


def _opens(stripped: str) -> tuple[str, str] | None:
    body = re.sub(r"^(?:[rub]{1,2})(?=\"\"\"|''')", "", stripped, flags=re.I)
    for start, end in _BLOCKS:
        if body.startswith(start):
            return start, end
    return None


def header_notice(text: str | None) -> HeaderNotice | None:
    """The license notice of a file's leading comment block, or None when it states none."""
    if not text:
        return None
    comment = leading_comment(text)
    if not comment or not re.search(TRIGGER, comment):
        return None
    flat = " ".join(comment.split())
    lowered = flat.lower()
    if _PROPRIETARY.search(lowered):
        return HeaderNotice("LicenseRef-proprietary", _snippet(flat, _PROPRIETARY, lowered))
    if _BLESSING.search(lowered):
        return HeaderNotice("blessing", _snippet(flat, _BLESSING, lowered))
    full = _full_text(comment)
    if full is not None:
        return full
    found = _gnu(lowered) if _GRANT.search(lowered) else []
    if _GRANT.search(lowered):
        choices = [c for c in find_choices(flat)
                   if not any(a.startswith("LicenseRef-") for a in c.alternatives)]
        if choices:
            return HeaderNotice(choices[0].expression, " ".join(choices[0].sentence.split())[:100])
        found += [n for n in names_in(flat) if not _gnu_name(n) and n not in found]
        found += [d for d in _declared(comment) if d not in found]
    if not found and _PUBLIC_DOMAIN.search(lowered):
        found = ["LicenseRef-scancode-public-domain"]
    found = [f for f in found if f != "LicenseRef-scancode-public-domain" or len(found) == 1]
    if not found:
        return None
    exceptions = [e.spdx_id for e in find_exceptions(comment)]
    expression = " AND ".join(dict.fromkeys(with_exceptions(found, exceptions)))
    return HeaderNotice(expression, _note(flat, lowered))


def _full_text(comment: str) -> HeaderNotice | None:
    """A license text quoted whole in the header (BSD, MIT, ISC headers)."""
    if not match_text(comment).matches:
        return None
    finding = detect(comment)
    if finding.expression is None:
        return None
    expression = finding.expression
    if UNEXPLAINED in expression and finding.licenses:
        # a header describes its module too: wording that restricts nothing is no clause
        expression = " AND ".join(finding.licenses)
    note = "license text in the header" + (f"; {finding.note}" if UNKNOWN in expression else "")
    return HeaderNotice(expression, note, finding.score)


def _gnu(lowered: str) -> list[str]:
    """The GNU license the notice grants. Its first mention decides; later ones ("see the GNU
    General Public License for more details", the LGPL's reference to the GPL) refer back to
    it, unless they name another version of their own."""
    out: list[tuple[str | None, str]] = []
    for hit in _GNU.finditer(lowered):
        family = "lesser" if hit.group(1) else "affero" if hit.group(2) else None
        tail = hit.group(3)
        cut = re.search(r"\.\s|;\s*if not\b|\bwithout any warranty\b|\bfor more details\b", tail)
        window = tail[: cut.start()] if cut else tail
        version = _VERSION.search(window)
        if out and (version is None or (family is None and out[0][0] is not None)):
            continue
        number = (version.group(1) or version.group(2)) if version else _DEFAULT_VERSION[family]
        base = _GNU_IDS[family].get(number) or _GNU_IDS[family][_DEFAULT_VERSION[family]]
        spdx = f"{base}-{'or-later' if _LATER.search(window) else 'only'}"
        if spdx not in [s for _, s in out]:
            out.append((family, spdx))
    return [s for _, s in out]


def _gnu_name(spdx_id: str) -> bool:
    return bool(re.match(r"^(?:A|L)?GPL-", spdx_id))


def _declared(comment: str) -> list[str]:
    """`:license: BSD, see LICENSE`, `@license MIT`, `License: Apache-2.0` lines."""
    out = []
    for hit in _DECLARED.finditer(comment):
        expression = expression_from_declaration(hit.group(1))
        if expression and expression != UNKNOWN and "LicenseRef-" not in expression:
            out.append(expression)
    return out


def _note(flat: str, lowered: str) -> str:
    hit = _GRANT.search(lowered) or _PUBLIC_DOMAIN.search(lowered)
    start = max(0, hit.start() - 30) if hit else 0
    return flat[start : start + 120]


def _snippet(flat: str, pattern: re.Pattern, lowered: str) -> str:
    hit = pattern.search(lowered)
    return flat[hit.start() : hit.start() + 120] if hit else flat[:120]
