"""Evidence that names several licenses: incorporated texts, choice notices, manifests that
explain (or contradict) a license file. Real texts: the SPDX list, Debian's common-licenses
and copyright files, and license files of packages installed in this environment."""

from pathlib import Path

import pytest

from corpus.core.license_class import LicenseClass, license_class
from corpus.licenses.detect import UNEXPLAINED, detect
from corpus.licenses.evidence import analyse
from corpus.licenses.precedence import RULE_COMBINES, RULE_CONFLICT, RULE_EXPLAINS, combine
from corpus.licenses.reference import reference_licenses

SITE = Path(pytest.__file__).resolve().parent.parent
COMMON = Path("/usr/share/common-licenses")
DEBIAN_DOC = Path("/usr/share/doc")


def _spdx(spdx_id: str) -> str:
    return next(r.text for r in reference_licenses() if r.spdx_id == spdx_id)


def _real(pattern: str) -> Path:
    found = sorted(SITE.glob(pattern))
    assert found, f"{pattern} is not installed in this environment"
    return found[0]


def _debian(name: str) -> str:
    path = COMMON / name if (COMMON / name).exists() else DEBIAN_DOC / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path.read_text(errors="replace")


def _window(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i : text.index(end, i) + len(end)]


def _rows(folder: Path, names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        path = folder / name
        found = analyse(name, path.read_text(errors="replace"))
        assert found is not None, name
        rows.append({"path": name, "kind": found.kind.value, "expression": found.expression,
                     "score": found.score})  # fmt: skip
    return rows


# 1. one license's text with references to (or the whole text of) another is that license


@pytest.mark.parametrize("spdx_id", ["LGPL-3.0-only", "LGPL-3.0-or-later"])
def test_spdx_lgpl3_texts_give_one_license(spdx_id: str) -> None:
    # the SPDX text is the LGPL's permissions followed by the whole GPL-3.0
    assert detect(_spdx(spdx_id)).expression == "LGPL-3.0-only"  # identical texts, one id


def test_lgpl3_permissions_alone_give_one_license() -> None:
    # what COPYING.LESSER holds: the additional permissions, naming GPL-3.0 throughout;
    # read as LGPL-3.0-only AND LGPL-2.1-only AND GPL-2.0-only before
    assert detect(_debian("LGPL-3")).expression == "LGPL-3.0-only"
    vendored = _real("setuptools/_vendor/autocommand-*.dist-info/LICENSE")
    assert detect(vendored.read_text()).expression == "LGPL-3.0-only"
    both = _debian("LGPL-3") + "\n\n" + _debian("GPL-3")
    assert detect(both).expression == "LGPL-3.0-only"


def test_gpl3_file_beside_lgpl3_file_is_part_of_it(tmp_path: Path) -> None:
    (tmp_path / "COPYING").write_text(_debian("GPL-3"))
    (tmp_path / "COPYING.LESSER").write_text(_debian("LGPL-3"))
    assert combine(_rows(tmp_path, ["COPYING", "COPYING.LESSER"])).expression == "LGPL-3.0-only"
    # a GPL-3.0 file alone stays GPL-3.0
    assert combine(_rows(tmp_path, ["COPYING"])).expression == "GPL-3.0-only"


# 2. choice notices give OR


def test_real_dual_license_notices_give_or() -> None:
    numpy_random = detect(_real("numpy/random/LICENSE.md").read_text())  # "dual-licensed ... and"
    assert numpy_random.expression == "NCSA OR BSD-3-Clause"
    highway = detect(_real("numpy-*.dist-info/licenses/numpy/_core/src/highway/LICENSE")
                     .read_text())  # "your choice of either ... or", plus other files' terms
    assert "(Apache-2.0 OR BSD-3-Clause)" in highway.expression
    diffutils = _window(_debian("diffutils/copyright"), "It is dual-licensed", 'GPLv2+".')
    assert detect(diffutils).expression == "LGPL-3.0-or-later OR GPL-2.0-or-later"
    cairo = _window(_debian("libcairo2/copyright"), "Every source file", "the LGPL or the MPL.")
    assert detect(cairo).expression == "LGPL-2.1-only OR MPL-1.1"  # "under either ... or"
    libev = _window(_debian("krb5-locales/copyright"), "All files in libev are",
                    "under either the BSD or the GPL.")  # BSD text; "Alternatively, ... GPL"
    assert detect(libev).expression == "BSD-2-Clause OR GPL-2.0-or-later"


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        ("Licensed under either of Apache License, Version 2.0 (LICENSE-APACHE or "
         "http://www.apache.org/licenses/LICENSE-2.0) or MIT license (LICENSE-MIT or "
         "http://opensource.org/licenses/MIT) at your option.", "Apache-2.0 OR MIT"),
        ("Dual licensed under the MIT or GPL Version 2 licenses.", "MIT OR GPL-2.0-only"),
        ("This program is free software; you can redistribute it under the terms of the GNU "
         "General Public License version 2.\nAlternatively, this software may be distributed "
         "under the terms of the BSD license.", "GPL-2.0-only OR BSD-3-Clause"),
        ("You may use this library under your choice of the MIT License or the ISC License.",
         "MIT OR ISC"),
    ],
)  # fmt: skip
def test_common_notice_forms_give_or(notice: str, expected: str) -> None:
    finding = detect(notice)
    assert finding.expression == expected
    assert license_class(finding.expression) == LicenseClass.PERMISSIVE or "GPL" in expected


def test_notice_naming_license_files_takes_their_expressions(tmp_path: Path) -> None:
    for package, bsd in (("cryptography", "BSD-3-Clause"), ("packaging", "BSD-2-Clause")):
        folder = _real(f"{package}-*.dist-info/licenses")
        notice = detect((folder / "LICENSE").read_text())
        assert notice.expression == "LicenseRef-file-license.apache OR LicenseRef-file-license.bsd"
        assert license_class(notice.expression) == LicenseClass.UNKNOWN  # alone: unresolved
        rows = _rows(folder, ["LICENSE", "LICENSE.APACHE", "LICENSE.BSD"])
        assert combine(rows).expression == f"Apache-2.0 OR {bsd}"


def test_choices_that_are_not_notices_or_that_restrict() -> None:
    # MPL-2.0's definition of "Secondary License" says "either": it is MPL-2.0's own text
    assert detect(_spdx("MPL-2.0")).expression == "MPL-2.0"
    # the GPL's version choice decides -or-later, not a second license
    assert detect(_debian("GPL-2")).expression == "GPL-2.0-only"
    restricted = detect("Dual licensed under the MIT license or the Apache License, Version 2.0,"
                        " for non-commercial use only.")  # fmt: skip
    assert restricted.expression == "(MIT OR Apache-2.0) AND LicenseRef-unknown"
    assert license_class(restricted.expression) == LicenseClass.UNKNOWN


# 3. manifests: combine, explain, or conflict


def test_manifest_explains_a_partly_unknown_file() -> None:
    # greenlet: MIT plus "the following files are derived from Stackless Python and are
    # subject to the same license", LICENSE.PSF beside it, METADATA: MIT AND PSF-2.0
    folder = _real("greenlet-*.dist-info")
    license_file = detect((folder / "licenses/LICENSE").read_text())
    assert license_file.expression == f"MIT AND {UNEXPLAINED}"
    rows = _rows(folder / "licenses", ["LICENSE", "LICENSE.PSF"])
    assert license_class(combine(rows).expression) == LicenseClass.UNKNOWN  # files alone
    metadata = analyse("METADATA", (folder / "METADATA").read_text())
    rows.append({"path": "METADATA", "kind": metadata.kind.value,
                 "expression": metadata.expression, "score": metadata.score})  # fmt: skip
    resolved = combine(rows)
    assert resolved.expression == "MIT AND PSF-2.0"
    assert resolved.rule == RULE_EXPLAINS
    assert "LICENSE" in resolved.source and "METADATA" in resolved.source  # both recorded
    assert resolved.conflict is None


def _with_manifest(text: str, manifest: str) -> list[dict]:
    found = analyse("LICENSE", text)
    return [{"path": "LICENSE", "kind": "license_file", "expression": found.expression,
             "score": found.score},
            {"path": "Cargo.toml", "kind": "manifest", "expression": manifest, "score": 0.5}]


def test_conflicting_manifest_is_recorded_and_the_stricter_kept() -> None:
    mit = _real("rich-*.dist-info/licenses/LICENSE").read_text()
    gpl = combine(_with_manifest(mit, "GPL-3.0-only"))
    assert gpl.rule == RULE_CONFLICT and "GPL-3.0-only" in gpl.conflict and "MIT" in gpl.conflict
    assert license_class(gpl.expression) == LicenseClass.NON_PERMISSIVE
    other = combine(_with_manifest(mit, "Apache-2.0"))  # both permissive: the files' text
    assert other.rule == RULE_CONFLICT and other.expression == "MIT"
    # a restriction no license explains is never explained away by a manifest
    modified = mit + "\nThe Software may not be used for military purposes.\n"
    kept = combine(_with_manifest(modified, "MIT"))
    assert kept.rule == RULE_CONFLICT
    assert license_class(kept.expression) == LicenseClass.UNKNOWN
    same = combine(_with_manifest(mit, "MIT"))
    assert same.expression == "MIT" and same.rule == RULE_COMBINES and same.conflict is None
