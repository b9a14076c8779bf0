"""License commands as a user runs them."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.cli.main import app

runner = CliRunner()
SITE = Path(pytest.__file__).resolve().parent.parent


def test_license_check_explains_a_real_package(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    repo = tmp_path / "packaging-copy"
    repo.mkdir()
    for dist_info in SITE.glob("packaging-*.dist-info"):
        target = repo / dist_info.name
        target.mkdir()
        for path in dist_info.rglob("*"):
            if path.is_file():
                dest = target / path.relative_to(dist_info)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(path.read_bytes())
    (repo / "main.py").write_text("import packaging\n")
    result = runner.invoke(app, ["license-check", str(repo)])
    assert result.exit_code == 0, result.stdout
    assert "Apache-2.0 OR BSD-2-Clause" in result.stdout  # manifest says how the texts combine
    assert "LICENSE.APACHE" in result.stdout and "permissive" in result.stdout


def test_optout_commands(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")
    added = runner.invoke(app, ["optout", "add", "octo", "--kind", "owner", "--by", "ann"])
    assert added.exit_code == 0 and "opt-out" in added.stdout
    entry = added.stdout.split()[1]
    listed = runner.invoke(app, ["optout", "list"])
    assert "octo" in listed.stdout and "ann" in listed.stdout
    assert runner.invoke(app, ["optout", "remove", entry]).exit_code == 0
    assert "octo" not in runner.invoke(app, ["optout", "list"]).stdout
    assert "octo" in runner.invoke(app, ["optout", "list", "--all"]).stdout
    bad = runner.invoke(app, ["optout", "add", "x", "--kind", "planet", "--by", "ann"])
    assert bad.exit_code != 0


def test_license_check_shows_evidence_rule_and_conflict(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    repo = tmp_path / "crypto-copy"
    repo.mkdir()
    licenses = next(SITE.glob("cryptography-*.dist-info/licenses"))
    for name in ("LICENSE", "LICENSE.APACHE", "LICENSE.BSD"):
        (repo / name).write_bytes((licenses / name).read_bytes())
    (repo / "Cargo.toml").write_text('[package]\nname = "x"\nlicense = "GPL-3.0-only"\n')
    (repo / "lib.c").write_text("/* SPDX-License-Identifier: MIT */\nint x;\n")
    (repo / "main.py").write_text("print(1)\n")
    out = runner.invoke(app, ["license-check", str(repo)])
    assert out.exit_code == 0, out.stdout
    for shown in ("LICENSE.APACHE", "LICENSE.BSD", "Cargo.toml", "header", "lib.c",
                  "LicenseRef-file-license.apache OR LicenseRef-file-license.bsd"):
        assert shown in out.stdout, shown
    # the notice takes the two files as alternatives; the manifest contradicts them
    assert "license files state Apache-2.0 OR BSD-3-Clause; Cargo.toml declares GPL-3.0-only" \
        in out.stdout
    assert "stricter is kept" in out.stdout and "non_permissive" in out.stdout
