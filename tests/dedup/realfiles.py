"""Real source files of installed distributions, and near-duplicates planted from them."""

import re
from importlib import metadata

import pyarrow as pa

from dedup.minhash import TOKEN_PATTERN, reference_shingles

DISTRIBUTIONS = ["click", "typer", "packaging", "idna", "charset-normalizer", "pyyaml"]


def real_python_files(min_tokens: int = 0) -> dict[str, str]:
    """`dist/path` -> text for every .py file of DISTRIBUTIONS, sorted, deterministic."""
    files: dict[str, str] = {}
    for name in DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for item in sorted(dist.files or [], key=str):
            if not str(item).endswith(".py"):
                continue
            try:
                text = item.locate().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if len(TOKEN_PATTERN.findall(text)) >= min_tokens:
                files[f"{name}/{item}"] = text
    return dict(sorted(files.items()))


def jaccard(a: str, b: str, ngram: int = 5) -> float:
    x, y = reference_shingles(a, ngram), reference_shingles(b, ngram)
    return len(x & y) / len(x | y) if x | y else 1.0


def rename_rare_identifier(text: str) -> str:
    """Rename the identifiers that occur two or three times (a refactor's local renames)."""
    tokens = re.findall(r"\b[a-z_][a-z0-9_]{5,}\b", text)
    counts = {t: tokens.count(t) for t in sorted(set(tokens))}
    rare = [t for t, n in counts.items() if 2 <= n <= 3][:3]
    for token in rare:
        text = re.sub(rf"\b{token}\b", f"{token}_renamed", text)
    return text


def add_comments(text: str) -> str:
    lines = text.splitlines(keepends=True)
    step = max(1, len(lines) // 4)
    for i in range(len(lines) - 1, 0, -step):
        lines.insert(i, "# reviewed: keep in sync with upstream\n")
    return "".join(lines)


def reorder_functions(text: str) -> str:
    """Swap the first two top-level `def` blocks (or move the first third to the end)."""
    blocks = re.split(r"(?m)^(?=def |class )", text)
    if len(blocks) >= 3:
        blocks[1], blocks[2] = blocks[2], blocks[1]
        return "".join(blocks)
    cut = len(text) // 3
    return text[cut:] + text[:cut]


def table(files: dict[str, str], **columns: list) -> pa.Table:
    data = {"file_id": list(files), "content": list(files.values()), **columns}
    return pa.table(data)
