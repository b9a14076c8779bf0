"""The training sample: deterministic hash selection, language shares, long texts cut."""

import random

import pyarrow as pa
import pytest

from tokenizer.config import TokenizerConfig
from tokenizer.errors import InvalidTextError
from tokenizer.sample import language_bytes, language_targets, sample_documents, split_long


@pytest.mark.parametrize("max_bytes", [10, 64, 100, 1000])
def test_split_long_cuts_at_lines_within_the_limit(max_bytes: int) -> None:
    text = "short\n" + "a much longer line of code here;\n" * 5 + "é€😀" * 40 + "\ntail"
    parts = list(split_long(text, max_bytes))
    assert "".join(parts) == text
    assert all(0 < len(p.encode()) <= max_bytes for p in parts)
    if max_bytes >= 64:  # every line but the emoji one fits: cuts fall after newlines
        assert all(p.endswith("\n") for p in parts[:-1] if "😀" not in p)


def test_split_long_keeps_short_texts_whole() -> None:
    assert list(split_long("x\ny\n", 1 << 20)) == ["x\ny\n"]
    assert list(split_long("", 10)) == [""]


def test_language_targets_proportional_with_a_cap() -> None:
    available = {"C": 600, "Python": 300, "Go": 100}
    config = TokenizerConfig(sample_bytes=500, max_language_share=0.5)
    targets = language_targets(available, config)
    assert targets["C"] == 250  # capped at half of the sample
    # the rest is shared by bytes: Python 3/4, Go 1/4 of 250
    assert (targets["Python"], targets["Go"]) == (187, 62)
    # never more than is available; the cap holds even when the corpus is small
    everything = TokenizerConfig(sample_bytes=10**9, max_language_share=1.0)
    assert language_targets(available, everything) == available
    small = language_targets(available, TokenizerConfig(sample_bytes=10**9))
    assert small == {"C": 250, "Go": 100, "Python": 250}
    weighted = language_targets(
        available, TokenizerConfig(sample_bytes=400, language_weights={"Go": 1, "Python": 1})
    )
    assert weighted == {"Go": 100, "Python": 200}


def _table(n: int) -> pa.Table:
    langs = ["Python", "C", None, "Go"]
    rows = [
        {"file_id": f"{i:032x}", "lang": langs[i % 4], "content": f"line {i}\n" * (1 + i % 7)}
        for i in range(n)
    ]
    rows.append({"file_id": "f" * 32, "lang": "C", "content": None})
    return pa.Table.from_pylist(rows)


def test_sample_is_independent_of_row_order_and_batching() -> None:
    table = _table(2000)
    config = TokenizerConfig(sample_bytes=8000, seed=3)
    first = sample_documents(table, config)
    assert 7000 < sum(len(t) for _, t in first) <= 8000 + 100
    assert {lang for lang, _ in first} == {"C", "Go", "Python", "unknown"}
    order = list(range(table.num_rows))
    random.Random(0).shuffle(order)
    shuffled = table.take(order)
    available = language_bytes(shuffled)
    batches = shuffled.to_batches(max_chunksize=97)
    assert sample_documents(iter(batches), config, available) == first
    other_seed = sample_documents(table, TokenizerConfig(sample_bytes=8000, seed=4))
    assert other_seed != first


def test_sampling_a_stream_needs_the_language_bytes() -> None:
    with pytest.raises(InvalidTextError, match="needs `available`"):
        sample_documents(iter(_table(10).to_batches()), TokenizerConfig())
