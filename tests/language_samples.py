"""A labelled language-identification set: real files of certain language found offline on
this machine, plus the hand-made fixtures of tests/fixtures/languages (labels.yaml).

A source contributes only when its files exist here; each source gives at most `per_source`
files, spread evenly over its sorted paths, so the set is deterministic for one machine.
Helpers only: the tests live in tests/corpus/test_language.py.
"""

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sysconfig
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from corpus.language import identify

FIXTURES = Path(__file__).parent / "fixtures" / "languages"
MAX_BYTES = 256 * 1024
PER_SOURCE = 40

#: (path, expected language)
Sample = tuple[str, str]

#: ISO C and POSIX headers: C by definition, whatever C++ glibc guards inside.
STANDARD_C_HEADERS = (
    "aio.h", "arpa/inet.h", "assert.h", "complex.h", "cpio.h", "ctype.h", "dirent.h", "dlfcn.h",
    "errno.h", "fcntl.h", "fenv.h", "fmtmsg.h", "fnmatch.h", "ftw.h", "glob.h", "grp.h",
    "iconv.h", "inttypes.h", "langinfo.h", "libgen.h", "limits.h", "locale.h", "math.h",
    "monetary.h", "mqueue.h", "net/if.h", "netdb.h", "netinet/in.h", "netinet/tcp.h",
    "nl_types.h", "poll.h", "pthread.h", "pwd.h", "regex.h", "sched.h", "search.h",
    "semaphore.h", "setjmp.h", "signal.h", "spawn.h", "stdint.h", "stdio.h", "stdlib.h",
    "string.h", "strings.h", "sys/mman.h", "sys/select.h", "sys/socket.h", "sys/stat.h",
    "sys/time.h", "sys/types.h", "sys/uio.h", "sys/un.h", "sys/utsname.h", "sys/wait.h",
    "syslog.h", "tar.h", "termios.h", "tgmath.h", "threads.h", "time.h", "uchar.h", "unistd.h",
    "utime.h", "utmpx.h", "wchar.h", "wctype.h", "wordexp.h",
)  # fmt: skip

SHELL_SHEBANGS = (b"#!/bin/sh", b"#! /bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash")


@dataclass(frozen=True)
class Source:
    """Files under `roots` (glob patterns) whose names end with one of `suffixes`."""

    label: str
    roots: tuple[str, ...]
    suffixes: tuple[str, ...]
    recursive: bool = True

    def candidates(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.roots:
            for root in glob.glob(os.path.expanduser(pattern)):
                found.update(p for p in _files(root, self.recursive) if p.endswith(self.suffixes))
        return sorted(found)


@functools.cache
def _files(root: str, recursive: bool) -> tuple[str, ...]:
    """Regular files (not links) under `root`, sorted."""
    out: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        out.extend(
            path
            for path in (os.path.join(folder, name) for name in names)
            if not os.path.islink(path)
        )
        if not recursive:
            break
    return tuple(sorted(out))


def _npm_roots() -> list[str]:
    roots = ["/usr/lib/node_modules", "/usr/local/lib/node_modules"]
    npm = shutil.which("npm")
    if npm:
        try:
            done = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30)
            roots.append(done.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return sorted({r for r in roots if r and os.path.isdir(r)})


def _c_headers() -> list[str]:
    found = []
    for name in STANDARD_C_HEADERS:
        paths = [f"/usr/include/{name}", *sorted(glob.glob(f"/usr/include/*-linux-*/{name}"))]
        found.extend(next(([p] for p in paths if os.path.isfile(p)), []))
    return sorted(found)


def _shell_scripts() -> list[str]:
    """Extension-less scripts whose shebang names sh or bash."""
    found = []
    for root in ("/usr/bin", "/usr/sbin", "/etc/init.d"):
        for path in _files(root, False) if os.path.isdir(root) else ():
            if "." in os.path.basename(path):
                continue
            try:
                with open(path, "rb") as stream:
                    first = stream.readline(128).rstrip()
            except OSError:
                continue
            if first in SHELL_SHEBANGS:
                found.append(path)
    return found


def sources() -> list[tuple[str, Callable[[], list[str]]]]:
    """(label, candidate finder) for every kind of real file this collector knows."""
    sites = tuple(sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}))
    npm = tuple(_npm_roots())
    doc = ("/usr/share/doc",)
    # One toolchain's docs: a second toolchain repeats most of its files.
    rust_doc = tuple(
        sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/share/doc/rust/html")))[:1]
    )
    plain = [
        Source("Python", sites, (".py",)),
        Source("C", sites, (".c",)),
        Source("C++", ("/usr/include/c++/*/bits",), (".h",), recursive=False),
        Source("C++", tuple(f"{s}/pyarrow/include/arrow" for s in sites), (".h",), recursive=False),
        Source("C++", sites, (".cpp", ".cc", ".hpp")),
        Source("JavaScript", npm, (".js",)),
        Source("JavaScript", tuple(f"{r}/static.files" for r in rust_doc), (".js",)),
        Source("TypeScript", npm, (".ts", ".mts", ".cts")),
        Source("Markdown", npm + sites, (".md",)),
        Source("reStructuredText", sites + doc, (".rst",)),
        Source("Shell", npm + sites, (".sh",)),
        Source("SQL", ("/usr/share/postgresql",), (".sql",)),
        Source("HTML", sites + doc, (".html",)),
        Source("HTML", tuple(f"{r}/book" for r in rust_doc), (".html",), recursive=False),
        Source("CSS", sites + doc, (".css",)),
        Source("CSS", tuple(f"{r}/static.files" for r in rust_doc), (".css",)),
        Source(
            "Rust",
            (
                "~/.cargo/registry/src/*/*/src",
                "~/.rustup/toolchains/*/lib/rustlib/src/rust/library",
            ),
            (".rs",),
        ),
        Source("Rust", tuple(f"{r}/*" for r in rust_doc), (".rs",), recursive=False),
        Source("Go", ("/usr/local/go/src", "/usr/lib/go*/src", "~/go/pkg/mod", *doc), (".go",)),
        Source("Ruby", ("/usr/lib/ruby", *doc), (".rb",)),
        Source("PHP", ("/usr/share/php", "/usr/lib/google-cloud-sdk/platform", *doc), (".php",)),
        Source("Java", doc, (".java",)),
    ]
    finders: list[tuple[str, Callable[[], list[str]]]] = [(s.label, s.candidates) for s in plain]
    return [*finders, ("C", _c_headers), ("Shell", _shell_scripts)]


def spread(paths: Sequence[str], n: int) -> list[str]:
    """`n` paths evenly spaced over `paths` (all of them when there are fewer)."""
    if len(paths) <= n:
        return list(paths)
    return [paths[i * len(paths) // n] for i in range(n)]


def fixture_samples() -> list[Sample]:
    labels = yaml.safe_load((FIXTURES / "labels.yaml").read_text(encoding="utf-8"))
    return [(str(FIXTURES / rel), label) for rel, label in sorted(labels.items())]


def real_samples(per_source: int = PER_SOURCE) -> list[Sample]:
    """Real files, at most `per_source` from each source; duplicates (by content) once."""
    samples: list[Sample] = []
    seen: set[bytes] = set()
    for label, find in sources():
        usable = [p for p in find() if 0 < os.path.getsize(p) <= MAX_BYTES]
        for path in spread(usable, per_source):
            digest = hashlib.sha1(Path(path).read_bytes()).digest()
            if digest not in seen:
                seen.add(digest)
                samples.append((path, label))
    return samples


def collect(per_source: int = PER_SOURCE) -> list[Sample]:
    """The whole labelled set: real files, then the hand-made fixtures."""
    return real_samples(per_source) + fixture_samples()


@dataclass(frozen=True)
class Score:
    """Per-language counts and every misidentified file with what `identify` said."""

    files: Counter[str]
    correct: Counter[str]
    misses: list[tuple[str, str, str | None]]  # (path, expected, predicted)

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / max(1, sum(self.files.values()))

    def of(self, label: str) -> float:
        return self.correct[label] / self.files[label]

    def markdown(self) -> str:
        lines = ["| language | files | correct | accuracy |", "|---|---:|---:|---:|"]
        for label in sorted(self.files, key=str.lower):
            lines.append(
                f"| {label} | {self.files[label]} | {self.correct[label]} | {self.of(label):.1%} |"
            )
        total, right = sum(self.files.values()), sum(self.correct.values())
        lines.append(f"| **all** | {total} | {right} | {self.accuracy:.1%} |")
        return "\n".join(lines)


def score(samples: Iterable[Sample]) -> Score:
    files: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    misses = []
    for path, expected in samples:
        predicted = identify(path, Path(path).read_bytes())
        files[expected] += 1
        if predicted == expected:
            correct[expected] += 1
        else:
            misses.append((path, expected, predicted))
    return Score(files, correct, misses)
