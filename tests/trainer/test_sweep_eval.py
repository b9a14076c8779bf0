"""A sweep trial that records bits per byte and pass@k (run in-process, as a Ray worker
would run it), and the sweep config's `evaluate` section."""

import json
from dataclasses import replace

import pytest

from corpus.core.errors import ConfigError
from trainer.sweep import run_trial, trial_train_config
from trainer.sweep_config import SweepConfig
from trainer.sweep_grid import Trial

TRAIN = {"micro_batch": 8, "seq_len": 64, "lr": 3e-3, "eval_windows": 4,
         "schedule": {"warmup_steps": 1}}  # fmt: skip


def _config(**evaluate) -> SweepConfig:
    return SweepConfig.from_dict({"models": ["tiny"], "epochs": [1], "train": TRAIN,
                                  "evaluate": evaluate})  # fmt: skip


def test_a_trial_records_bits_per_byte_and_pass_at_k(tiny_run, tmp_path):
    config = _config(bits_per_byte=True, humaneval_samples=2, humaneval_k=[1, 2],
                     humaneval_problems=2, max_new_tokens=16)  # fmt: skip
    spec = tiny_run.spec
    trial = Trial("t0", "tiny", 0, 8 * 65 * 6, 10**6, 1.0, 0.0, {})
    spec = replace(spec, tokens=trial.tokens)
    folder = tmp_path / "trials" / "t0"
    train_config = trial_train_config(config, trial, 600, folder)
    assert train_config.run_dir == folder and not train_config.resume
    row = run_trial(trial, spec, train_config, tiny_run.validation, folder, 0,
                    config.evaluate, tiny_run.tokenizer_bytes)  # fmt: skip
    evals = row["evals"]
    assert sorted(evals["bits_per_byte_by_language"]) == ["C", "Python"]
    assert 0 < evals["bits_per_byte"] < 16 and 0 < evals["humaneval_bits_per_byte"] < 16
    assert evals["pass@1"] == 0.0 and evals["pass@2"] == 0.0  # a 6-step model passes nothing
    assert not (folder / "checkpoints").exists()  # written for the evaluation, then removed
    recorded = json.loads((folder / "eval" / "humaneval.json").read_text())
    assert recorded["problems"] == 2 and recorded["samples"] == 2
    assert len((folder / "eval" / "humaneval_samples.jsonl").read_text().splitlines()) == 4


def test_trials_without_evaluate_record_none(tiny_run, tmp_path):
    config = _config()
    trial = Trial("t1", "tiny", 0, 8 * 65 * 2, 10**6, 1.0, 0.0, {})
    train_config = trial_train_config(config, trial, 600, tmp_path)
    assert train_config.run_dir is None
    row = run_trial(trial, replace(tiny_run.spec, tokens=trial.tokens), train_config,
                    tiny_run.validation, tmp_path, 0, config.evaluate)  # fmt: skip
    assert row["evals"] == {}


def test_evaluate_settings_are_checked():
    with pytest.raises(ConfigError, match="humaneval_samples >= 10"):
        _config(humaneval_samples=2, humaneval_k=[1, 10])
    with pytest.raises(ConfigError, match="unknown field"):
        _config(pass_at=3)
    assert _config(bits_per_byte=True).evaluate.enabled and not _config().evaluate.enabled
