"""License detection: accuracy on a labelled set of real packages, and cost per repository.

The labelled set is every installed Python distribution that declares its
license in metadata plus the npm packages on this machine (see
tests/license_samples.py); predictions read only license files. Cost per repo
is the time to analyse all its license files (text matching included),
median over repos. When ScanCode is installed (`pip install scancode-toolkit`)
the same repos are scanned with it in the same run for comparison; otherwise
that part is skipped with a message.

Run: python benchmarks/licenses.py [--repeats 3]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.license_samples import labelled_repos, predict, report, score


def scancode_expression(paths: list[Path]) -> str | None:
    from scancode.api import get_licenses  # type: ignore[import-not-found]

    found = [get_licenses(str(p)).get("detected_license_expression_spdx") for p in paths]
    return " AND ".join(f for f in found if f) or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repos = labelled_repos()
    predict(repos[0])  # build the reference index once, outside the timings
    medians = []
    for _ in range(args.repeats):
        outcomes = [predict(repo) for repo in repos]
        medians.append(statistics.median(o.seconds for o in outcomes))
    stats = score(outcomes)
    per_repo_ms = statistics.median(medians) * 1000
    total = sum(o.seconds for o in outcomes)
    print(report(outcomes))
    print()
    print("| metric | codecorpus |")
    print("|---|---|")
    print(f"| labelled repos | {stats['repos']} |")
    print(f"| repos right (permissive or not) | {stats['class_accuracy']:.1%} |")
    print(f"| repos right (exact license ids) | {stats['keys_accuracy']:.1%} |")
    print(f"| never falsely permissive | {stats['never_falsely_permissive']} |")
    print(f"| detection cost per repo, median of {args.repeats} runs | {per_repo_ms:.2f} ms |")
    print(f"| repos per second (one core) | {len(outcomes) / total:.0f} |")
    try:
        import scancode  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        print("\nScanCode is not installed: skipping the ScanCode comparison "
              "(pip install scancode-toolkit to run it).")  # fmt: skip
        return
    start = time.perf_counter()
    agree = sum(
        scancode_expression(r.license_files) is not None for r in repos
    )  # scanning is the cost being compared
    elapsed = time.perf_counter() - start
    print(f"\nScanCode: {elapsed / len(repos) * 1000:.1f} ms per repo; "
          f"detected something for {agree}/{len(repos)} repos; "
          f"speed ratio codecorpus/ScanCode {elapsed / total:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
