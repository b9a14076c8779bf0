"""Held-out license accuracy: real PyPI sdists that are not installed in the test environment.

The builder downloads each package's source distribution (`--download`, the only step that
needs the network; tests never run it), unpacks it, and reads every evidence file of the
archive's root folder (license files, PKG-INFO and other manifests, README license
sections, NOTICE files) the way ingest does; the repository license is the root folder's
combined expression (corpus.licenses.scope.combine). Truth is written by hand below, from
each package's own license files and declared metadata (comments where they disagree).

Run: python benchmarks/license_heldout.py --download --dir /tmp/license-heldout
     python benchmarks/license_heldout.py --dir /tmp/license-heldout
Before/after: run the second line with PYTHONPATH pointing at a checkout of the older code.
"""

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa

from corpus.core.license_class import LicenseClass, license_class, licensing
from corpus.licenses.evidence import analyse, evidence_kind, scope_of
from corpus.licenses.headers import header_notice
from corpus.licenses.scope import ScopeIndex, combine

#: Source files per package whose header notices are read (sorted by path), as ingest would.
HEADER_FILES = 20
SOURCE_SUFFIXES = (".py", ".c", ".h", ".js", ".pyx", ".cpp", ".ts", ".go", ".rs", ".java")

#: package -> SPDX expression its maintainers state (license files first, metadata second).
TRUTH: dict[str, str] = {
    "inflection": "MIT", "tabulate": "MIT", "humanize": "MIT", "colorlog": "MIT",
    "tinydb": "MIT", "marshmallow": "MIT", "parse": "MIT", "schema": "MIT",
    "emoji": "BSD-3-Clause", "more-itertools": "MIT", "tomlkit": "MIT", "wcwidth": "MIT",
    "mistune": "BSD-3-Clause", "toml": "MIT", "docopt": "MIT", "isodate": "BSD-3-Clause",
    "webencodings": "BSD-3-Clause", "pyflakes": "MIT", "snowballstemmer": "BSD-3-Clause",
    "imagesize": "MIT", "alabaster": "BSD-3-Clause", "babel": "BSD-3-Clause",
    "dill": "BSD-3-Clause", "cloudpickle": "BSD-3-Clause", "ply": "BSD-3-Clause",
    "pycodestyle": "MIT", "mccabe": "MIT", "retrying": "Apache-2.0", "arrow": "Apache-2.0",
    "asttokens": "Apache-2.0", "pexpect": "ISC", "ptyprocess": "ISC",
    "paramiko": "LGPL-2.1-only", "python-xlib": "LGPL-2.1-or-later",
    "frozendict": "LGPL-3.0-only", "mutagen": "GPL-2.0-or-later",
    "pylint": "GPL-2.0-or-later", "astroid": "LGPL-2.1-or-later",
    "yamllint": "GPL-3.0-or-later", "pycairo": "LGPL-2.1-only OR MPL-1.1",
    "unidecode": "GPL-2.0-or-later", "html2text": "GPL-3.0-or-later", "pathspec": "MPL-2.0",
    "fqdn": "MPL-2.0", "pyroute2": "GPL-2.0-or-later OR Apache-2.0",
    "sniffio": "MIT OR Apache-2.0", "trio": "MIT OR Apache-2.0",
    "outcome": "MIT OR Apache-2.0", "zipp": "MIT", "bleach": "Apache-2.0", "html5lib": "MIT",
    "jellyfish": "MIT", "text-unidecode": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    # chardet 7 was relicensed: its LICENSE is the 0BSD text, PKG-INFO says 0BSD
    "chardet": "0BSD", "bcrypt": "Apache-2.0", "simplejson": "MIT OR AFL-2.1",
    "decorator": "BSD-2-Clause", "distro": "Apache-2.0", "python-slugify": "MIT",
    "ujson": "BSD-3-Clause", "natsort": "MIT", "argcomplete": "Apache-2.0",
    "executing": "MIT", "pure-eval": "MIT", "stack-data": "MIT", "jedi": "MIT",
    # parso declares MIT; its LICENSE.txt: stdlib-derived files are PSF, modifications
    # "dual licensed (both MIT and PSF)": the repository holds both
    "parso": "MIT AND PSF-2.0", "tornado": "Apache-2.0", "zope.interface": "ZPL-2.1",
    "cssselect": "BSD-3-Clause", "lxml": "BSD-3-Clause",
    # exceptions: pygit2's COPYING is the GPL-2.0 with libgit2's linking exception (the
    # GCC-exception-2.0 text; PKG-INFO: "GPLv2 with linking exception", "only ... v2")
    "pygit2": "GPL-2.0-only WITH GCC-exception-2.0",
}  # fmt: skip
#: Ids that name the same grant for this comparison (as tests/license_samples.py).
EQUIVALENT = {"Python-2.0.1": "PSF-2.0", "Python-2.0": "PSF-2.0"}
MAX_BYTES = 1 << 20


def download(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def one(name: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", name, "-d", str(folder), name],
            check=False, capture_output=True,
        )  # fmt: skip

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(one, names))


def archive_of(folder: Path, name: str) -> Path | None:
    stem = name.replace("-", "_").replace(".", "_").lower()
    for path in sorted(folder.iterdir()):
        base = path.name.lower().replace("-", "_").replace(".", "_")
        if base.startswith(stem + "_") and path.name.endswith((".tar.gz", ".zip", ".tgz")):
            return path
    return None


def root_evidence(archive: Path) -> list[dict]:
    """Evidence rows of the archive's root folder (its single top-level directory)."""
    rows = []
    for member, read in _members(archive):
        rel = member.split("/", 1)[1] if "/" in member else ""
        if not rel or evidence_kind(rel) is None or scope_of(rel) != "":
            continue
        data = read()
        if data is None or b"\0" in data[:8000]:
            continue
        found = analyse(rel, data[:MAX_BYTES].decode("utf-8", errors="replace"))
        if found is not None:
            rows.append({"path": rel, "kind": found.kind.value, "expression": found.expression,
                         "score": found.score})  # fmt: skip
    return rows


def extract(archive: Path, into: Path) -> None:
    """The package's root evidence files and its first HEADER_FILES source files (in archive
    order)."""
    sources = 0
    for member, read in _members(archive):  # archive order
        rel = member.split("/", 1)[1] if "/" in member else ""
        if not rel:
            continue
        evidence = evidence_kind(rel) is not None and scope_of(rel) == ""
        source = evidence_kind(rel) is None and rel.endswith(SOURCE_SUFFIXES)
        if evidence or (source and sources < HEADER_FILES):
            sources += 0 if evidence else 1
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())


def predict(folder: Path) -> str | None:
    """The license a file at the package root without a header of its own gets: the root
    evidence, else the agreeing header notices of its source files (scope.ScopeIndex)."""
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()[:MAX_BYTES]
        if b"\0" in data[:8000]:
            continue
        text = data.decode("utf-8", errors="replace")
        if evidence_kind(rel) is not None:
            found = analyse(rel, text) if scope_of(rel) == "" else None
            if found is not None:
                rows.append({"repo": "", "scope": "", "path": rel, "kind": found.kind.value,
                             "expression": found.expression, "score": found.score})  # fmt: skip
        elif notice := header_notice(text):
            rows.append({"repo": "", "scope": scope_of(rel), "path": rel, "kind": "header",
                         "expression": notice.expression, "score": notice.score})  # fmt: skip
    if not rows:
        return None
    return ScopeIndex(pa.Table.from_pylist(rows)).resolve("", "(root file)").expression


def _members(archive: Path):
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info: z.read(info)
        return
    with tarfile.open(archive) as t:
        for info in t.getmembers():
            if info.isfile():
                yield info.name, lambda info=info: t.extractfile(info).read()


def keys(expression: str | None) -> frozenset[str]:
    if not expression:
        return frozenset()
    return frozenset(EQUIVALENT.get(k, k) for k in licensing().license_keys(expression))


def same(predicted: str | None, truth: str) -> bool:
    if predicted is None:
        return False
    try:
        a = licensing().parse(predicted, validate=False, strict=False)
        b = licensing().parse(truth, validate=False, strict=False)
    except Exception:
        return False
    return a is not None and licensing().is_equivalent(a, b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/license-heldout"))
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--root-only", action="store_true",
                        help="root evidence only, as before header notices were read")
    args = parser.parse_args()
    if args.download:
        download(args.dir, sorted(TRUTH))
    rows, missing = [], []
    for name, truth in sorted(TRUTH.items()):
        archive = archive_of(args.dir, name) if args.dir.exists() else None
        if archive is None:
            missing.append(name)
            continue
        if args.root_only:  # the evidence of the root folder alone (before header notices)
            evidence = root_evidence(archive)
            predicted = combine(evidence).expression if evidence else None
        else:
            with tempfile.TemporaryDirectory() as tmp:
                extract(archive, Path(tmp))
                predicted = predict(Path(tmp))
        rows.append((name, truth, predicted))
    single = [r for r in rows if " OR " not in r[1] and " AND " not in r[1]]
    exact = sum(same(p, t) for _, t, p in rows)
    exact_single = sum(same(p, t) for _, t, p in single)
    classes = sum(license_class(p) == license_class(t) for _, t, p in rows)
    falsely = [n for n, t, p in rows if license_class(p) == LicenseClass.PERMISSIVE
               and license_class(t) != LicenseClass.PERMISSIVE]  # fmt: skip
    lost = [n for n, t, p in rows if license_class(t) == LicenseClass.PERMISSIVE
            and license_class(p) != LicenseClass.PERMISSIVE]  # fmt: skip
    print("misses (package | truth | predicted):")
    for name, truth, predicted in rows:
        if not same(predicted, truth):
            print(f"  {name} | {truth} | {predicted}")
    if missing:
        print(f"not downloaded: {', '.join(missing)}")
    n = max(1, len(rows))
    print()
    print("| metric | value |")
    print("|---|---|")
    print(f"| packages | {len(rows)} ({len(single)} single-license) |")
    print(f"| exact expression, single-license | {exact_single}/{len(single)} "
          f"({exact_single / max(1, len(single)):.1%}) |")  # fmt: skip
    print(f"| exact expression, all | {exact}/{len(rows)} ({exact / n:.1%}) |")
    print(f"| permissive-or-not right | {classes}/{len(rows)} ({classes / n:.1%}) |")
    print(f"| falsely permissive | {len(falsely)} {falsely or ''} |")
    print(f"| permissive packages not passed | {len(lost)} {lost or ''} |")


if __name__ == "__main__":
    main()
