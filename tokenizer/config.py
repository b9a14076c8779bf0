"""Tokenizer settings: the SentencePiece options that suit code, and how the sample is drawn.

Every field changes the trained model, so all are part of the fingerprint, with one
exception: for BPE, `num_threads` only changes how fast SentencePiece trains (it learns
the same pieces whatever the thread count, tested), so it is left out of the fingerprint
and of the model bytes, and the model's sha256 does not depend on the machine. Unigram's
EM sums per thread, so its pieces do depend on the thread count: there it counts.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError

MB = 1_000_000

#: SentencePiece refuses a max_sentence_length outside [10, 2**30] bytes.
SENTENCEPIECE_MAX_SENTENCE = 1 << 30

#: SentencePiece's meta symbol for a space; user-defined symbols are matched after spaces
#: become this character, so indentation pieces must be spelled with it.
SPACE = "\u2581"

MODEL_TYPES = ("bpe", "unigram")


@dataclass(frozen=True)
class TokenizerConfig(ConfigBase):
    section = "tokenizer"

    vocab_size: int = 32768
    """Pieces in the vocabulary, user-defined, control and byte pieces included."""
    model_type: str = "bpe"
    """`bpe` (default: on code it trains much faster than `unigram` and gives fewer
    tokens per byte, measured in benchmarks/tokenizer.py) or `unigram`."""
    byte_fallback: bool = True
    """Characters outside the vocabulary become UTF-8 byte pieces instead of `<unk>`:
    every text round-trips."""
    split_digits: bool = True
    """Every digit is its own piece, so numbers are not memorised as pieces."""
    remove_extra_whitespaces: bool = False
    """False: spaces are preserved exactly (code indentation and alignment matter)."""
    add_dummy_prefix: bool = False
    """False: no space is invented before the text, so a leading indent stays exact."""
    normalization_rule_name: str = "identity"
    """`identity`: no NFKC, so the bytes of a file come back unchanged."""
    allow_whitespace_only_pieces: bool = True
    """Runs of spaces may become pieces of their own (alignment, indentation)."""
    indent_spaces: tuple[int, ...] = (2, 4, 8, 12, 16)
    """Runs of spaces that become user-defined pieces (always one token each)."""
    indent_tabs: tuple[int, ...] = ()
    """Runs of tabs that become user-defined pieces. None by default: SentencePiece splits
    words at spaces only, so BPE learns tab runs together with the newline before them
    ("\n\t\t"), which user-defined tab pieces would forbid (Go: more tokens with
    1-4 tabs as pieces, benchmarks/tokenizer.py)."""
    newline_symbols: tuple[str, ...] = ()
    """Line endings to make user-defined pieces (always a token of their own). None by
    default: fed through `sentence_iterator`, a newline is an ordinary character that
    identity normalization keeps, so it round-trips (tested) and BPE may merge it with
    what ends a line (")\n", ":\n"); as a user-defined piece it cost more tokens."""
    split_by_unicode_script: bool = False
    """False: a piece may mix scripts, as code mixes letters, digits aside, with
    punctuation (`self.`, `->x`, `#fff`): fewer tokens, most on JS, CSS and HTML."""
    split_by_whitespace: bool = True
    """True: pieces do not span a space (one word at most, with its leading space).
    False lets pieces span words ("▁=▁"): slightly fewer tokens, slower training."""
    character_coverage: float = 0.9999
    """Share of characters covered by character pieces; the rarest fall back to bytes."""
    max_sentence_length: int = 1 << 20
    """Longest text (bytes) handed to the trainer as one sentence; longer documents are
    split at line boundaries, not dropped. SentencePiece accepts up to 2**30."""
    max_sentencepiece_length: int = 16
    """Longest piece, in characters."""
    seed: int = 42
    """Seeds the hash that draws the sample and SentencePiece's own random generator."""
    sample_bytes: int = 100 * MB
    """Bytes of text in the training sample (at most; less when the corpus is smaller)."""
    max_language_share: float = 0.25
    """Cap on one language's share of the sample when sampling proportionally to bytes;
    what a capped language leaves is shared among the others by their bytes."""
    language_weights: Mapping[str, float] | None = None
    """Explicit share of the sample per language instead of proportional to bytes;
    languages not listed are not sampled."""
    input_sentence_size: int = 0
    """Sentences SentencePiece keeps of what it is given (0: all). A cap makes it draw a
    random subset, seeded by `seed`."""
    num_threads: int = 8
    """Trainer threads. For BPE speed only (not in the fingerprint nor in the model bytes);
    for unigram it changes the pieces, so it is part of both."""

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(
                f"tokenizer.model_type must be one of {MODEL_TYPES}, got {self.model_type!r}"
            )
        if not 256 + 8 <= self.vocab_size <= 1 << 24:
            raise ConfigError(
                f"tokenizer.vocab_size must be in [264, 2**24] (byte pieces need 256), "
                f"got {self.vocab_size}"
            )
        if not 10 <= self.max_sentence_length <= SENTENCEPIECE_MAX_SENTENCE:
            raise ConfigError(
                f"tokenizer.max_sentence_length must be in [10, 2**30] bytes, "
                f"got {self.max_sentence_length}"
            )
        if not 0.9 <= self.character_coverage <= 1.0:
            raise ConfigError(
                f"tokenizer.character_coverage must be in [0.9, 1], got {self.character_coverage}"
            )
        if any(n < 1 for n in (*self.indent_spaces, *self.indent_tabs)):
            raise ConfigError("tokenizer.indent_spaces and indent_tabs must be positive runs")
        if not 0.0 < self.max_language_share <= 1.0:
            raise ConfigError(
                f"tokenizer.max_language_share must be in (0, 1], got {self.max_language_share}"
            )
        if self.language_weights is not None and (
            not self.language_weights or any(w <= 0 for w in self.language_weights.values())
        ):
            raise ConfigError("tokenizer.language_weights must map languages to positive weights")
        for name in ("sample_bytes", "num_threads", "max_sentencepiece_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"tokenizer.{name} must be >= 1, got {getattr(self, name)}")
        if self.input_sentence_size < 0:
            raise ConfigError("tokenizer.input_sentence_size must be >= 0 (0: all sentences)")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"tokenizer.seed must be in [0, 2**32), got {self.seed}")

    @property
    def user_defined_symbols(self) -> list[str]:
        """Pieces that are always one token: line endings (if any), then indentation runs."""
        spaces = [SPACE * n for n in sorted(set(self.indent_spaces))]
        tabs = ["\t" * n for n in sorted(set(self.indent_tabs))]
        return [*dict.fromkeys(self.newline_symbols), *spaces, *tabs]

    @property
    def threads_change_model(self) -> bool:
        """Whether the thread count changes the pieces learned (unigram's EM: yes; BPE: no)."""
        return self.model_type != "bpe"

    def trainer_options(self) -> dict[str, Any]:
        """Keyword arguments of `SentencePieceTrainer.train` (input and output excluded)."""
        return {
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "byte_fallback": self.byte_fallback,
            "split_digits": self.split_digits,
            "remove_extra_whitespaces": self.remove_extra_whitespaces,
            "add_dummy_prefix": self.add_dummy_prefix,
            "normalization_rule_name": self.normalization_rule_name,
            "allow_whitespace_only_pieces": self.allow_whitespace_only_pieces,
            "split_by_unicode_script": self.split_by_unicode_script,
            "split_by_whitespace": self.split_by_whitespace,
            "user_defined_symbols": self.user_defined_symbols,
            "character_coverage": self.character_coverage,
            "max_sentence_length": self.max_sentence_length,
            "max_sentencepiece_length": self.max_sentencepiece_length,
            "input_sentence_size": self.input_sentence_size,
            "shuffle_input_sentence": self.input_sentence_size > 0,
            "num_threads": self.num_threads,
            # <unk>=0, <s>=1, </s>=2: </s> is the end-of-document token of the shards.
            "unk_id": 0,
            "bos_id": 1,
            "eos_id": 2,
            "pad_id": -1,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["language_weights"] = (
            dict(sorted(self.language_weights.items())) if self.language_weights else None
        )
        return data

    def fingerprint_data(self) -> dict[str, Any]:
        """Every setting that changes the model (the fingerprint is sha256 of its JSON)."""
        data = self.to_dict()
        if not self.threads_change_model:
            del data["num_threads"]
        return data


@dataclass(frozen=True)
class ShardsConfig(ConfigBase):
    section = "shards"

    enabled: bool = True
    """Train (or reuse) a tokenizer, count tokens per file and write token shards."""
    tokenizer: str | None = None
    """sha256 (or an 8+ digit prefix) of a stored tokenizer to reuse; None trains one on
    the version's kept files (settings in the `tokenizer` section)."""
    target_bytes: int = 256 * MB
    """A shard's `.bin` is closed past this size."""
    validation_fraction: float = 0.01
    """Share of repositories (by hash, never split across) in the validation split."""
    split_seed: int = 0
    """Seed of the repository hash that picks the split."""
    shrink_vocab: bool = True
    """When the kept files are too few for `tokenizer.vocab_size` pieces, train the largest
    vocabulary SentencePiece supports on them (recorded in the version) instead of failing."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"shards.validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.target_bytes < 1 << 16:
            raise ConfigError(f"shards.target_bytes must be >= 64 KiB, got {self.target_bytes}")
