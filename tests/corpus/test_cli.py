"""The CLI as a user meets it: clear one-line errors, readable tables."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.cli.main import app

runner = CliRunner()


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run the real entry point, so error handling in `main` is exercised too."""
    code = "from corpus.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=120,
        env={"CODECORPUS_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = _cli("ingest", str(tmp_path / "nope"), "-d", "x", home=tmp_path)
    assert missing.returncode == 2
    assert "error:" in missing.stdout and "does not exist" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr
    unknown = _cli("versions", "show", "ghost", "v1", home=tmp_path)
    assert unknown.returncode == 2 and "codecorpus ingest" in unknown.stdout
    bad_column = _cli("ingest", str(tmp_path), "-d", "x", "--column", "content", home=tmp_path)
    assert bad_column.returncode == 2 and "ours=theirs" in bad_column.stdout


def test_datasets_on_an_empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path))
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0 and "no datasets yet" in result.stdout


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_ingest_curate_and_list(sample_corpus, tmp_path: Path, monkeypatch) -> None:
    root, _ = sample_corpus
    monkeypatch.setenv("CODECORPUS_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    ingested = runner.invoke(app, ["ingest", str(root), "-d", "ds", "--layout", "repos"])
    assert ingested.exit_code == 0, ingested.stdout
    assert "intake:binary" in ingested.stdout and "Python" in ingested.stdout
    curated = runner.invoke(app, ["curate", "ds", "--version", "v1", "--lookup-index"])
    assert curated.exit_code == 0 and "published ds@v1" in curated.stdout
    assert "indexed ds@v1" in curated.stdout  # --lookup-index: built right after publishing
    looked_up = runner.invoke(app, ["lookup", "ds", "-v", "v1", "--benchmark", "humaneval"])
    assert looked_up.exit_code == 0 and "of 164 items" in looked_up.stdout
    listed = runner.invoke(app, ["datasets"])
    assert "1 version(s)" in listed.stdout and "latest v1" in listed.stdout
    versions = runner.invoke(app, ["versions", "list", "ds"])
    assert "v1" in versions.stdout
    shown = runner.invoke(app, ["versions", "show", "ds", "v1"])
    assert "raw_snapshot_id" in shown.stdout and "total" in shown.stdout
