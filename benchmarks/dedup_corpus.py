"""Real source-code corpora for the dedup benchmarks, built offline and deterministically.

`real_corpus` reads source files installed on this machine (the Python standard
library, Debian's dist-packages, this project's virtual environment, C headers
and package docs), in a fixed order: the roots in `ROOTS` order, paths sorted
within a root, symbolic links skipped. A file is kept when its name ends with one
of `EXTENSIONS`, it is not empty, at most `MAX_FILE_BYTES` long and valid UTF-8.
Its file_id is `<root prefix>/<path relative to the root>`.

`scale_up` adds mutated copies of a table's files, the kind of near-duplicates a
code corpus holds (forks, vendored and patched copies): identifiers renamed, lines
deleted, inserted (taken from another file), duplicated, comments added. The
mutation strength is drawn per copy so that some copies stay above the dedup
threshold (Jaccard 0.7 over 5-token shingles) and some fall below it. Everything
is a function of the input and the seed.
"""

import keyword
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: (file_id prefix, folder), read in this order.
ROOTS: tuple[tuple[str, Path], ...] = (
    ("stdlib", Path("/usr/lib/python3.11")),
    ("dist-packages", Path("/usr/lib/python3/dist-packages")),
    ("site-packages", Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages"),
    ("include", Path("/usr/include")),
    ("doc", Path("/usr/share/doc")),
)
EXTENSIONS = (".py", ".pyi", ".c", ".h", ".cc", ".cpp", ".hpp", ".js", ".md", ".rst")
MAX_FILE_BYTES = 1_000_000

SCHEMA = pa.schema([("file_id", pa.string()), ("content", pa.large_string())])


def iter_source_files():
    """(file_id, path) of every candidate file under `ROOTS`, in the fixed order."""
    for prefix, root in ROOTS:
        if not root.is_dir():
            continue
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(names):
                if not name.endswith(EXTENSIONS):
                    continue
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    continue
                yield f"{prefix}/{os.path.relpath(path, root)}", path


def real_corpus(min_files: int, max_bytes: int | None = None) -> pa.Table:
    """The first files in the fixed order: at least `min_files` of them, then more as long as
    the content (UTF-8 bytes) stays within `max_bytes` (None: exactly `min_files`).

    Raises when this machine has fewer than `min_files` usable files."""
    ids: list[str] = []
    contents: list[str] = []
    total = 0
    for file_id, path in iter_source_files():
        if len(ids) >= min_files and max_bytes is None:
            break
        try:
            size = os.path.getsize(path)
            if size == 0 or size > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as stream:
                data = stream.read()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(ids) >= min_files and total + len(data) > max_bytes:  # type: ignore[operator]
            break
        ids.append(file_id)
        contents.append(text)
        total += len(data)
    if len(ids) < min_files:
        raise SystemExit(f"only {len(ids)} usable source files on this machine, {min_files} asked")
    return pa.table({"file_id": ids, "content": contents}, schema=SCHEMA)


def content_bytes(table: pa.Table) -> int:
    """UTF-8 bytes of the content column."""
    return int(pc.sum(pc.binary_length(table.column("content"))).as_py() or 0)


# -- mutated copies ---------------------------------------------------------------------

IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b")
_KEYWORDS = frozenset(keyword.kwlist) | {"self", "return", "static", "const", "struct", "void"}
_WORDS = [
    *("TODO", "fix", "refactor", "this", "later", "note", "vendored", "patched", "copy"),
    *("from", "upstream", "keep", "in", "sync", "workaround", "for", "old", "versions"),
    *("see", "issue", "do", "not", "edit", "generated", "local", "change", "hack"),
]
_COMMENT = {".py": "# ", ".pyi": "# ", ".md": "<!-- ", ".rst": ".. "}
_COMMENT_END = {".md": " -->"}


def _comment(file_id: str, rng: np.random.Generator) -> str:
    ext = os.path.splitext(file_id)[1]
    words = " ".join(rng.choice(_WORDS, size=int(rng.integers(2, 8))))
    return f"{_COMMENT.get(ext, '// ')}{words}{_COMMENT_END.get(ext, '')}"


def mutate(
    text: str, file_id: str, donor: list[str], strength: float, rng: np.random.Generator
) -> str:
    """`text` with about `strength` of its lines edited and a few identifiers renamed."""
    names = sorted(set(IDENTIFIER.findall(text)) - _KEYWORDS)
    renames = min(len(names), int(rng.poisson(12 * strength)))
    for index in rng.choice(len(names), size=renames, replace=False) if renames else ():
        old = names[index]
        new = f"{old}_{rng.choice(_WORDS)}" if rng.random() < 0.5 else f"{old[:2]}{old[::-1]}"
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    lines = text.split("\n")
    edits = int(rng.binomial(len(lines), min(strength, 1.0)))
    for _ in range(edits):
        at = int(rng.integers(0, len(lines) + 1))
        op = rng.random()
        if op < 0.3 and len(lines) > 1:  # delete
            del lines[min(at, len(lines) - 1)]
        elif op < 0.55 and donor:  # insert a line of another file
            lines.insert(at, donor[int(rng.integers(0, len(donor)))])
        elif op < 0.75 and lines:  # duplicate a line
            source = min(at, len(lines) - 1)
            lines.insert(source, lines[source])
        else:  # add a comment
            lines.insert(at, _comment(file_id, rng))
    return "\n".join(lines)


def draw_strength(rng: np.random.Generator) -> float:
    """Share of lines edited: mostly light (most copies stay near-duplicates at 0.7), a
    tail of heavier edits whose copies fall below the threshold."""
    return float(rng.uniform(0.0, 0.12) if rng.random() < 0.7 else rng.uniform(0.12, 0.6))


def scale_up(table: pa.Table, factor: float, seed: int = 0) -> pa.Table:
    """`table` plus about `factor` x its rows of mutated copies (file_id `copyNN/<source id>`).

    Each source gets floor(factor) copies, and a seeded random share `factor mod 1` of the
    sources one more. Copy k of source i uses its own generator seeded by (seed, i, k), so a
    copy does not depend on the others."""
    if factor <= 0 or table.num_rows == 0:
        return table
    n = table.num_rows
    whole, part = int(factor), factor - int(factor)
    rng = np.random.default_rng([seed, 0x5CA1E])
    counts = np.full(n, whole, dtype=np.int64)
    counts[rng.random(n) < part] += 1
    ids = table.column("file_id").to_pylist()
    contents = table.column("content").to_pylist()
    new_ids: list[str] = []
    new_contents: list[str] = []
    for i in np.flatnonzero(counts):
        for k in range(int(counts[i])):
            copy_rng = np.random.default_rng([seed, int(i), k])
            donor_index = int(copy_rng.integers(0, n))
            donor = contents[donor_index].split("\n") if donor_index != i else []
            strength = draw_strength(copy_rng)
            new_ids.append(f"copy{k:02d}/{ids[i]}")
            new_contents.append(mutate(contents[i], ids[i], donor, strength, copy_rng))
    copies = pa.table({"file_id": new_ids, "content": new_contents}, schema=SCHEMA)
    return pa.concat_tables([table.cast(SCHEMA), copies]).combine_chunks()


def corpus_of_size(megabytes: float, copy_share: float = 0.2, seed: int = 0) -> pa.Table:
    """About `megabytes` MB (10**6 bytes) of content: real files for `1 - copy_share` of it,
    mutated copies (`scale_up`) of a random subset of them for the rest. When the machine
    has too little real code, the copies make up the difference."""
    target = int(megabytes * 1_000_000)
    real = real_corpus(0, int(target * (1 - copy_share)))
    have = content_bytes(real)
    if have == 0:
        raise SystemExit("no usable source files on this machine")
    return scale_up(real, max(target - have, 0) / have, seed)
