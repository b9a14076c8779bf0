"""Licenses through ingest and curate on Ray: per-file decisions, opt-outs, version records."""

import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest

from corpus.core.reasons import DropReason
from corpus.licenses.reference import reference_licenses
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.optout import OptOutRegistry
from corpus.store.versions import scan_version

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

SITE = Path(pytest.__file__).resolve().parent.parent


def _real_license(pattern: str) -> str:
    return next(SITE.glob(pattern)).read_text()


def _corpus(root: Path) -> Path:
    """Three real repos: MIT, GPL-vendored subtree with a nested COPYING, and no license."""
    mit = root / "octo" / "cat"
    shutil.copytree(Path(__import__("idna").__file__).parent, mit / "idna")
    (mit / "LICENSE").write_text(_real_license("rich-*.dist-info/licenses/LICENSE"))
    gpl_text = next(r.text for r in reference_licenses() if r.spdx_id == "GPL-3.0-only")
    (mit / "vendor" / "gpl").mkdir(parents=True)
    (mit / "vendor" / "gpl" / "COPYING").write_text(gpl_text)
    (mit / "vendor" / "gpl" / "lib.c").write_text("int f(void) { return 1; }\n")
    (mit / "tool.py").write_text("# SPDX-License-Identifier: Apache-2.0\nprint('x')\n")
    # a real LGPL-3.0-or-later header (psycopg2, the GNU notice with "or (at your option) any
    # later version") on a file inside the MIT repository
    pool = Path(__import__("psycopg2").__file__).parent / "pool.py"
    (mit / "gnu_pool.py").write_text(pool.read_text())
    bare = root / "acme" / "bare"
    bare.mkdir(parents=True)
    (bare / "main.py").write_text("print('hello')\n")
    # no license file anywhere: boto3's sources, whose headers all say Apache-2.0
    shutil.copytree(Path(__import__("boto3").__file__).parent, root / "acme" / "headed" / "boto3",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return root


def test_license_decisions_and_opt_out(tmp_path: Path, catalog) -> None:
    root = _corpus(tmp_path / "src")
    sources = [str(root / "octo"), str(root / "acme")]
    ingest(sources, "ds", catalog, layout=Layout.REPOS)
    v1 = curate("ds", "v1", catalog).version
    rows = {r["path"]: r for r in scan_version(catalog, "ds", v1).to_arrow().to_pylist()}
    assert rows["idna/core.py"]["license"] == "MIT"
    assert rows["idna/core.py"]["license_class"] == "permissive"
    assert rows["idna/core.py"]["license_source"] == "LICENSE"
    assert rows["idna/core.py"]["drop_reason"] is None
    assert rows["vendor/gpl/lib.c"]["license"] == "GPL-3.0-only"  # nested COPYING overrides
    assert rows["vendor/gpl/lib.c"]["drop_reason"] == DropReason.LICENSE_NON_PERMISSIVE
    assert rows["tool.py"]["license"] == "Apache-2.0"  # SPDX header wins for its file
    assert rows["tool.py"]["license_source"] == "spdx-header"
    assert rows["main.py"]["drop_reason"] == DropReason.LICENSE_NO_LICENSE
    # a GNU-headed file in the MIT repository: its header governs it, and is named
    assert rows["gnu_pool.py"]["license"] == "LGPL-3.0-or-later"
    assert rows["gnu_pool.py"]["license_source"] == "header"
    assert rows["gnu_pool.py"]["drop_reason"] == DropReason.LICENSE_NON_PERMISSIVE
    # header-only repository: files with a notice keep theirs, the others take the agreed one
    assert rows["boto3/session.py"]["license_source"] == "header"
    assert rows["boto3/session.py"]["license"] == "Apache-2.0"
    unheaded = rows["boto3/data/s3/2006-03-01/resources-1.json"]
    assert unheaded["license"] == "Apache-2.0"
    assert unheaded["license_source"].startswith("header notices: boto3/")
    assert unheaded["license_class"] == "permissive"
    assert unheaded["drop_reason"] == "language:not_selected"  # JSON: not for its license
    assert v1.lineage["opt_out_revision"] is None
    assert v1.stats["drop_reasons"][DropReason.LICENSE_NO_LICENSE]["files"] == 1

    registry = OptOutRegistry(catalog)
    registry.add("repo", "cat", "author@example.org", "asked by e-mail")
    v2 = curate("ds", "v2", catalog).version
    kept = scan_version(catalog, "ds", v2, "files").to_arrow()
    assert set(kept["repo"].to_pylist()) == {"headed"}  # all of cat's files are gone
    decisions = scan_version(catalog, "ds", v2).to_arrow()
    opted = decisions.filter(pc.equal(decisions["drop_reason"], DropReason.GOVERNANCE_OPT_OUT))
    assert set(opted["repo"].to_pylist()) == {"cat"}
    assert v2.lineage["opt_out_revision"] == registry.snapshot().revision
    # re-ingesting the opted-out repository with new files does not bring it back
    (root / "octo" / "cat" / "new.py").write_text("print('new')\n")
    ingest(sources, "ds", catalog, layout=Layout.REPOS)
    v3 = curate("ds", "v3", catalog).version
    v3_files = scan_version(catalog, "ds", v3, "files").to_arrow()
    assert "cat" not in set(v3_files["repo"].to_pylist())
    # v1 stays as it was published
    assert scan_version(catalog, "ds", v1, "files").to_arrow().num_rows > 0


def test_licenses_command_shows_the_distribution(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from corpus.cli.main import app
    from corpus.core.settings import Settings
    from corpus.store.catalog import Catalog

    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    root = _corpus(tmp_path / "src")
    catalog = Catalog(Settings(home=tmp_path / "home"))
    ingest([str(root / "octo"), str(root / "acme")], "ds", catalog, layout=Layout.REPOS)
    curate("ds", "v1", catalog)
    result = CliRunner().invoke(app, ["licenses", "ds"])
    assert result.exit_code == 0, result.stdout
    for expected in ("MIT", "GPL-3.0-only", "non_permissive", "no_license", "Apache-2.0"):
        assert expected in result.stdout
