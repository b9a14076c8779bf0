"""Train a SentencePiece model on (lang, text) pairs streamed into the trainer.

Texts go to `SentencePieceTrainer.train(sentence_iterator=...)` and the model comes back
through `model_writer`: no temporary file holds the sample or the model. A text longer
than `max_sentence_length` bytes is cut at line boundaries (SentencePiece would drop it
whole). The model is identified by the sha256 of its bytes: the same config and the same
sample give the same bytes (tested), because SentencePiece's random generator is seeded
and, for BPE, the thread count is left out of the stored trainer spec.
"""

import hashlib
import io
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sentencepiece as spm

from tokenizer.config import TokenizerConfig
from tokenizer.errors import EmptySampleError, InvalidTextError, TrainingError
from tokenizer.model import CodeTokenizer
from tokenizer.sample import split_long

__all__ = ["TokenizerConfig", "TrainStats", "TrainedTokenizer", "train_tokenizer"]


@dataclass
class TrainStats:
    """What the trainer was given."""

    documents: int = 0
    """Non-empty texts."""
    sentences: int = 0
    """Pieces handed to SentencePiece (a long document gives several)."""
    split_documents: int = 0
    """Documents longer than max_sentence_length, cut at line boundaries."""
    bytes: int = 0
    """UTF-8 bytes of all texts."""
    empty: int = 0
    """Empty texts skipped."""
    seconds: float = 0.0
    """Wall time of the SentencePiece call (reading the sample included)."""
    bytes_by_language: dict[str, int] = field(default_factory=dict)
    documents_by_language: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedTokenizer:
    model_bytes: bytes
    """The serialized SentencePiece model (what a `.model` file holds)."""
    sha256: str
    """sha256 hex of `model_bytes`: the tokenizer's id."""
    config: TokenizerConfig
    stats: TrainStats

    def load(self) -> CodeTokenizer:
        return CodeTokenizer(self.model_bytes)

    def describe(self) -> dict[str, object]:
        """JSON-ready record of the model (what a catalog stores beside its bytes)."""
        return {
            "sha256": self.sha256,
            "config_fingerprint": self.config.fingerprint(),
            "config": self.config.to_dict(),
            "stats": asdict(self.stats),
            "model_bytes": len(self.model_bytes),
        }

    def save(self, path: str | Path) -> Path:
        """Write the model file (loadable by any SentencePiece) and return its path."""
        target = Path(path)
        target.write_bytes(self.model_bytes)
        return target


def train_tokenizer(texts: Iterable[tuple[str, str]], config: TokenizerConfig) -> TrainedTokenizer:
    """Train on `texts`, (lang, text) pairs such as `sample_documents` returns.

    Raises EmptySampleError when no text is given, InvalidTextError for a null or non-str
    text, TrainingError when SentencePiece refuses (e.g. a vocabulary larger than the
    sample supports: lower vocab_size or give more text).
    """
    stats = TrainStats()
    raised: list[BaseException] = []
    sentences = _sentences(texts, config, stats, raised)
    output = io.BytesIO()
    spm.set_random_generator_seed(config.seed)
    start = time.perf_counter()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences,
            model_writer=output,
            minloglevel=2,
            **config.trainer_options(),
        )
    except (RuntimeError, OSError) as exc:
        if raised:
            raise raised[0] from exc
        if not stats.sentences:
            raise EmptySampleError(
                "no text to train on: the sample is empty (check the dataset version, the "
                "language selection and that content is not null)"
            ) from exc
        raise TrainingError(
            f"SentencePiece could not train on {stats.documents} documents "
            f"({stats.bytes} bytes): {str(exc).rstrip('.')}. Lower vocab_size or train on "
            "more text."
        ) from exc
    if raised:  # the iterator failed but SentencePiece trained on what it had read
        raise raised[0]
    stats.seconds = time.perf_counter() - start
    stats.bytes_by_language = dict(sorted(stats.bytes_by_language.items()))
    stats.documents_by_language = dict(sorted(stats.documents_by_language.items()))
    model = _canonical(output.getvalue(), config)
    return TrainedTokenizer(model, hashlib.sha256(model).hexdigest(), config, stats)


def _sentences(
    texts: Iterable[tuple[str, str]],
    config: TokenizerConfig,
    stats: TrainStats,
    raised: list[BaseException],
) -> Iterator[str]:
    """Sentences for the trainer. An exception raised here would be lost inside
    SentencePiece's C++ loop, so it is recorded in `raised` and the stream ends."""
    by_lang_bytes: dict[str, int] = defaultdict(int)
    by_lang_docs: dict[str, int] = defaultdict(int)
    stats.bytes_by_language = by_lang_bytes
    stats.documents_by_language = by_lang_docs
    try:
        for i, item in enumerate(texts):
            lang, text = _pair(i, item)
            if not text:
                stats.empty += 1
                continue
            size = len(text.encode())
            stats.documents += 1
            stats.bytes += size
            by_lang_bytes[lang] += size
            by_lang_docs[lang] += 1
            if size > config.max_sentence_length:
                stats.split_documents += 1
            for sentence in split_long(text, config.max_sentence_length):
                stats.sentences += 1
                yield sentence
    except Exception as exc:  # re-raised by train_tokenizer after SentencePiece returns
        raised.append(exc)


def _pair(i: int, item: object) -> tuple[str, str]:
    if not isinstance(item, tuple) or len(item) != 2:
        raise InvalidTextError(f"training item {i} must be a (lang, text) pair, got {item!r:.80}")
    lang, text = item
    if not isinstance(text, str):
        raise InvalidTextError(
            f"training text {i} ({lang}) is {type(text).__name__}, not str: sample only files "
            "whose content was read (not null)"
        )
    return str(lang), text


def _canonical(model: bytes, config: TokenizerConfig) -> bytes:
    """The model without what does not change its pieces (BPE's thread count)."""
    if config.threads_change_model:
        return model
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    proto.trainer_spec.ClearField("num_threads")
    return proto.SerializeToString(deterministic=True)
