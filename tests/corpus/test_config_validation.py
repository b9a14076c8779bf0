"""Curation configs are validated as typed data: every bad field is named in one ConfigError,
in Python, in the CLI (one line, exit 2, no traceback) and in `codecorpus config schema`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corpus.cli.main import main
from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from dedup.config import DedupConfig
from tests.corpus.bad_configs import BAD_CONFIGS

CASES = [pytest.param(config, wants, id=why) for why, config, wants in BAD_CONFIGS]


def _main(monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> tuple[int, str]:
    """The real entry point in this process (its error handling included)."""
    monkeypatch.setattr(sys, "argv", ["codecorpus", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@pytest.mark.parametrize(("config", "wants"), CASES)
def test_python_api_names_the_bad_field(config: dict, wants: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as error:
        CurationConfig.from_dict(config)
    message = str(error.value)
    assert all(want in message for want in wants), message
    assert "\n" not in message


@pytest.mark.parametrize(("config", "wants"), CASES)
def test_cli_prints_one_error_line(
    config: dict, wants: tuple[str, ...], tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    code, out = _main(monkeypatch, capsys, "config", "check", str(path))
    assert code == 2
    (line,) = out.strip().splitlines()
    assert line.startswith("error: invalid config") and "Traceback" not in out
    assert all(want in line for want in wants), line


def test_curate_with_a_bad_config_fails_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("dedup:\n  exact: 'no'\n  threshold: '0.7'\n")
    done = subprocess.run(
        [sys.executable, "-c", "from corpus.cli.main import main; main()",
         "curate", "ds", "-v", "v1", "--config", str(path)],
        capture_output=True, text=True, timeout=120,
        env={"CODECORPUS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "COLUMNS": "60"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        "error: invalid config (2 problems): dedup.exact must be true or false, got 'no'; "
        "dedup.threshold must be a number, got '0.7'"
    ]
    assert "Traceback" not in done.stderr


def test_types_are_strict_but_yaml_numbers_and_lists_load(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(
        "dedup: {threshold: 0.8, exact: false}\n"
        "heuristics: {languages: [Python], thresholds: {mean_line_length: 120}}\n"
        "tokenizer: {character_coverage: 1}\n"  # an integer where a number belongs: fine
    )
    config = CurationConfig.from_file(path)
    assert config.dedup.exact is False and config.dedup.threshold == 0.8
    assert config.heuristics.languages == ("Python",)
    # as written, not coerced: 120 stays an int, so stored fingerprints do not move
    assert type(config.heuristics.thresholds.mean_line_length) is int
    assert config.tokenizer.character_coverage == 1
    assert CurationConfig.from_dict(config.to_dict()) == config


def test_a_section_alone_names_its_fields_as_in_the_curation_config() -> None:
    with pytest.raises(ConfigError, match=r"^invalid dedup config \(1 problem\): dedup\.seed"):
        DedupConfig.from_dict({"seed": "42"})
    assert DedupConfig.from_dict({"threshold": 0.5}) == DedupConfig(threshold=0.5)


def test_config_check_prints_the_fingerprint(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "good.yaml"
    path.write_text("heuristics: {preset: starcoder2}\n")
    code, out = _main(monkeypatch, capsys, "config", "check", str(path))
    assert code == 0
    assert out.strip().endswith(CurationConfig.from_file(path).fingerprint())


def test_config_schema_describes_every_section(monkeypatch, capsys) -> None:
    code, out = _main(monkeypatch, capsys, "config", "schema")
    assert code == 0
    schema = json.loads(out)
    assert set(schema["properties"]) == {
        "intake", "licenses", "heuristics", "decontam", "pii", "dedup", "tokenizer", "shards",
        "holdout",
    }  # fmt: skip
    assert schema["additionalProperties"] is False
    dedup = schema["$defs"]["DedupConfig"]
    assert dedup["properties"]["exact"]["type"] == "boolean"
    assert dedup["properties"]["threshold"]["type"] == "number"
    assert "Jaccard similarity" in dedup["properties"]["threshold"]["description"]
    assert "bands" not in dedup["properties"]  # derived fields are not settable
    thresholds = schema["$defs"]["Thresholds"]["properties"]["max_line_length"]
    assert {"type": "null"} in thresholds["anyOf"]
    assert "resolved" not in schema["$defs"]["HeuristicsConfig"]["properties"]


def test_runner_and_trainer_configs_share_the_validation() -> None:
    from corpus.core.cluster import RunnerConfig
    from trainer.sweep_config import SweepConfig
    from trainer.train_config import TrainConfig

    assert RunnerConfig.from_dict({"partitions": 4}) == RunnerConfig(partitions=4)
    with pytest.raises(ConfigError, match=r"runner\.workers must be an integer, got '4'"):
        RunnerConfig.from_dict({"workers": "4"})
    with pytest.raises(TypeError, match="no fingerprint"):
        RunnerConfig().fingerprint()
    with pytest.raises(ConfigError, match=r"train\.optimizer must be one of \['adamw', 'lionw'\]"):
        TrainConfig.from_dict({"optimizer": "sgd"})
    with pytest.raises(ConfigError, match=r"train\.schedule\.name must be one of"):
        TrainConfig.from_dict({"schedule": {"name": "linear"}})
    with pytest.raises(ConfigError, match=r"sweep needs field\(s\) \['models'\]"):
        SweepConfig.from_dict({"epochs": [1]})
