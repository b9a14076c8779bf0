"""Accuracy against ScanCode on the held-out set (benchmarks/license_heldout.py).

Both tools get the same files: each package's root evidence files (license files, manifests,
README, NOTICE) plus the first HEADER_FILES source files of the package (sorted by path),
whose headers our matcher reads too. ScanCode (scancode-toolkit, the `bench-licenses` extra,
or its own venv: `--scancode PATH`) scans them in one run; a package's ScanCode license is the
AND of the distinct `detected_license_expression_spdx` of its files. Ours: the root folder's
combined expression (license_heldout.predict). Scored against the hand-written truth.

Run: python benchmarks/licenses_scancode.py --dir /tmp/license-heldout \
        --scancode /tmp/scvenv/bin/scancode
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.license_heldout import TRUTH, archive_of, extract, predict, same
from corpus.core.license_class import LicenseClass, license_class, licensing


def scancode(binary: str, root: Path) -> dict[str, str | None]:
    out = root.parent / "scancode.json"
    subprocess.run([binary, "--license", "-n", "2", "--quiet", "--json", str(out), str(root)],
                   check=True)  # fmt: skip
    found: dict[str, list[str]] = {}
    for entry in json.loads(out.read_text())["files"]:
        parts = Path(entry["path"]).parts
        if entry.get("type") != "file" or len(parts) < 2:
            continue
        expression = entry.get("detected_license_expression_spdx")
        found.setdefault(parts[1], [])
        if expression:
            found[parts[1]].append(expression)
    return {name: _and(exprs) for name, exprs in found.items()}


def _and(expressions: list[str]) -> str | None:
    distinct = list(dict.fromkeys(expressions))
    if not distinct:
        return None
    joined = " AND ".join(f"({e})" for e in distinct)
    try:
        return str(licensing().parse(joined, validate=False, strict=False).simplify())
    except Exception:
        return joined


def scores(rows: list[tuple[str, str, str | None]]) -> dict:
    n = max(1, len(rows))
    classes = sum(license_class(p) == license_class(t) for _, t, p in rows)
    exact = sum(same(p, t) for _, t, p in rows)
    falsely = [name for name, t, p in rows if license_class(p) == LicenseClass.PERMISSIVE
               and license_class(t) != LicenseClass.PERMISSIVE]  # fmt: skip
    return {"class": f"{classes}/{len(rows)} ({classes / n:.1%})",
            "exact": f"{exact}/{len(rows)} ({exact / n:.1%})", "falsely": falsely}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/license-heldout"))
    parser.add_argument("--scancode", default="scancode")
    args = parser.parse_args()
    names = [n for n in sorted(TRUTH) if archive_of(args.dir, n)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "packages"
        for name in names:
            extract(archive_of(args.dir, name), root / name)
        start = time.perf_counter()
        ours = {name: predict(root / name) for name in names}
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = scancode(args.scancode, root)
        theirs_s = time.perf_counter() - start
    rows_ours = [(n, TRUTH[n], ours[n]) for n in names]
    rows_theirs = [(n, TRUTH[n], theirs.get(n)) for n in names]
    print("package | truth | codecorpus | ScanCode")
    for n in names:
        if not (same(ours[n], TRUTH[n]) and same(theirs.get(n), TRUTH[n])):
            print(f"  {n} | {TRUTH[n]} | {ours[n]} | {theirs.get(n)}")
    a, b = scores(rows_ours), scores(rows_theirs)
    print(f"\n| metric ({len(names)} packages) | codecorpus | ScanCode {_version(args.scancode)} |")
    print("|---|---|---|")
    print(f"| permissive-or-not right | {a['class']} | {b['class']} |")
    print(f"| exact license ids | {a['exact']} | {b['exact']} |")
    print(f"| falsely permissive | {len(a['falsely'])} {a['falsely'] or ''} | "
          f"{len(b['falsely'])} {b['falsely'] or ''} |")  # fmt: skip
    print(f"| wall time, all packages | {ours_s:.1f} s | {theirs_s:.1f} s (-n 2) |")


def _version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        return out.stdout.strip().split()[-1]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
