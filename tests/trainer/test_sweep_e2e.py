"""A tiny sweep end to end on CPU: a real curated version of the sample corpus, a stored
mixture, `codecorpus sweep` training each trial in its own Ray worker, then the table, the fit
and the PNG; a rerun trains nothing."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from corpus.cli.main import app
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import Catalog
from corpus.store.mixtures import create_mixture, unique_tokens
from tokenizer.shards import ShardReader

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]
pytest.importorskip("deepspeed", reason="training needs the [train] extra")
pytest.importorskip("matplotlib", reason="the sweep's figure needs the [train] extra")

# Files over 8 KiB are left out at intake: documents stay short, so document-sized unique-token
# subsets land close to their budgets.
CURATION = {
    "intake": {"max_file_bytes": 8192},
    "tokenizer": {"vocab_size": 2000},
    "shards": {"validation_fraction": 0.2},
}
SWEEP = """
models: [tiny]
epochs: [1, 2, 4]
tokens: [{big}, {small}]
seed: 1
train: {{micro_batch: 16, seq_len: 64, lr: 0.003, eval_windows: 16}}
"""


@pytest.fixture(scope="module")
def version(sample_corpus, tmp_path_factory):
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("sweep") / "home"))
    config = CurationConfig.from_dict(CURATION)
    ingest([str(root)], "ds", catalog, config, layout=Layout.REPOS)
    curate("ds", "v1", catalog, config)
    unique = unique_tokens(catalog, "ds", "v1")["Python"]
    mixture = create_mixture(catalog, "ds", "v1", {"Python": 1.0}, token_budget=unique)
    return catalog, mixture


def test_tiny_sweep_end_to_end(version, tmp_path) -> None:
    catalog, mixture = version
    available = mixture.components[0].unique_tokens
    big = 25 * 16 * 65  # 25 steps of 16 windows of 65 tokens
    assert available > big, "the sample corpus should hold more Python tokens than a trial"
    config = tmp_path / "sweep.yaml"
    config.write_text(SWEEP.format(big=big, small=big // 2))
    out = tmp_path / "out"
    env = {"CODECORPUS_HOME": str(catalog.settings.home), "COLUMNS": "200"}
    args = ["sweep", "ds", "-v", "v1", "-m", mixture.id, "--config", str(config), "--out", str(out)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    text = result.output
    assert "running 6 trial(s)" in text and "[6/6]" in text
    assert "sweep results" in text and "R_D* =" in text and "loss_vs_epochs.png" in text

    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert len(rows) == 6 and len({r["trial_id"] for r in rows}) == 6
    longest = max(
        int(ShardReader(s["prefix"]).sequence_lengths.max()) for s in mixture.components[0].shards
    )
    for row in rows:
        assert row["model"] == "tiny" and row["steps"] in (12, 25)
        # D: whole global batches of the planned tokens (the loader drops the tail).
        assert row["tokens"] == row["steps"] * 16 * 64
        assert row["planned_tokens"] - row["tokens"] < 16 * 65 + 16 * 65
        # U: whole documents, at least the budget and less than one document over it.
        assert row["planned_unique"] <= row["unique_tokens"] < row["planned_unique"] + longest
        assert row["epochs"] == pytest.approx(row["tokens"] / row["unique_tokens"])
        assert 2.0 < row["val_loss"] < np.log(2000) + 1
        assert json.loads(row["val_loss_by_language"]) == {"Python": row["val_loss"]}
        assert row["tokens_per_s"] > 0 and row["wall_s"] > 0
    by_planned = {(r["planned_tokens"], r["planned_epochs"]): r for r in rows}
    assert sorted(by_planned) == sorted((d, e) for d in (big, big // 2) for e in (1.0, 2.0, 4.0))
    # More repetition of fewer unique tokens, same D: the unique subsets shrink.
    for tokens in (big, big // 2):
        uniques = [by_planned[(tokens, e)]["unique_tokens"] for e in (1.0, 2.0, 4.0)]
        assert uniques == sorted(uniques, reverse=True)

    fit = json.loads((out / "fit.json").read_text())
    assert fit["runs"] == 6 and fit["skipped"] is None
    assert "rd_star" in fit["free"] and fit["law"]["rd_star"] > 0
    assert np.isfinite(fit["rmse_fit"]) and np.isfinite(fit["rmse_paper"])
    from PIL import Image  # matplotlib's dependency

    png = out / "loss_vs_epochs.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.size == (1200, 600)
    assert (out / "results.csv").exists()
    assert all((out / "trials" / r["trial_id"] / "trial.json").exists() for r in rows)

    # A rerun trains nothing: every trial is in the table.
    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert again.output.count("already in the table") == 6 and "running" not in again.output
    assert pq.read_table(out / "results.parquet").to_pylist() == rows


def test_bad_grids_fail_before_training(version, tmp_path) -> None:
    catalog, mixture = version
    available = mixture.components[0].unique_tokens
    env = {"CODECORPUS_HOME": str(catalog.settings.home)}
    config = tmp_path / "sweep.yaml"
    base = ["sweep", "ds", "-v", "v1", "-m", mixture.id, "--config", str(config)]
    cases = [
        (f"models: [tiny]\nepochs: [1]\ntokens: [{2 * available}]\n", "exceeds the mixture"),
        ("models: [tiny]\nepochs: [0]\n", "epochs must be >= 1"),
        ("models: [giant]\nepochs: [1]\n", "unknown model size"),
        ("models: [tiny]\nepochs: [2]\ntrain: {lr: -1}\n", "lr must be"),
    ]
    for yaml_text, message in cases:
        config.write_text(yaml_text)
        result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "out")], env=env)
        assert result.exit_code != 0 and message in str(result.exception), (yaml_text, result)
    assert not (tmp_path / "out" / "results.parquet").exists()
    config.write_text("models: [tiny]\nepochs: [2]\n")
    wrong = CliRunner().invoke(
        app, ["sweep", "ds", "-v", "v2", *base[4:], "--out", str(tmp_path / "o")], env=env
    )
    assert wrong.exit_code != 0 and "not ds@v2" in str(wrong.exception)


def test_failed_trials_are_reported_and_left_to_a_rerun(version, tmp_path) -> None:
    catalog, mixture = version
    config = tmp_path / "sweep.yaml"
    config.write_text("models: [tiny]\nepochs: [1, 2]\ntokens: [4000]\n")
    empty = tmp_path / "pulled"  # --shard-root where no shard was pulled
    empty.mkdir()
    args = ["sweep", "ds", "-v", "v1", "-m", mixture.id, "--config", str(config),
            "--out", str(tmp_path / "out"), "--shard-root", str(empty)]  # fmt: skip
    env = {"CODECORPUS_HOME": str(catalog.settings.home), "COLUMNS": "200"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code != 0
    assert result.output.count("failed MissingShardError") == 2
    assert "2 trial(s) failed" in str(result.exception) and "rerun" in str(result.exception)
    assert "fit skipped" in result.output
    assert not (tmp_path / "out" / "results.parquet").exists()
    assert json.loads((tmp_path / "out" / "fit.json").read_text())["runs"] == 0
