"""Header-only repositories: the held-out packages with their license files and manifests
removed, so only the notices in source files' headers say what covers them.

Packages qualify when one of their first HEADER_FILES source files carries license wording
in its leading 60 lines (`license`, `licence`, `SPDX-License-Identifier`, `public domain`):
a test of the files, not of either tool. Both tools get the same stripped folders; scored
against the package's truth as in benchmarks/license_heldout.py.

Run: python benchmarks/licenses_header_only.py --dir /tmp/license-heldout \
        [--scancode /tmp/scvenv/bin/scancode]
"""

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.license_heldout import TRUTH, archive_of, extract, predict
from benchmarks.licenses_scancode import scancode, scores
from corpus.licenses.evidence import evidence_kind

WORDING = re.compile(rb"(?i)licen[sc]e|SPDX-License-Identifier|public domain")


def header_only(folder: Path) -> bool:
    """Remove the root evidence; True when a source file's header still names a license."""
    for path in [p for p in folder.rglob("*") if p.is_file()]:
        if evidence_kind(path.relative_to(folder).as_posix()) is not None:
            path.unlink()
    for path in folder.rglob("*"):
        if path.is_file() and WORDING.search(b"".join(path.read_bytes().splitlines(True)[:60])):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/license-heldout"))
    parser.add_argument("--scancode", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "packages"
        names = []
        for name in sorted(TRUTH):
            archive = archive_of(args.dir, name)
            if archive is None:
                continue
            extract(archive, root / name)
            if header_only(root / name):
                names.append(name)
            else:
                for path in sorted((root / name).rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
                (root / name).rmdir()
        start = time.perf_counter()
        ours = {n: predict(root / n) for n in names}
        ours_s = time.perf_counter() - start
        theirs, theirs_s = {}, 0.0
        if args.scancode:
            start = time.perf_counter()
            theirs = scancode(args.scancode, root)
            theirs_s = time.perf_counter() - start
    print(f"{len(names)} header-only packages: package | truth | codecorpus | ScanCode")
    for n in names:
        print(f"  {n} | {TRUTH[n]} | {ours[n]} | {theirs.get(n)}")
    a = scores([(n, TRUTH[n], ours[n]) for n in names])
    print(f"\ncodecorpus: permissive-or-not {a['class']}, exact {a['exact']}, falsely permissive "
          f"{len(a['falsely'])} {a['falsely'] or ''}, {ours_s:.1f} s")  # fmt: skip
    if args.scancode:
        b = scores([(n, TRUTH[n], theirs.get(n)) for n in names])
        print(f"ScanCode: permissive-or-not {b['class']}, exact {b['exact']}, falsely permissive "
              f"{len(b['falsely'])} {b['falsely'] or ''}, {theirs_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
