"""Per-language accuracy of corpus.language.identify over the labelled set of
tests/language_samples.py (real files of certain language on this machine, plus the
hand-made fixtures), as a Markdown table, then every misidentified file.

    python benchmarks/language_accuracy.py [--per-source N]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.language_samples import PER_SOURCE, collect, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=PER_SOURCE)
    args = parser.parse_args()
    result = score(collect(args.per_source))
    print(result.markdown())
    print(f"\nMisidentified: {len(result.misses)}")
    for path, expected, predicted in result.misses:
        print(f"- `{path}`: expected {expected}, got {predicted}")


if __name__ == "__main__":
    main()
