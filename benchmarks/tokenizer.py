"""Tokenizer: fertility vs default SentencePiece, counting throughput on 2 cores, training time.

Run from the repository root:

    python -m benchmarks.tokenizer                   # 32k vocab, 100 MB training sample
    python -m benchmarks.tokenizer --quick           # 8k vocab, 10 MB: a smoke run
    python -m benchmarks.tokenizer --train-mb 30 --fertility-mb 10 --count-mb 20

Corpus: real files found on this machine (installed Python distributions, the Python
standard library, /usr/share, /usr/include, node_modules, Rust and Go toolchains, and
the hand-made fixtures of tests/fixtures/languages for languages with no real files),
labelled by `corpus.language.identify`; only the 20 reference languages are kept. Each
language's files are read in a seeded-hash order up to a cap, so every language that
exists here is represented. One file in ten (by hash of its id) is held out for
evaluation; the rest is the training pool, sampled with `sample_documents`.

(a) Fertility: tokens per byte of held-out files, per language, of our settings
    (`TokenizerConfig`, BPE) against SentencePiece's defaults (unigram, NFKC, no byte
    fallback, 4192-byte sentences) changed only as far as exact round trips need:
    whitespace preserved (remove_extra_whitespaces=False), identity normalization and
    byte fallback (NFKC rewrites text, unknown characters become <unk>). Both train on
    the same sample (the default model gets it cut into 4192-byte pieces so that it
    drops nothing) with the same vocabulary size, and both must round-trip every
    evaluated file exactly (asserted). Target: ours fewer tokens per byte on every
    reference language present. Languages with too few files to hold any out are
    evaluated on all their files (marked "in sample").
(b) Counting throughput: exact counts of the training pool's texts by `TokenCounter` in
    2 Ray tasks at a time (one per core; each worker process loads the model once and is
    warmed up before timing; Ray started before timing) against a single-process Python
    loop calling `encode` per text with the same model. Each run waits for an idle machine;
    repeats during which other processes used the CPUs are flagged BUSY and left out of
    the ratio (median of per-repeat ratios). Target: >= 1.8x.
(c) Training time of the default 32k model on a `--train-mb` MB sample, then the same
    sample again on one thread: the model bytes must not change.
(d) Encoders on the model of (a) and `--count-mb` MB of the pool, MB per CPU-second:
    SentencePiece's own encode against the piece cache (`tokenizer.fast_encode`, cold
    and warm), three ways to assemble ids, and HF `tokenizers` with the same merges
    (benchmarks/_encode_speed.py). Every contender's ids are checked against
    SentencePiece's. Target: the piece cache >= 4x per CPU-second.
"""

import argparse
import hashlib
import os
import sysconfig
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks._common import MB, Sampler, markdown_table, median, settle

REPO_ROOT = Path(__file__).resolve().parent.parent

REFERENCE_LANGUAGES = (
    "Markdown", "Java", "JavaScript", "Python", "TypeScript", "PHP", "SQL", "JSX",
    "reStructuredText", "Rust", "C", "CSS", "Go", "C++", "HTML", "Vue", "Ruby",
    "Jupyter Notebook", "R", "Shell",
)  # fmt: skip
#: File name endings worth identifying (linguist decides the language).
SUFFIXES = (
    ".md", ".java", ".js", ".mjs", ".cjs", ".py", ".ts", ".mts", ".php", ".sql", ".jsx",
    ".tsx", ".rst", ".rs", ".c", ".h", ".css", ".go", ".cpp", ".cc", ".cxx", ".hpp", ".hh",
    ".html", ".htm", ".vue", ".rb", ".ipynb", ".r", ".R", ".sh", ".bash",
)  # fmt: skip
#: What a suffix almost always holds: files are not read once those languages are full.
LIKELY = {
    ".py": "Python", ".html": "HTML", ".htm": "HTML", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".md": "Markdown", ".rst": "reStructuredText", ".css": "CSS",
    ".ts": "TypeScript", ".php": "PHP", ".sql": "SQL", ".c": "C",
}  # fmt: skip
TARGET_COUNT_RATIO = 1.8
#: A repeat during which other processes used more than this share of the CPUs is flagged.
DISTURBED = 0.15
#: Largest file read (the intake default).
MAX_FILE_BYTES = 1 << 20
#: SentencePiece's default max_sentence_length.
DEFAULT_SENTENCE = 4192


# -- corpus -------------------------------------------------------------------------------


def roots() -> list[str]:
    sites = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    candidates = [
        *sorted(sites), *sorted(Path("/usr/lib").glob("python3*")), "/usr/share", "/usr/include",
        "/usr/lib/node_modules", "/usr/local/lib/node_modules", "/usr/local/go/src",
        *sorted(Path("/usr/lib").glob("go*/src")), os.path.expanduser("~/.rustup/toolchains"),
        os.path.expanduser("~/.cargo/registry/src"), "/usr/lib/google-cloud-sdk/platform",
        str(REPO_ROOT / "tests/fixtures/languages"),
    ]  # fmt: skip
    return [str(r) for r in candidates if os.path.isdir(r)]


def candidate_files() -> list[str]:
    """Regular files with a code suffix under every root, each inode once, sorted."""
    found: dict[tuple[int, int], str] = {}
    for root in roots():
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in {".git", "__pycache__"})
            for name in names:
                if name.endswith(SUFFIXES):
                    path = os.path.join(folder, name)
                    try:
                        st = os.lstat(path)
                    except OSError:
                        continue
                    if os.path.isfile(path) and not os.path.islink(path) and st.st_size > 0:
                        found.setdefault((st.st_dev, st.st_ino), path)
    return sorted(found.values())


def build_corpus(per_language_bytes: int) -> pa.Table:
    """file_id, repo, path, lang, content of up to `per_language_bytes` per language."""
    from corpus.core.schema import file_id
    from corpus.language import identify

    by_hash = sorted(candidate_files(), key=lambda p: hashlib.blake2b(p.encode()).digest())
    used: dict[str, int] = defaultdict(int)
    rows = []
    for path in by_hash:
        likely = LIKELY.get(os.path.splitext(path)[1])
        if os.path.getsize(path) > MAX_FILE_BYTES or used.get(likely, 0) >= per_language_bytes:
            continue
        data = Path(path).read_bytes()
        lang = identify(path, data)
        if lang not in REFERENCE_LANGUAGES or used[lang] >= per_language_bytes or b"\0" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        used[lang] += len(data)
        repo = os.path.dirname(path)
        rows.append({"file_id": file_id(repo, path), "repo": repo, "path": path, "lang": lang,
                     "content": text})  # fmt: skip
    return pa.Table.from_pylist(rows).sort_by("file_id")


def hold_out(corpus: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(training pool, evaluation files): one file in ten by hash of its id."""
    held = [int(f[:8], 16) % 10 == 0 for f in corpus["file_id"].to_pylist()]
    mask = pa.array(held)
    return corpus.filter(pc.invert(mask)), corpus.filter(mask)


def describe(corpus: pa.Table) -> dict[str, tuple[int, int]]:
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for lang, text in zip(corpus["lang"].to_pylist(), corpus["content"].to_pylist(), strict=True):
        sizes[lang][0] += 1
        sizes[lang][1] += len(text.encode())
    return {k: (v[0], v[1]) for k, v in sorted(sizes.items())}


# -- (a) fertility ------------------------------------------------------------------------


def train_default(sample: list[tuple[str, str]], vocab_size: int) -> bytes:
    """SentencePiece's defaults, changed only as far as an exact round trip needs."""
    import io

    import sentencepiece as spm

    from tokenizer.sample import split_long

    def sentences() -> Iterator[str]:
        for _, text in sample:
            yield from split_long(text, DEFAULT_SENTENCE)

    output = io.BytesIO()
    spm.set_random_generator_seed(42)
    spm.SentencePieceTrainer.train(
        sentence_iterator=sentences(), model_writer=output, vocab_size=vocab_size,
        remove_extra_whitespaces=False, normalization_rule_name="identity", byte_fallback=True,
        minloglevel=2, num_threads=os.cpu_count() or 1,
    )  # fmt: skip
    return output.getvalue()


def fertility_table(models: dict[str, bytes], evaluation: pa.Table, in_sample: set[str]):
    from tokenizer.count import TokenCounter, fertility

    results = {}
    for name, model in models.items():
        counter = TokenCounter(model)
        tokenizer = counter.tokenizer
        for text, path in zip(evaluation["content"].to_pylist(), evaluation["path"].to_pylist(),
                              strict=True):  # fmt: skip
            if tokenizer.decode(tokenizer.encode(text)) != text:
                raise SystemExit(f"{name} does not round-trip {path}")
        results[name] = fertility(counter(evaluation))
    rows, wins, langs = [], 0, sorted(results["ours"], key=str.lower)
    for lang in langs:
        ours, default = results["ours"][lang], results["default"][lang]
        better = ours.tokens_per_byte < default.tokens_per_byte
        wins += better
        rows.append([
            lang + (" (in sample)" if lang in in_sample else ""), ours.files, ours.bytes,
            f"{ours.tokens_per_byte:.4f}", f"{default.tokens_per_byte:.4f}",
            f"{ours.chars_per_token:.2f}", f"{default.chars_per_token:.2f}",
            f"{ours.tokens / default.tokens:.3f}", "yes" if better else "**no**",
        ])  # fmt: skip
    headers = [
        "language", "files", "bytes", "tokens/byte ours", "tokens/byte default",
        "chars/token ours", "chars/token default", "tokens ours/default", "ours fewer",
    ]  # fmt: skip
    return markdown_table(headers, rows), wins, len(langs)


# -- (b) counting throughput --------------------------------------------------------------


_COUNTERS: dict[str, object] = {}


def _count_batch(model_bytes: bytes, sha: str, texts: pa.Array) -> int:
    """A Ray task: the model is loaded once per worker process (cached by its sha256)."""
    from tokenizer.count import TokenCounter

    counter = _COUNTERS.get(sha)
    if counter is None:
        _COUNTERS.clear()
        counter = _COUNTERS[sha] = TokenCounter(model_bytes)
    return int(counter.count(texts).sum())  # type: ignore[attr-defined]


def count_with_ray(model_ref, sha: str, batches: list, workers: int) -> int:
    import ray

    remote = ray.remote(_count_batch).options(num_cpus=1)
    pending, total, queue = [], 0, iter(batches)
    for batch in queue:
        pending.append(remote.remote(model_ref, sha, batch))
        if len(pending) >= 2 * workers:
            break
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        total += ray.get(done[0])
        batch = next(queue, None)
        if batch is not None:
            pending.append(remote.remote(model_ref, sha, batch))
    return total


def count_loop(model_bytes: bytes, texts: list[str]) -> int:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    return sum(len(processor.encode(text)) for text in texts)


def _byte_batches(texts: list[str], batch_bytes: int) -> list[pa.Array]:
    """Batches of about `batch_bytes` each, so the last tasks are as short as the others;
    own arrays, not slices: a pickled slice carries its parent's whole buffer."""
    batches, current, size = [], [], 0
    for text in texts:
        current.append(text)
        size += len(text)
        if size >= batch_bytes:
            batches.append(pa.array(current, pa.string()))
            current, size = [], 0
    if current:
        batches.append(pa.array(current, pa.string()))
    return batches


def throughput(model_bytes: bytes, texts: pa.Array, repeats: int, batch_bytes: int):
    import ray

    from corpus.core.cluster import RunnerConfig, ray_session

    size = sum(len(t.encode()) for t in texts.to_pylist()) / MB
    plain = texts.to_pylist()
    batches = _byte_batches(plain, batch_bytes)
    sha = hashlib.sha256(model_bytes).hexdigest()
    times: dict[str, list[float]] = {"loop": [], "ray": []}
    busy: list[bool] = []
    with ray_session(RunnerConfig(workers=2)):
        model_ref = ray.put(model_bytes)
        count_with_ray(model_ref, sha, batches[:8], 2)  # warm-up: workers load the model
        expected = None
        for repeat in range(repeats):
            disturbed = False
            for side in ("loop", "ray") if repeat % 2 == 0 else ("ray", "loop"):
                settle()
                with Sampler(interval=0.25) as sampler:  # this driver and all of Ray
                    start = time.perf_counter()
                    if side == "loop":
                        total = count_loop(model_bytes, plain)
                    else:
                        total = count_with_ray(model_ref, sha, batches, 2)
                    times[side].append(time.perf_counter() - start)
                if expected not in (None, total):
                    raise SystemExit(f"token totals differ: {expected} vs {total}")
                expected = total
                flag = " BUSY" if sampler.other_share > DISTURBED else ""
                disturbed = disturbed or bool(flag)
                print(f"  count #{repeat + 1} {side:4s} {times[side][-1]:6.2f} s (other processes "
                      f"used {sampler.other_share:.0%} of the CPUs{flag})", flush=True)  # fmt: skip
            busy.append(disturbed)
    pairs = list(zip(times["loop"], times["ray"], busy, strict=True))
    calm = [(a, b) for a, b, d in pairs if not d] or [(a, b) for a, b, _ in pairs]
    ratio = median([a / b for a, b in calm])
    return size, expected, times, ratio, len(calm)


# -- driver -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """0 when every target of the parts run is met, else 2."""
    args = _parser().parse_args(argv)
    if args.quick:
        args.train_mb, args.fertility_mb, args.count_mb, args.vocab = 10, 10, 10, 8192
    start = time.perf_counter()
    corpus = build_corpus(per_language_bytes=int(max(args.train_mb, args.count_mb) * 0.3 * MB))
    pool, evaluation = hold_out(corpus)
    found = describe(corpus)
    print(f"corpus: {corpus.num_rows} files, {sum(b for _, b in found.values()) / MB:.1f} MB "
          f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
    print(markdown_table(["language", "files", "MB"],
                         [[k, n, f"{b / MB:.2f}"] for k, (n, b) in found.items()]))  # fmt: skip
    missing = [lang for lang in REFERENCE_LANGUAGES if lang not in found]
    print(f"reference languages present: {len(found)} of 20; missing: {missing or 'none'}")
    # languages whose few files all fell in the training pool: evaluate on all of them
    held = set(evaluation["lang"].to_pylist())
    in_sample = {lang for lang in found if lang not in held}
    extra = corpus.filter(pc.is_in(corpus["lang"], pa.array(sorted(in_sample))))
    evaluation = pa.concat_tables([evaluation, extra])
    met = True
    model = None
    if "a" in args.parts:
        model, fertile = part_a(pool, evaluation, in_sample, args)
        met = met and fertile
    if "b" in args.parts:
        met = part_b(model or _ours(pool, args)[0], pool, args) and met
    if "c" in args.parts:
        part_c(pool, args)
    if "d" in args.parts:
        from benchmarks._encode_speed import encode_speed

        if model is None and args.model and Path(args.model).is_file():
            model = Path(args.model).read_bytes()
        if model is None:
            model = _ours(pool, args)[0]
            if args.model:
                Path(args.model).write_bytes(model)
        texts = _first_mb(pool["content"], args.count_mb).to_pylist()
        met = encode_speed(model, texts, args.repeats, int(args.batch_mb * MB)) and met
    return 0 if met else 2


def _ours(pool: pa.Table, args: argparse.Namespace) -> tuple[bytes, list[tuple[str, str]]]:
    from tokenizer.config import TokenizerConfig
    from tokenizer.sample import sample_documents
    from tokenizer.train import train_tokenizer

    config = TokenizerConfig(vocab_size=args.vocab, sample_bytes=int(args.fertility_mb * MB),
                             num_threads=os.cpu_count() or 1)  # fmt: skip
    sample = sample_documents(pool, config)
    return train_tokenizer(sample, config).model_bytes, sample


def part_a(pool: pa.Table, evaluation: pa.Table, in_sample: set[str], args) -> tuple[bytes, bool]:
    t0 = time.perf_counter()
    ours, sample = _ours(pool, args)
    t1 = time.perf_counter()
    default = train_default(sample, args.vocab)
    t2 = time.perf_counter()
    sample_mb = sum(len(t.encode()) for _, t in sample) / MB
    print(f"\n(a) both {args.vocab}-piece models trained on the same {sample_mb:.1f} MB sample "
          f"({len(sample)} files): ours (BPE) {t1 - t0:.1f} s, default (unigram) "
          f"{t2 - t1:.1f} s")  # fmt: skip
    table, wins, langs = fertility_table({"ours": ours, "default": default}, evaluation, in_sample)
    print(f"\n## (a) Fertility on held-out files, vocab {args.vocab}\n\n{table}\n")
    print(f"- ours has fewer tokens per byte on {wins} of {langs} reference languages present "
          f"(target: all) -> {'met' if wins == langs else 'NOT met'}")  # fmt: skip
    return ours, wins == langs


def part_b(model: bytes, pool: pa.Table, args: argparse.Namespace) -> bool:
    texts = _first_mb(pool["content"], args.count_mb)
    print(f"\n(b) counting {len(texts)} texts with the {args.vocab}-piece model...", flush=True)
    batch_bytes = int(args.batch_mb * MB)
    size, tokens, times, ratio, calm = throughput(model, texts, args.repeats, batch_bytes)
    loop_s, ray_s = median(times["loop"]), median(times["ray"])
    print(f"\n## (b) Counting {size:.1f} MB ({tokens} tokens), median of {args.repeats}\n")
    print(markdown_table(
        ["contender", "time", "MB/s"],
        [["single-process loop", f"{loop_s:.2f} s", f"{size / loop_s:.2f}"],
         ["TokenCounter, 2 Ray tasks", f"{ray_s:.2f} s", f"{size / ray_s:.2f}"]],
    ))  # fmt: skip
    verdict = "met" if ratio >= TARGET_COUNT_RATIO else "NOT met"
    print(f"- ratio {ratio:.2f}x (median of the per-repeat ratios of the {calm} repeats that "
          f"did not share the CPUs; target >= {TARGET_COUNT_RATIO}x) -> {verdict}; "
          f"{os.cpu_count()} cores here")  # fmt: skip
    return ratio >= TARGET_COUNT_RATIO


def part_c(pool: pa.Table, args: argparse.Namespace) -> None:
    """Training time of the default (32k) model, then the same sample on one thread: the
    model bytes must be identical (BPE's pieces do not depend on the thread count)."""
    from tokenizer.config import TokenizerConfig
    from tokenizer.sample import sample_documents
    from tokenizer.train import train_tokenizer

    full = TokenizerConfig(sample_bytes=int(args.train_mb * MB), num_threads=os.cpu_count() or 1)
    sample = sample_documents(pool, full)
    sample_mb = sum(len(t.encode()) for _, t in sample) / MB
    print(f"\n(c) training the {full.vocab_size}-piece model on {sample_mb:.1f} MB...", flush=True)
    settle()
    trained = train_tokenizer(sample, full)
    print(f"\n## (c) Training: {full.vocab_size} pieces, {sample_mb:.1f} MB, "
          f"{trained.stats.documents} files, {full.num_threads} threads\n")  # fmt: skip
    print(f"- {trained.stats.seconds:.1f} s ({sample_mb / trained.stats.seconds:.2f} MB/s); "
          f"model {len(trained.model_bytes) / 1e3:.0f} kB, sha256 {trained.sha256[:16]}; "
          f"{trained.stats.split_documents} documents split at line boundaries")  # fmt: skip
    by_lang = ", ".join(f"{k} {v / MB:.1f}" for k, v in trained.stats.bytes_by_language.items())
    print(f"- sample MB per language: {by_lang}")
    if args.determinism:
        again = train_tokenizer(sample, replace(full, num_threads=1))
        same = "same" if again.sha256 == trained.sha256 else "DIFFERENT"
        print(f"- again on 1 thread: {again.stats.seconds:.1f} s, {same} model "
              f"(sha256 {again.sha256[:16]})")  # fmt: skip


def _first_mb(texts: pa.ChunkedArray, megabytes: float) -> pa.Array:
    total, end = 0, 0
    for end, text in enumerate(texts.to_pylist(), start=1):  # noqa: B007
        total += len(text.encode())
        if total >= megabytes * MB:
            break
    return texts.slice(0, end).combine_chunks()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-mb", type=float, default=100, help="(c) sample MB (100)")
    parser.add_argument("--fertility-mb", type=float, default=30, help="(a) sample MB (30)")
    parser.add_argument("--count-mb", type=float, default=30, help="(b) MB counted (30)")
    parser.add_argument("--vocab", type=int, default=32768, help="(a), (b) vocabulary (32768)")
    parser.add_argument("--repeats", type=int, default=5, help="(b) timed repeats (5)")
    parser.add_argument("--batch-mb", type=float, default=0.5, help="(b) MB per Ray task (0.5)")
    parser.add_argument("--parts", default="abcd", help="which parts to run (abcd)")
    parser.add_argument("--no-determinism", dest="determinism", action="store_false",
                        help="(c): skip retraining on one thread")  # fmt: skip
    parser.add_argument("--model", help="(d): a .model file to use (trained and saved there "
                        "if missing)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="8k vocab, 10 MB everywhere")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
