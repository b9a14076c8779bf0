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
    from corpus.sources.samples import build_sample_corpus

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


class Sampler:
    """Samples, in a background thread every `interval` seconds, one process and
    (optionally) all its descendants: peak summed RSS, peak RSS of the root alone, and
    CPU seconds used by them versus by everything else on the machine.

    A local Ray started by this process has the GCS, the raylet and every worker as
    descendants, so `descendants=True` on our own pid covers all of Ray. RSS counts
    pages shared between processes (Ray's object store) once per process: an upper
    bound. CPU of a process that exits is counted up to its last sample.
    """

    def __init__(self, pid: int | None = None, descendants: bool = True, interval: float = 0.05):
        self.pid = pid or os.getpid()
        self.descendants = descendants
        self.interval = interval
        self.peak_total = 0
        self.peak_root = 0
        self.at_start = 0
        self.cpu_ours = 0.0
        self.busy = 0.0
        self.wall = 0.0
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._busy_start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> "Sampler":
        self.wall = time.perf_counter()
        self._busy_start = _busy_seconds()
        self.at_start = self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu_ours = sum(self._cpu_last[p] - self._cpu_start.get(p, 0.0) for p in self._cpu_last)
        self.busy = _busy_seconds() - self._busy_start
        self.wall = time.perf_counter() - self.wall

    @property
    def cpu_other(self) -> float:
        """CPU seconds the rest of the machine used while sampling."""
        return max(0.0, self.busy - self.cpu_ours)

    @property
    def other_share(self) -> float:
        """Share of the machine's CPU time other processes used while sampling."""
        return self.cpu_other / max(self.wall * (os.cpu_count() or 1), 1e-9)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self, first: bool = False) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)] if self.descendants else [root]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                with process.oneshot():
                    rss = process.memory_info().rss
                    times = process.cpu_times()
            except psutil.Error:
                continue  # exited between listing and sampling
            total += rss
            if process.pid == self.pid:
                self.peak_root = max(self.peak_root, rss)
            cpu = times.user + times.system
            if first:
                self._cpu_start[process.pid] = cpu
            self._cpu_last[process.pid] = cpu
        self.peak_total = max(self.peak_total, total)
        return total


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|",
    ]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def settle(seconds: float = 1.0, idle_below: float = 0.25, max_wait: float = 120.0) -> bool:
    """Pause, then wait (up to `max_wait` s) until the machine's CPUs are less than
    `idle_below` busy: processes that just finished (actors shutting down), or other
    users of a shared machine, must not run during a timing. Returns whether it got idle."""
    time.sleep(seconds)
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        if psutil.cpu_percent(interval=0.5) < idle_below * 100:
            return True
    return False
