"""Ablation configs refuse bad fields with one ConfigError naming them; the report's call
never turns seed noise into a win (hand-made rows, no training)."""

import re

import pytest

from corpus.core.errors import ConfigError
from corpus.pipeline.ablation import arm_curation, check_curations
from trainer.ablation_config import AblationConfig
from trainer.ablation_report import SAME, format_table, summarize

ARMS = {"raw": {"curation": {"dedup": {"exact": False, "near": False}}}, "full": {}}


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"arms": {"raw": {}}}, "at least two arms"),
        ({"arms": {"Raw Arm": {}, "full": {}}}, "arm name 'Raw Arm'"),
        ({"arms": {**ARMS, "x": {"epochs": 0.5}}}, "arms.x.epochs"),
        ({"arms": {**ARMS, "x": {"holdout": {}}}}, "'holdout'] in ablation arms.x"),
        ({"arms": {**ARMS, "x": {"curaton": {}}}}, "arms.x; known: ['curation'"),
        ({"arms": {**ARMS, "x": {"curation": {"holdout": {"fraction": 0.2}}}}}, "holdout"),
        ({"seeds": [3]}, "seeds"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"baseline": "near"}, "baseline 'near'"),
        ({"model": "huge"}, "model 'huge'"),
        ({"tokens": 0}, "tokens"),
        ({"holdout": {"fraction": 0}}, "holdout.fraction"),
        ({"holdout": {"fraction": 0.1, "side": "train"}}, "holdout.side"),
        ({"train": {"seed": 3}}, "seed"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"evaluate": {"humaneval_k": [0]}}, "humaneval_k"),
        ({"alpha": 0.9}, "alpha"),
        ({"epochs": 2}, "epochs"),
    ],
)
def test_bad_ablation_configs_name_the_field(change: dict, names: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(names)):
        AblationConfig.from_dict({"arms": ARMS, **change})


def test_bad_arm_curation_names_the_arm() -> None:
    config = AblationConfig.from_dict(
        {"arms": {**ARMS, "near": {"curation": {"dedup": {"threshold": 7}}}}}
    )
    with pytest.raises(ConfigError, match=r"arms\.near\.curation.*dedup\.threshold"):
        check_curations(config)
    bad_shared = AblationConfig.from_dict({"arms": ARMS, "curation": {"dedupe": {}}})
    with pytest.raises(ConfigError, match=r"ablation curation.*dedupe"):
        check_curations(bad_shared)


def test_arm_curations_share_the_holdout_and_tokenizer() -> None:
    config = AblationConfig.from_dict({"arms": ARMS, "holdout": {"fraction": 0.2, "seed": 5}})
    raw = arm_curation(config, "raw", "ab" * 32)
    held = arm_curation(config, None, "ab" * 32)
    assert (raw.holdout.fraction, raw.holdout.seed, raw.holdout.side) == (0.2, 5, "train")
    assert held.holdout.side == "heldout" and held.shards.validation_fraction == 0.0
    assert raw.shards.tokenizer == held.shards.tokenizer == "ab" * 32
    assert not raw.dedup.near and held.dedup.near  # the held-out set: the full standard
    assert raw.fingerprint() != arm_curation(config, "full", "ab" * 32).fingerprint()


def _rows(values: list[float], seeds: list[int]) -> list[dict]:
    return [{"val_loss": v, "evals": {"bits_per_byte": v / 2}, "seed": s, "tokens": 1000,
             "planned_epochs": 1.0} for v, s in zip(values, seeds, strict=True)]  # fmt: skip


def test_call_needs_separated_ranges_and_a_paired_test() -> None:
    rows = {
        "base": _rows([2.00, 2.10], [0, 1]),
        "noise": _rows([2.05, 2.02], [0, 1]),  # inside the baseline's range
        "apart": _rows([2.30, 2.15], [0, 1]),  # ranges apart, pairs disagree: t = 1.4 < 12.7
        "worse": _rows([2.50, 2.60], [0, 1]),  # every pair +0.5: no noise in the difference
        "better": _rows([1.50, 1.61], [0, 1]),
    }
    report = summarize(rows, "base")
    assert report.call("noise", "val_loss") == SAME
    assert report.call("apart", "val_loss") == SAME
    assert report.call("worse", "val_loss") == "worse"
    assert report.call("better", "bits_per_byte") == "better"
    assert report.arms["base"]["val_loss"].call is None
    assert report.arms["worse"]["val_loss"].diff == pytest.approx(0.5)
    assert "worse" in format_table(report)


def test_baseline_without_trials_is_refused() -> None:
    with pytest.raises(ValueError, match="baseline"):
        summarize({"base": [], "x": _rows([1.0, 1.1], [0, 1])}, "base")


def test_cli_refuses_a_bad_config_before_anything_runs(tmp_path) -> None:
    from typer.testing import CliRunner

    from corpus.cli.main import app

    path = tmp_path / "ablate.yaml"
    path.write_text("arms: {raw: {}, full: {epochs: 0.5}}\nseeds: [0, 1]\n")
    result = CliRunner().invoke(app, ["ablate", "ds", "--config", str(path), "--out",
                                      str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code != 0  # main() prints a ConfigError as one line
    assert isinstance(result.exception, ConfigError)
    assert "arms.full.epochs must be >= 1" in str(result.exception)
    assert not (tmp_path / "out").exists()
