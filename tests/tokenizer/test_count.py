"""Exact token counts, per-language stats independent of batching, clear errors."""

import numpy as np
import pyarrow as pa
import pytest

from tokenizer.count import TokenCounter, fertility, language_stats, merge_language_stats
from tokenizer.errors import InvalidModelError, InvalidTextError
from tokenizer.train import TrainedTokenizer


def test_counts_are_exact(real_files: pa.Table, trained: TrainedTokenizer) -> None:
    counter = TokenCounter(trained.model_bytes)
    tokenizer = trained.load()
    counts = counter.count(real_files["content"])
    assert counts.dtype == np.int64 and len(counts) == real_files.num_rows
    expected = [len(tokenizer.encode(t)) for t in real_files["content"].to_pylist()]
    assert counts.tolist() == expected
    assert counter.count(["", "▁", "a▁b"]).tolist() == [0, 3, 2 + 3]
    assert counter.count(pa.array([], pa.string())).tolist() == []


def test_language_stats_do_not_depend_on_batching(
    real_files: pa.Table, trained: TrainedTokenizer
) -> None:
    counter = TokenCounter(trained.model_bytes)
    whole = counter(real_files)
    parts = [counter(pa.Table.from_batches([b])) for b in real_files.to_batches(max_chunksize=37)]
    assert merge_language_stats(parts).equals(whole)
    by_lang = fertility(whole)
    assert sum(f.files for f in by_lang.values()) == real_files.num_rows
    assert sum(f.tokens for f in by_lang.values()) == int(
        counter.count(real_files["content"]).sum()
    )
    python = by_lang["Python"]
    assert python.bytes >= python.chars > python.tokens > 0
    assert 1.5 < python.chars_per_token < 10
    assert python.tokens_per_byte == pytest.approx(1 / python.bytes_per_token)


def test_count_table_adds_a_tokens_column(trained: TrainedTokenizer) -> None:
    counter = TokenCounter(trained.model_bytes)
    batch = pa.table({"lang": ["Go", None], "content": ["package main\n", ""]})
    counted = counter.count_table(batch)
    assert counted.column_names == ["lang", "content", "tokens"]
    assert counted["tokens"].to_pylist()[1] == 0
    stats = language_stats(counted).to_pylist()
    assert [row["lang"] for row in stats] == ["Go", "unknown"]


def test_bad_input_gives_clear_errors(trained: TrainedTokenizer) -> None:
    counter = TokenCounter(trained.model_bytes)
    with pytest.raises(InvalidTextError, match="text 1 is null"):
        counter.count(pa.array(["x", None]))
    with pytest.raises(InvalidTextError, match="text 0 is NoneType"):
        counter.count([None])  # type: ignore[list-item]
    with pytest.raises(InvalidTextError, match="not one string"):
        counter.count("a text")  # type: ignore[arg-type]
    with pytest.raises(InvalidTextError, match="Arrow string array"):
        counter.count(pa.array([1, 2]))
    with pytest.raises(InvalidModelError, match="empty"):
        TokenCounter(b"")
    with pytest.raises(InvalidModelError, match="not a SentencePiece model"):
        TokenCounter(b"definitely not a model")
    with pytest.raises(InvalidModelError, match="not a SentencePiece model"):
        TokenCounter(trained.model_bytes[: len(trained.model_bytes) // 2])
