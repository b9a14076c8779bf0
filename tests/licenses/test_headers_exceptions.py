"""Header notices, license exceptions and template variables, on real files.

Files come from packages installed in the test environment (psycopg2, boto3, requests, PIL,
torch's bundled third-party licenses) and Debian's (GCC's headers, SQLite's header, zstd's
copyright file); edits of them check that what a rule explains never hides a restriction.
"""

from pathlib import Path

import pytest

from corpus.core.license_class import license_class
from corpus.licenses.detect import detect
from corpus.licenses.headers import candidates, header_notice, leading_comment

SITE = Path(pytest.__file__).resolve().parent.parent
GCC_HEADER = Path("/usr/lib/gcc/x86_64-linux-gnu/12/include/bmmintrin.h")
SQLITE = Path("/usr/include/sqlite3.h")
ZSTD = Path("/usr/share/doc/zstd/copyright")
TORCH_LICENSES = next(SITE.glob("torch-*.dist-info"), SITE) / "licenses" / "third_party"


def _module(name: str, rel: str) -> str:
    return (Path(__import__(name).__file__).parent / rel).read_text()


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


def test_gnu_notice_decides_or_later_and_only() -> None:
    text = _module("psycopg2", "pool.py")
    notice = header_notice(text)
    assert notice is not None and notice.expression == "LGPL-3.0-or-later"
    assert "free software" in notice.note
    only = text.replace("either version 3 of the License, or\n# (at your option) any later "
                        "version", "version 3 of the License")  # fmt: skip
    assert only != text
    assert header_notice(only).expression == "LGPL-3.0-only"


def test_gcc_header_is_gpl_with_the_runtime_exception() -> None:
    notice = header_notice(_need(GCC_HEADER).read_text())
    assert notice.expression == "GPL-3.0-or-later WITH GCC-exception-3.1"
    assert license_class(notice.expression).value == "non_permissive"


def test_grant_notices_name_their_license() -> None:
    assert header_notice(_module("boto3", "session.py")).expression == "Apache-2.0"
    assert header_notice(_module("requests", "__init__.py")).expression == "Apache-2.0"


def test_a_public_domain_dedication_header_is_cc0() -> None:
    pytest.importorskip("PIL", reason="Pillow comes with the [train] extra (matplotlib)")
    assert header_notice(_module("PIL", "BlpImagePlugin.py")).expression == "CC0-1.0"


def test_sqlite_blessing_is_public_domain() -> None:
    notice = header_notice(_need(SQLITE).read_text(errors="replace"))
    assert notice.expression == "blessing"
    assert license_class("blessing").value == "permissive"


def test_mentions_and_pointers_are_no_notice() -> None:
    # this project's own docstring quotes notice wording without granting anything
    assert header_notice(Path("corpus/licenses/choice.py").read_text()) is None
    go = "// Use of this source code is governed by a BSD-style license that can be\n" \
         "// found in the LICENSE file.\n\npackage main\n"  # fmt: skip
    assert header_notice(go) is None
    # code after the header ends the header: a notice further down is not read
    late = "import os\n# Licensed under the GNU General Public License version 3\n"
    assert leading_comment(late) == "" and header_notice(late) is None


def test_proprietary_header_is_not_permissive() -> None:
    text = ("/*\n * Copyright 2020 Acme Corp.\n * Proprietary and confidential. Unauthorized "
            "copying of this file,\n * via any medium, is strictly prohibited.\n */\nint x;\n")
    assert license_class(header_notice(text).expression).value == "non_permissive"


def test_candidates_is_vectorised_over_a_batch() -> None:
    import pyarrow as pa

    texts = [_module("psycopg2", "pool.py"), "print('hi')\n", None]
    assert candidates(pa.array(texts, pa.string())) == [True, False, False]


def test_fmt_optional_exception_keeps_mit() -> None:
    text = _need(TORCH_LICENSES / "fmt" / "LICENSE").read_text()
    finding = detect(text)
    assert finding.expression == "MIT WITH fmt-exception"
    assert license_class(finding.expression).value == "permissive"
    # the same place with a clause that takes rights away stays unknown
    changed = text.replace("without including the above copyright and permission notices",
                           "only for non-commercial purposes and you may not sell it")  # fmt: skip
    assert changed != text
    assert "LicenseRef-unknown" in detect(changed).expression
    assert license_class(detect(changed).expression).value == "unknown"


def test_llvm_exception_on_apache() -> None:
    finding = detect(_need(TORCH_LICENSES / "NVTX" / "LICENSE.txt").read_text())
    assert finding.expression == "Apache-2.0 WITH LLVM-exception"
    assert license_class(finding.expression).value == "permissive"


def test_named_party_in_a_disclaimer_is_template_text() -> None:
    text = _need(ZSTD).read_text()
    assert "RANDOLPH VOORHIES OR SHANE GRANT BE LIABLE" in text
    finding = detect(text)
    assert "LicenseRef-" not in finding.expression
    assert "BSD-3-Clause" in finding.expression
    # a slot holds names, never a restriction
    bad = text.replace("RANDOLPH VOORHIES OR SHANE GRANT", "ANYONE FOR NONCOMMERCIAL USE ONLY")
    assert "LicenseRef-unknown" in detect(bad).expression
