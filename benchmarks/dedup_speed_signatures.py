"""MinHash signature speed: `dedup.minhash.MinHasher` vs datasketch (and rensa, if installed).

Run from the repository root:

    python -m benchmarks.dedup_speed_signatures              # ~100 MB, median of 5 runs
    python -m benchmarks.dedup_speed_signatures --mb 300 --repeats 7
    python -m benchmarks.dedup_speed_signatures --quick      # ~20 MB, 3 runs

Corpus: real text files found on this machine: .py .pyi .c .h .cpp .js .ts .md
.rst .txt files under sys.prefix, the base Python's lib folder, /usr/lib/python3*
and /usr/share/doc, walked in sorted order until `--mb` MB, each file's first
1 MB decoded as UTF-8 with undecodable bytes skipped. One file is one text.

Contenders, all computing 256-permutation signatures over 5-token shingles, each
from the texts in memory (building the inputs is not timed):

- ours: `MinHasher(num_perm=256, ngram=5, seed=42).signatures` over pyarrow
  large_string arrays of 1024 files (tokenising, shingling and hashing included),
  over the whole corpus and over the baseline's subset.
- datasketch: per file, `reference_shingles` (regex tokens, joined 5-grams, UTF-8)
  then `MinHash(num_perm=256, seed=42).update_batch(list(shingles))`. It runs at
  a few MB/s, so it is timed on a deterministic subset of about `--baseline-mb`
  MB (every k-th file).
- rensa (when importable): per file, the same shingles as str, then
  `RMinHash(num_perm=256, seed=42).update(shingles)`, on the same subset.

MB/s per core: MB (10**6 bytes of UTF-8 text) / CPU seconds of this process
(every contender is single-threaded), median of the runs; wall-clock MB/s beside
it. The ratio compares ours and datasketch on the same subset. The order of the
contenders alternates between runs; one discarded warm-up run precedes them.
"""

import argparse
import glob
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from benchmarks._common import MB, markdown_table, median

#: The ratio the project aims for (ours / datasketch, MB/s per core, same files).
TARGET_RATIO = 10.0
NUM_PERM = 256
NGRAM = 5
SEED = 42
BATCH_FILES = 1024
FILE_CAP = 1 << 20
SUFFIXES = {".py", ".pyi", ".c", ".h", ".cpp", ".js", ".ts", ".md", ".rst", ".txt"}


def corpus_roots() -> list[Path]:
    roots = [Path(sys.prefix), Path(sys.base_prefix) / "lib"]
    roots += [Path(p) for p in sorted(glob.glob("/usr/lib/python3*"))]
    roots.append(Path("/usr/share/doc"))
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and not any(root.resolve() == u.resolve() for u in unique):
            unique.append(root)
    return unique


def walk_sorted(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if path.suffix in SUFFIXES and path.is_file() and not path.is_symlink():
                yield path


def load_corpus(megabytes: float) -> list[str]:
    """Real text files, in a fixed order, until `megabytes` MB of UTF-8 text."""
    texts: list[str] = []
    seen: set[Path] = set()
    total = 0
    for root in corpus_roots():
        for path in walk_sorted(root):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                with open(path, "rb") as stream:
                    raw = stream.read(FILE_CAP)
            except OSError:
                continue
            text = raw.decode("utf-8", errors="ignore")
            texts.append(text)
            total += len(text.encode("utf-8"))
            if total >= megabytes * MB:
                return texts
    return texts


def utf8_size(texts: list[str]) -> int:
    return sum(len(t.encode("utf-8")) for t in texts)


# -- contenders -----------------------------------------------------------------------


def ours_runner(texts: list[str]) -> Callable[[], object]:
    from dedup.minhash import MinHasher

    hasher = MinHasher(num_perm=NUM_PERM, ngram=NGRAM, seed=SEED)
    hasher.warm()
    batches = [
        pa.array(texts[i : i + BATCH_FILES], type=pa.large_string())
        for i in range(0, len(texts), BATCH_FILES)
    ]
    return lambda: [hasher.signatures(batch)[0] for batch in batches]


def datasketch_runner(texts: list[str]) -> Callable[[], object]:
    from datasketch import MinHash

    from dedup.minhash import reference_shingles

    def run() -> list:
        out = []
        for text in texts:
            sketch = MinHash(num_perm=NUM_PERM, seed=SEED)
            sketch.update_batch(list(reference_shingles(text, NGRAM)))
            out.append(sketch.hashvalues)
        return out

    return run


def rensa_runner(texts: list[str]) -> Callable[[], object] | None:
    try:
        from rensa import RMinHash
    except ImportError:
        return None
    from dedup.minhash import TOKEN_PATTERN

    def run() -> list:
        out = []
        for text in texts:
            tokens = TOKEN_PATTERN.findall(text)
            shingles = {" ".join(tokens[i : i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)}
            sketch = RMinHash(num_perm=NUM_PERM, seed=SEED)
            sketch.update(list(shingles))
            out.append(sketch.digest())
        return out

    return run


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def run(megabytes: float, baseline_mb: float, repeats: int) -> int:
    pa.set_cpu_count(1)
    started = time.perf_counter()
    texts = load_corpus(megabytes)
    size = utf8_size(texts)
    step = max(1, round(size / (baseline_mb * MB)))
    subset = texts[::step]
    subset_size = utf8_size(subset)
    print(f"corpus: {len(texts):,} files, {size / MB:.1f} MB (loaded in "
          f"{time.perf_counter() - started:.1f} s); baseline subset: every {step}th file, "
          f"{len(subset):,} files, {subset_size / MB:.1f} MB")  # fmt: skip

    contenders: dict[str, tuple[Callable[[], object], int]] = {
        "ours (corpus)": (ours_runner(texts), size),
        "ours (subset)": (ours_runner(subset), subset_size),
        "datasketch (subset)": (datasketch_runner(subset), subset_size),
    }
    rensa = rensa_runner(subset)
    if rensa is not None:
        contenders["rensa (subset)"] = (rensa, subset_size)
    for work, _ in contenders.values():
        work()  # warm-up: numba's compiled kernel, page-ins, allocator

    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for i in range(repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            samples[name].append(timed(contenders[name][0]))

    def rate(name: str, index: int) -> float:
        return contenders[name][1] / MB / median([s[index] for s in samples[name]])

    baseline = rate("datasketch (subset)", 0)
    rows = [
        [name, f"{rate(name, 0):.1f}", f"{rate(name, 1):.1f}", repeats,
         f"{rate(name, 0) / baseline:.1f}x"]
        for name in names
    ]  # fmt: skip
    print()
    print(markdown_table(
        ["contender", "MB/s per core (median)", "wall MB/s (median)", "runs", "vs datasketch"],
        rows,
    ))  # fmt: skip
    if rensa is None:
        print("\nrensa: not importable here, skipped")
    ratio = rate("ours (subset)", 0) / baseline
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nratio ours / datasketch (same {subset_size / MB:.1f} MB subset, per core): "
          f"{ratio:.1f}x (target >= {TARGET_RATIO:.0f}x): {verdict}")  # fmt: skip
    return 0 if ratio >= TARGET_RATIO else 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100, help="corpus size in MB")
    parser.add_argument(
        "--baseline-mb", type=float, default=10, help="size of the subset the peers run on"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per contender")
    parser.add_argument("--quick", action="store_true", help="~20 MB corpus, 2 MB subset, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.mb, args.baseline_mb, args.repeats = 20, 2, 3
    sys.exit(run(args.mb, args.baseline_mb, args.repeats))


if __name__ == "__main__":
    main()
