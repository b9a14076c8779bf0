"""Tokenizer settings: validation names the field, fingerprints are stable."""

import pytest

from corpus.core.errors import ConfigError
from tokenizer.config import SPACE, TokenizerConfig


def test_defaults_suit_code() -> None:
    config = TokenizerConfig()
    assert config.vocab_size == 32768 and config.model_type == "bpe"
    options = config.trainer_options()
    assert options["byte_fallback"] and options["split_digits"]
    assert not options["remove_extra_whitespaces"] and not options["add_dummy_prefix"]
    assert options["normalization_rule_name"] == "identity"
    assert options["allow_whitespace_only_pieces"]
    assert options["max_sentence_length"] == 1 << 20
    assert options["eos_id"] == 2
    assert not options["split_by_unicode_script"] and options["split_by_whitespace"]
    assert config.user_defined_symbols == [SPACE * n for n in (2, 4, 8, 12, 16)]
    custom = TokenizerConfig(indent_spaces=(4, 2, 4), indent_tabs=(2, 1), newline_symbols=("\n",))
    assert custom.user_defined_symbols == ["\n", SPACE * 2, SPACE * 4, "\t", "\t\t"]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("model_type", "wordpiece", "tokenizer.model_type"),
        ("vocab_size", 100, "tokenizer.vocab_size"),
        ("max_sentence_length", 1 << 31, "tokenizer.max_sentence_length"),
        ("character_coverage", 0.5, "tokenizer.character_coverage"),
        ("indent_spaces", (0, 4), "tokenizer.indent_spaces"),
        ("max_language_share", 0.0, "tokenizer.max_language_share"),
        ("language_weights", {"Python": 0.0}, "tokenizer.language_weights"),
        ("sample_bytes", 0, "tokenizer.sample_bytes"),
        ("num_threads", 0, "tokenizer.num_threads"),
        ("input_sentence_size", -1, "tokenizer.input_sentence_size"),
        ("seed", -1, "tokenizer.seed"),
    ],
)
def test_invalid_values_name_the_field(field: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TokenizerConfig(**{field: value})


def test_fingerprint() -> None:
    base = TokenizerConfig()
    assert base.fingerprint() == TokenizerConfig().fingerprint()
    assert base.fingerprint() != TokenizerConfig(vocab_size=16384).fingerprint()
    assert base.fingerprint() != TokenizerConfig(seed=7).fingerprint()
    # BPE: the thread count changes only speed; unigram: it changes the pieces
    assert base.fingerprint() == TokenizerConfig(num_threads=1).fingerprint()
    unigram = TokenizerConfig(model_type="unigram")
    assert (
        unigram.fingerprint() != TokenizerConfig(model_type="unigram", num_threads=1).fingerprint()
    )
    weights = {"Python": 2.0, "C": 1.0}
    assert (
        TokenizerConfig(language_weights=weights).fingerprint()
        == TokenizerConfig(language_weights=dict(reversed(weights.items()))).fingerprint()
    )


def test_round_trips_through_dict_and_file(tmp_path) -> None:
    config = TokenizerConfig(vocab_size=4096, indent_spaces=(4,), language_weights={"Go": 1.0})
    assert TokenizerConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "tokenizer.yaml"
    path.write_text("vocab_size: 4096\nindent_spaces: [4]\nlanguage_weights: {Go: 1.0}\n")
    assert TokenizerConfig.from_file(path).fingerprint() == config.fingerprint()
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['vocab'\] in 'tokenizer'"):
        TokenizerConfig.from_dict({"vocab": 1})
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        TokenizerConfig.from_file(path)
