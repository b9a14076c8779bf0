"""Helpers shared by the benchmarks: sample corpora, page-cache warming, memory sampling, tables.

Benchmarks are scripts, not tests: they print a Markdown table of ratios against
a peer or a plain-Python baseline measured in the same run.
"""

import os
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

#: Benchmarks count megabytes as 10**6 bytes, so MB/s reads like a disk spec.
MB = 1_000_000


@dataclass(frozen=True)
class CorpusSize:
    files: int
    bytes: int

    @property
    def mb(self) -> float:
        return self.bytes / MB


def sample_corpus(dest: Path, megabytes: int) -> CorpusSize:
    """A real sample corpus of about `megabytes` MB (installed distributions, hard-linked),
    repeated when the installed set is too small; reused when `dest` already holds one."""
    from corpus.samples import build_sample_corpus

    if not dest.exists():
        target = megabytes * MB
        copies = 1
        while True:
            repos = build_sample_corpus(dest, target, copies=copies)
            if sum(r.bytes for r in repos) >= 0.8 * target or copies >= 64:
                break
            copies *= 2  # the installed set is smaller than asked: repeat it
    return measure_corpus(dest)


def measure_corpus(root: Path) -> CorpusSize:
    """Files and bytes (lstat sizes) under `root`, as an ingest counts them."""
    files = size = 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in {".git", ".hg", ".svn"}]
        for name in names:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    return CorpusSize(files, size)


def warm_page_cache(root: Path) -> None:
    """Read every regular file once so every contender starts from the same warm cache."""
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as stream:
                    while stream.read(1 << 20):
                        pass


class PeakMemory:
    """Samples, in a background thread, the RSS of one process and (optionally) all its
    descendants, every `interval` seconds; keeps the peaks of the sum and of the root alone.

    A local Ray started by this process has the GCS, the raylet and every worker as
    descendants, so `descendants=True` on our own pid covers all of Ray. RSS counts
    pages shared between processes (Ray's object store) once per process: an upper bound.
    """

    def __init__(self, pid: int | None = None, descendants: bool = True, interval: float = 0.05):
        self.pid = pid or os.getpid()
        self.descendants = descendants
        self.interval = interval
        self.peak_total = 0
        self.peak_root = 0
        self.at_start = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def __enter__(self) -> "PeakMemory":
        self.at_start = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)] if self.descendants else [root]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue  # exited between listing and sampling
            total += rss
            if process.pid == self.pid:
                self.peak_root = max(self.peak_root, rss)
        self.peak_total = max(self.peak_total, total)
        return total


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|",
    ]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def settle(seconds: float = 1.0) -> None:
    """Let processes that just finished (actors shutting down) release the CPUs."""
    time.sleep(seconds)
