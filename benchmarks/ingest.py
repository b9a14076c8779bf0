"""Ingest throughput and peak memory: `corpus.pipeline.ingest.ingest` on Ray vs a plain Python loop.

Run from the repository root:

    python -m benchmarks.ingest                 # ~100 MB and ~300 MB, median of 3 runs
    python -m benchmarks.ingest --quick         # ~30 MB smoke run
    python -m benchmarks.ingest --sizes 50,200 --repeats 5

Corpus: `corpus.sources.samples.build_sample_corpus` (the Python distributions installed
here, hard-linked: real code, data files, compiled extensions), one per size.

Contenders, each doing the same per-file work:

- baseline: one fresh Python process walks the folder, reads every file under the
  intake size cap, hashes it (sha256), NUL-sniffs and decodes it with
  `corpus.sources.intake.decode`, identifies its language with `corpus.language.identify`
  plus enry's is_generated / is_vendor, collects the rows, applies any further
  stage of `corpus.pipeline.ingest_worker.INGEST_STAGES` (e.g. license facts) to them, and writes
  one zstd Parquet file at the end. Its clock starts after its imports.
- ours: `corpus.pipeline.ingest.ingest` into a fresh catalog home per run. Ray is started
  once before any timing (`ray_session`, as a long-running service has it), so
  `ray.init` is NOT timed, but everything an ingest does is: discovery, catalog
  and table creation, starting worker tasks (worker processes import the code
  and build their stages), reading, stages, Parquet writing and the Iceberg commit.

Neither pays per-process start-up inside its clock: the baseline process
imports the code and builds its caches (the license reference index) before
its clock starts; our Ray worker processes are reused across tasks and keep
theirs between runs, as in a long-running service (the discarded warm-up run
builds them).

MB is 10**6 bytes of corpus (lstat sizes of every file, skipped ones included).
The page cache is warmed by reading the whole corpus before a size's runs; one
discarded warm-up run of each contender precedes all timing; the order of the
two contenders alternates between repeats, and each run waits for an idle
machine first (runs that shared the CPUs with other processes are flagged BUSY).
The ratio is the median of the per-repeat ratios. Peak memory (max over runs) is
the summed RSS, sampled every 50 ms, of the baseline process, or of this driver
plus all its descendants (every Ray process: GCS, raylet, workers) for ours,
including what Ray holds at rest. Shared pages count once per process, so these
are upper bounds.

`--profile` instead runs one `IngestWorker` call over the largest corpus in this
process under cProfile (no Ray) and prints where the time goes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._common import (
    MB,
    CorpusSize,
    Sampler,
    markdown_table,
    median,
    sample_corpus,
    settle,
    warm_page_cache,
)
from benchmarks.ingest_baseline import baseline_ingest

#: The ratio the project aims for on corpora of at least TARGET_MIN_MB.
TARGET_RATIO = 1.6
TARGET_MIN_MB = 100
#: A run during which other processes used more than this share of the CPUs is flagged.
DISTURBED = 0.15
REPO_ROOT = Path(__file__).resolve().parent.parent


# -- baseline: a plain single-process loop (benchmarks/ingest_baseline.py) -----------


def run_baseline(root: Path, out: Path) -> "Run":
    """The baseline in a fresh process (its own memory, no Ray), sampled from here."""
    command = [sys.executable, "-m", "benchmarks.ingest", "--baseline-child", str(root), str(out)]
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    with Sampler(child.pid, descendants=False) as sampler:
        with child.stdout:  # type: ignore[union-attr]
            stdout = child.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(child.pid, 0)  # its exact CPU time, exit included
        child.returncode = os.waitstatus_to_exitcode(status)
    sampler.cpu_ours = usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        raise SystemExit(f"baseline failed with exit status {child.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    # ru_maxrss (KiB) is exact where the sampler may miss a short spike: keep the larger
    peak = max(sampler.peak_total, usage.ru_maxrss * 1024)
    return Run(
        result["seconds"], result["files"], result["kept"], peak, peak, peak, sampler.other_share
    )


# -- ours: corpus.pipeline.ingest.ingest on the running Ray ------------------------------------


def run_ours(root: Path, home: Path, workers: int | None, batch_rows: int) -> "Run":
    from corpus.core.cluster import RunnerConfig
    from corpus.core.settings import Settings
    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.ingest import ingest
    from corpus.store.catalog import Catalog

    catalog = Catalog(Settings(home=home))
    runner = RunnerConfig(workers=workers, batch_rows=batch_rows)
    # Sampling RSS of every Ray process costs CPU on the cores being measured: sample
    # less often than for the one-process baseline (whose peak is exact via ru_maxrss).
    with Sampler(interval=0.25) as sampler:
        start = time.perf_counter()
        report = ingest([str(root)], "bench", catalog, CurationConfig(), runner)
        seconds = time.perf_counter() - start
    kept = report.summary.tally.by_reason()
    dropped = sum(v["files"] for v in kept.values())
    shutil.rmtree(home, ignore_errors=True)
    return Run(
        seconds,
        report.added,
        report.added - dropped,
        sampler.peak_total,
        sampler.peak_root,
        sampler.peak_total - sampler.at_start,
        sampler.other_share,
    )


# -- driver -----------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    files: int
    kept: int
    peak_total: int
    peak_driver: int
    peak_added: int
    """Peak minus what the processes held when the run began (Ray at rest, for ours)."""
    other_cpu: float
    """Share of the machine's CPU time other processes used meanwhile (a shared machine)."""


@dataclass
class SizeResult:
    size: CorpusSize
    baseline: list[Run] = field(default_factory=list)
    ours: list[Run] = field(default_factory=list)

    def mb_per_s(self, runs: list[Run]) -> float:
        return median([self.size.mb / r.seconds for r in runs])

    @property
    def ratio(self) -> float:
        pairs = zip(self.baseline, self.ours, strict=True)
        return median([b.seconds / o.seconds for b, o in pairs])


def main(argv: list[str] | None = None) -> int:
    """0 when every size of at least TARGET_MIN_MB meets TARGET_RATIO, else 2."""
    args = _parser().parse_args(argv)
    if args.baseline_child:
        root, out = args.baseline_child
        print(json.dumps(baseline_ingest(Path(root), Path(out))))
        return 0
    sizes = [30] if args.quick else args.sizes
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="codecorpus-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    corpora = {mb: (workdir / f"corpus-{mb}mb", sample_corpus(workdir / f"corpus-{mb}mb", mb))
               for mb in sizes}  # fmt: skip
    for mb, (path, size) in corpora.items():
        print(f"corpus ~{mb} MB: {size.files} files, {size.mb:.1f} MB at {path}", flush=True)
    if args.profile:
        profile_worker(corpora[max(sizes)][0], workdir, args.batch_rows, args.profile)
        return 0

        from corpus.core.cluster import RunnerConfig, cluster_cpus, ray_session

    results: dict[int, SizeResult] = {}
    with ray_session(RunnerConfig(workers=args.workers)):  # started once, not timed
        print(f"Ray up with {cluster_cpus()} CPUs; this machine has {os.cpu_count()} cores")
        smallest, _ = corpora[min(sizes)]
        warm_page_cache(smallest)
        run_ours(smallest, workdir / "home-warmup", args.workers, args.batch_rows)
        run_baseline(smallest, workdir / "baseline-warmup.parquet")
        settle()
        with Sampler() as at_rest:  # after the warm-up: Ray Data's helper actors included
            pass
        for mb, (path, size) in corpora.items():
            result = results[mb] = SizeResult(size)
            warm_page_cache(path)
            for repeat in range(args.repeats):
                for contender in ("baseline", "ours") if repeat % 2 == 0 else ("ours", "baseline"):
                    if not settle():
                        print("  (machine still busy after 120 s: timing anyway)")
                    if contender == "baseline":
                        run = run_baseline(path, workdir / "baseline.parquet")
                        result.baseline.append(run)
                    else:
                        run = run_ours(path, workdir / f"home-{mb}-{repeat}", args.workers,
                                       args.batch_rows)  # fmt: skip
                        result.ours.append(run)
                    busy = " BUSY" if _disturbed(run) else ""
                    print(f"  {mb} MB #{repeat + 1} {contender:8s} {run.seconds:6.2f} s "
                          f"{size.mb / run.seconds:6.1f} MB/s  peak {run.peak_total / MB:6.0f} MB"
                          f"  ({run.files} files, {run.kept} kept; other processes used "
                          f"{run.other_cpu:.0%} of the CPUs{busy})", flush=True)  # fmt: skip
            _check_same_work(mb, result)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return _report(results, args.repeats, at_rest.peak_total)


def profile_worker(root: Path, workdir: Path, batch_rows: int, top: int) -> None:
    """cProfile of one in-process `IngestWorker` call over every unit of `root`."""
    import cProfile
    import pstats

    import numpy as np
    import pyarrow as pa

    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.ingest_worker import IngestWorker
    from corpus.sources import discover

    units = [json.dumps(u.to_row(), sort_keys=True) for u in discover(str(root))]
    folder = workdir / "profile"
    known = np.array([], dtype="S16")
    worker = IngestWorker(CurationConfig().to_dict(), "profile", folder.as_uri(), known, batch_rows)
    warm_page_cache(root)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(worker, pa.table({"unit": units}))
    seconds = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    print(f"IngestWorker in-process over {root}: {seconds:.2f} s under cProfile")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _disturbed(run: Run) -> bool:
    """Other processes used more than DISTURBED of the machine's CPU time during the run."""
    return run.other_cpu > DISTURBED


def _check_same_work(mb: int, result: SizeResult) -> None:
    counts = {(r.files, r.kept) for r in result.baseline + result.ours}
    if len(counts) != 1:
        print(f"WARNING: {mb} MB: contenders disagree on (files, kept): {sorted(counts)}")


def _report(results: dict[int, SizeResult], repeats: int, ray_at_rest: int) -> int:
    rows = []
    for result in results.values():
        rows.append(
            [
                f"{result.size.mb:.0f} MB ({result.size.files} files)",
                f"{median([r.seconds for r in result.baseline]):.2f} s",
                f"{median([r.seconds for r in result.ours]):.2f} s",
                f"{result.mb_per_s(result.baseline):.1f}",
                f"{result.mb_per_s(result.ours):.1f}",
                f"**{result.ratio:.2f}x**",
                f"{max(r.peak_total for r in result.ours) / MB:.0f} MB",
                f"{max(r.peak_added for r in result.ours) / MB:.0f} MB",
                f"{max(r.peak_driver for r in result.ours) / MB:.0f} MB",
                f"{max(r.peak_total for r in result.baseline) / MB:.0f} MB",
            ]
        )
    headers = [
        "corpus", "baseline time", "ours time", "baseline MB/s", "ours MB/s",
        "ratio (ours/baseline)", "peak RSS ours (driver + Ray)", "ours above Ray at rest",
        "peak RSS ours (driver)",
        "peak RSS baseline",
    ]  # fmt: skip
    print()
    print(f"## Ingest: our ingest on Ray vs a single-process loop (median of {repeats})")
    print()
    print(markdown_table(headers, rows))
    print()
    print(
        "Ours includes worker start-up, catalog creation and the Iceberg commit; `ray.init` is "
        "not timed (Ray was started once before, as in a service). Peak RSS is the max over "
        f"runs; Ray at rest (GCS, raylet, idle workers, driver) sums to {ray_at_rest / MB:.0f} MB."
    )
    disturbed = sum(_disturbed(r) for res in results.values() for r in res.baseline + res.ours)
    if disturbed:
        print(f"- WARNING: {disturbed} run(s) shared the CPUs with other processes (BUSY above)")
    if len(results) > 1:
        small, large = results[min(results)], results[max(results)]
        print(
            f"- peak RSS from ~{min(results)} to ~{max(results)} MB of corpus: ours "
            f"{_growth(small.ours, large.ours)}, baseline {_growth(small.baseline, large.baseline)}"
        )
    met = True
    for mb, result in results.items():
        if mb >= TARGET_MIN_MB:
            verdict = "met" if result.ratio >= TARGET_RATIO else "NOT met"
            met = met and result.ratio >= TARGET_RATIO
            print(f"- ~{mb} MB: target ratio >= {TARGET_RATIO}x {verdict} ({result.ratio:.2f}x)")
    return 0 if met else 2


def _growth(small: list[Run], large: list[Run]) -> str:
    before = max(r.peak_total for r in small)
    after = max(r.peak_total for r in large)
    return f"{(after - before) / MB:+.0f} MB ({after / before - 1:+.0%})"


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",")})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError(f"--sizes wants positive MB counts like 100,300: {text!r}")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[100, 300],
        help="corpus sizes in MB, comma-separated (default 100,300)",
    )
    parser.add_argument("--quick", action="store_true", help="one ~30 MB corpus (smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender and size")
    parser.add_argument("--workers", type=int, default=None, help="Ray CPUs/actors (default all)")
    parser.add_argument("--batch-rows", type=int, default=256, help="RunnerConfig.batch_rows")
    parser.add_argument(
        "--workdir", default=None, help="keep corpora here and reuse them (default: a temp dir)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="profile one in-process IngestWorker call on the largest corpus instead",
    )
    hidden = argparse.SUPPRESS  # internal: run the baseline in this (fresh) process
    parser.add_argument("--baseline-child", nargs=2, metavar=("ROOT", "OUT"), help=hidden)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
