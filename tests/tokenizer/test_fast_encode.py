"""The piece-cache encoder gives exactly SentencePiece's ids, and falls back when it cannot."""

from dataclasses import replace
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.tokenizer.conftest import REFERENCE_LANGUAGES, SMALL_CONFIG
from tokenizer.config import SPACE
from tokenizer.errors import InvalidTextError
from tokenizer.fast_encode import PIECES, PieceEncoder, unsafe_settings
from tokenizer.model import CodeTokenizer
from tokenizer.train import TrainedTokenizer, train_tokenizer
from tokenizer.write import DatasetShardWriter

#: Hand-made texts where a split could go wrong.
EDGE_CASES = [
    "", " ", "     ", "\t", "\t\t  x", "  leading", "trailing   ", "a  b   c    d",
    "a\r\n  b\r\n\r\n    c\r\n", "\n\n\n", "x = 1  # two spaces\n",
    "héllo wörld 日本語 😀 \u00a0nbsp\u3000ideographic \u200bzero-width",
    "12345 678 9.0e10  0x1F", "        deep\n            deeper\n                deepest",
    "\t\tgo\n\t\t\ttabs", "x" * 200_000, "ab " * 50_000, " " * 10_000 + "end",
    "a▁b", "▁", " ▁ ", "▁▁x  ▁", "mixed \t \t tabs\t and spaces",
]  # fmt: skip


def _sentencepiece(tokenizer: CodeTokenizer, texts: list[str]) -> list[bytes]:
    """The reference: CodeTokenizer's plain path (SentencePiece, literal "▁" as bytes)."""
    plain = CodeTokenizer(tokenizer.model_bytes, fast=False)
    return [np.array(ids, tokenizer.token_dtype).tobytes() for ids in plain.encode_batch(texts)]


def test_our_settings_use_the_piece_cache(trained: TrainedTokenizer) -> None:
    tokenizer = trained.load()
    assert tokenizer.fast_fallback == []
    assert CodeTokenizer(trained.model_bytes, fast=False).fast_fallback == ["fast=False"]


def test_identical_ids_on_every_reference_language(
    real_files: pa.Table, trained: TrainedTokenizer
) -> None:
    tokenizer = trained.load()
    langs = real_files["lang"].to_pylist()
    assert set(REFERENCE_LANGUAGES) <= set(langs)
    texts = real_files["content"].to_pylist()
    expected = _sentencepiece(tokenizer, texts)
    # a fresh cache, fed batches (cold), then the same texts again (warm)
    encoder = PieceEncoder(tokenizer.processor, tokenizer.token_dtype, tokenizer._space_ids)
    for _ in range(2):
        got = [d for i in range(0, len(texts), 50) for d in encoder.encode(texts[i : i + 50]).docs]
        bad = sorted({lang for lang, a, b in zip(langs, got, expected, strict=True) if a != b})
        assert bad == []
    assert encoder.hits > 0 and encoder.misses > 0
    plain = [t for t in texts if SPACE not in t]
    assert [np.array(ids, np.uint16).tobytes() for ids in tokenizer.processor.encode(plain)] == (
        tokenizer.encode_arrays(plain).docs
    )
    assert tokenizer.count(real_files["content"]).tolist() == [len(e) // 2 for e in expected]


def test_identical_ids_on_edge_cases(trained: TrainedTokenizer) -> None:
    tokenizer = trained.load()
    expected = _sentencepiece(tokenizer, EDGE_CASES)
    assert tokenizer.encode_arrays(EDGE_CASES).docs == expected
    assert [tokenizer.encode_arrays([t]).docs[0] for t in EDGE_CASES] == expected
    assert tokenizer.encode_batch(EDGE_CASES) == [
        np.frombuffer(e, np.uint16).tolist() for e in expected
    ]
    for text in EDGE_CASES:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    # indent pieces are single tokens, also when a longer run starts with one
    four = tokenizer.processor.piece_to_id(SPACE * 4)
    assert tokenizer.encode("    x")[0] == four
    assert tokenizer.encode("     x")[0] == four


def test_a_small_cache_gives_the_same_ids(real_files: pa.Table, trained: TrainedTokenizer) -> None:
    tokenizer = trained.load()
    texts = real_files["content"].to_pylist()[:200]
    expected = _sentencepiece(tokenizer, texts)
    encoder = PieceEncoder(tokenizer.processor, tokenizer.token_dtype, tokenizer._space_ids,
                           max_cached_bytes=200_000)  # fmt: skip
    got, largest = [], 0
    for i in range(0, len(texts), 10):
        got.extend(encoder.encode(texts[i : i + 10]).docs)
        largest = max(largest, len(encoder._cache) + len(encoder._old))
    assert got == expected
    distinct = set(chain.from_iterable(PIECES.findall(t) for t in texts))
    assert largest < len(distinct) // 2  # both generations together stay under the cap
    # a second pass finds some pieces still cached, others encoded again: the same ids
    misses, hits = encoder.misses, encoder.hits
    assert [encoder.encode([t]).docs[0] for t in texts] == expected
    assert encoder.misses > misses and encoder.hits > hits


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"split_by_whitespace": False}, "split_by_whitespace=False"),
        ({"add_dummy_prefix": True}, "add_dummy_prefix=True"),
        ({"remove_extra_whitespaces": True}, "remove_extra_whitespaces=True"),
        ({"normalization_rule_name": "nmt_nfkc"}, "normalization_rule_name='nmt_nfkc'"),
        ({"model_type": "unigram"}, "model_type=UNIGRAM"),
    ],
)
def test_unsafe_settings_fall_back_to_sentencepiece(
    real_files: pa.Table, change: dict, reason: str
) -> None:
    small = real_files.slice(0, 120)
    pairs = zip(small["lang"].to_pylist(), small["content"].to_pylist(), strict=True)
    trained = train_tokenizer(pairs, replace(SMALL_CONFIG, vocab_size=800, **change))
    tokenizer = trained.load()
    assert any(r.startswith(reason) for r in tokenizer.fast_fallback), tokenizer.fast_fallback
    assert any(r.startswith(reason) for r in unsafe_settings(tokenizer.processor))
    texts = [t for t in small["content"].to_pylist() if SPACE not in t]
    assert tokenizer.encode_batch(texts) == tokenizer.processor.encode(texts)


def test_literal_space_without_byte_fallback_is_a_clear_error(real_files: pa.Table) -> None:
    small = real_files.slice(0, 120)
    pairs = zip(small["lang"].to_pylist(), small["content"].to_pylist(), strict=True)
    config = replace(SMALL_CONFIG, vocab_size=800, byte_fallback=False)
    tokenizer = train_tokenizer(pairs, config).load()
    assert tokenizer.fast_fallback == []
    texts = [t for t in small["content"].to_pylist() if SPACE not in t]
    assert tokenizer.encode_batch(texts) == tokenizer.processor.encode(texts)
    with pytest.raises(InvalidTextError, match="byte_fallback"):
        tokenizer.encode_arrays(["a▁b"])


def test_shards_are_written_from_the_assembled_bytes(
    real_files: pa.Table, trained: TrainedTokenizer, tmp_path: Path, monkeypatch
) -> None:
    """Each document's ids reach the .bin from the very buffer the encoder joined."""
    import builtins

    written: list[np.ndarray] = []

    class Recording:
        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            written.append(np.frombuffer(data, np.uint8))  # a view: shares the memory
            return self.stream.write(data)

        def close(self):
            self.stream.close()

    monkeypatch.setattr("tokenizer.shards.open", lambda *a: Recording(builtins.open(*a)),  # noqa: SIM115
                        raising=False)  # fmt: skip
    batch = real_files.slice(0, 30)
    writer = DatasetShardWriter(tmp_path, trained.model_bytes, validation_fraction=0.0)
    encoded = writer.tokenizer.encode_arrays(batch["content"])
    writer.write(batch, encoded)
    entries = writer.close()
    docs = [np.frombuffer(d, np.uint8) for d in encoded.docs if d]
    assert docs and all(any(np.shares_memory(d, w) for w in written) for d in docs)
    assert sum(e.shard.content_tokens for e in entries) == int(encoded.counts().sum())


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_token_progress_is_quiet_in_json(log_format: str, monkeypatch) -> None:
    from corpus.cli import render

    monkeypatch.setenv("CODECORPUS_LOG_FORMAT", log_format)
    with render.console.capture() as captured, render.token_progress("count") as progress:
        progress(0, 3, 0)
        progress(3, 3, 1234)
    shown = captured.get()
    if log_format == "json":
        assert shown == ""
    else:
        assert "count" in shown and "3/3 data files" in shown and "1,234 tokens" in shown
