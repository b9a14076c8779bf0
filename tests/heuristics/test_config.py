"""The heuristics config: YAML, presets resolved, per-language thresholds, stable fingerprints."""

from pathlib import Path

import pytest

from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from heuristics.config import HeuristicsConfig
from heuristics.limits import Limits

YAML = """
heuristics:
  preset: starcoder2
  languages: [Python, Markdown, JSON]
  add_rules: [comments]
  skip_rules: [linguist_generated]
  thresholds:
    max_line_length: 2000
  by_language:
    Markdown: {max_line_length: 5000}
    Python: {min_comment_fraction: null}
  by_extension:
    .PYI: {mean_line_length: null}
  strip:
    max_inline_chars: 4000
"""


def load(tmp_path: Path, text: str, name: str = "c.yaml") -> CurationConfig:
    path = tmp_path / name
    path.write_text(text)
    return CurationConfig.from_file(path)


def test_yaml_resolves_preset_and_overrides(tmp_path: Path) -> None:
    heuristics = load(tmp_path, YAML).heuristics
    assert heuristics.thresholds.max_line_length == 2000
    assert heuristics.strip.max_inline_chars == 4000
    assert heuristics.languages == ("JSON", "Markdown", "Python")
    rules = heuristics.resolved.rules
    assert "comments" in rules and "linguist_generated" not in rules and "encoded_data" in rules
    assert rules == tuple(sorted(rules, key=list(rules).index))  # canonical order
    markdown = heuristics.resolved.by_language["Markdown"]
    assert markdown == {"max_line_length": 5000, "mean_line_length": None}  # ours over preset
    assert heuristics.resolved.by_extension == {"pyi": {"mean_line_length": None}}


def test_threshold_precedence_extension_then_language_then_default(tmp_path: Path) -> None:
    limits = Limits(load(tmp_path, YAML).heuristics)
    assert limits.for_file("Python", "a/b.py")["max_line_length"] == 2000
    assert limits.for_file("Markdown", "README.md")["max_line_length"] == 5000
    assert limits.for_file("Python", "stubs/x.PYI")["mean_line_length"] is None
    assert limits.for_file("Python", "x.py")["mean_line_length"] == 100
    assert limits.for_file("Python", "x.py")["min_comment_fraction"] is None


def test_fingerprint_is_stable_and_covers_thresholds(tmp_path: Path) -> None:
    one = load(tmp_path, YAML, "a.yaml")
    body = YAML.split("heuristics:\n", 1)[1]
    sections = body.split("\n  strip:\n")
    moved = "heuristics:\n  strip:\n" + sections[1] + sections[0]  # same settings, new order
    assert load(tmp_path, moved, "b.yaml").heuristics == one.heuristics
    assert load(tmp_path, moved, "b.yaml").fingerprint() == one.fingerprint()
    changed = load(tmp_path, YAML.replace("5000}", "5001}"), "c.yaml")
    assert changed.fingerprint() != one.fingerprint()
    codex = CurationConfig.from_dict({"heuristics": {"preset": "codex"}})
    assert codex.fingerprint() != CurationConfig().fingerprint()
    # workers rebuild the config from to_dict(): same settings, same print, same policy
    again = CurationConfig.from_dict(one.to_dict())
    assert again.fingerprint() == one.fingerprint()
    assert again.heuristics.resolved == one.heuristics.resolved


def test_preset_change_re_resolves() -> None:
    from dataclasses import replace

    starcoder2 = HeuristicsConfig(preset="starcoder2")
    codex = replace(starcoder2, preset="codex")
    assert "encoded_data" in starcoder2.resolved.rules
    assert "encoded_data" not in codex.resolved.rules and codex.resolved.by_language == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"preset": "gpt"}, "heuristics.preset 'gpt' is unknown"),
        ({"add_rules": ["long_lines"]}, "unknown name(s) ['long_lines']"),
        ({"formatters": ["pdf"]}, "heuristics.formatters: unknown name(s) ['pdf']"),
        (
            {"thresholds": {"max_line": 5}},
            "unknown field(s) ['max_line'] in 'heuristics.thresholds'",
        ),
        ({"by_language": {"Go": {"max_line": 5}}}, "unknown threshold(s) ['max_line']"),
        ({"thresholds": {"max_lines": "1e5"}}, "heuristics.thresholds.max_lines must be"),
        ({"by_extension": {"js": {"min_alphabetic": 25}}}, "share of the file"),
        ({"thresholds": {"xml_header": "no"}}, "must be true or false"),
        ({"strip": {"max_line_chars": 0}}, "heuristics.strip.max_line_chars"),
        ({"rules": "codex"}, "heuristics.rules must be a list"),
    ],
)
def test_invalid_settings_name_the_offending_field(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        CurationConfig.from_dict({"heuristics": section})
    assert message in str(error.value)
