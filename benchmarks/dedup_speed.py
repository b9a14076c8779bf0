"""Near-dedup speed and memory: `deduplicate_table` on Ray vs a single-process datasketch script.

Run from the repository root:

    python -m benchmarks.dedup_speed                     # ~100 MB; sizes 25,50,100,200 MB
    python -m benchmarks.dedup_speed --mb 200 --runs 5 --baseline-runs 1
    python -m benchmarks.dedup_speed --sizes 25,50 --mb 50   # quick

Corpus: `benchmarks.dedup_corpus.corpus_of_size`: real source files installed on
this machine for 80% of the bytes, mutated copies of a random subset of them
(`scale_up`: renamed identifiers, edited lines, added comments) for the rest.
MB is 10**6 bytes of file content.

(b) The whole near-dedup stage on the `--mb` corpus:

- ours: `deduplicate_table(files, fresh workdir, DedupConfig(exact=False))`
  on a local Ray with `--cpus` (2) CPUs, started before any timing, as a service
  has it (`ray.init` is not timed) and warmed by one discarded run (worker
  processes import the code and load the numba kernels once, as in a long-running
  service). Timed: cutting and shipping the table to Ray, signatures, every step,
  reading the drops back. Median of `--runs` (3).
- baseline: the script of `benchmarks.dedup_accuracy.datasketch_dedup` (datasketch
  `MinHashLSH(threshold=0.7, num_perm=256)`, `MinHash(num_perm=256, seed=42)` over
  the same `reference_shingles`, query-then-insert in file_id order, union-find,
  the smallest file_id of a cluster kept), in a fresh process that reads the corpus
  from an Arrow file before its clock starts. It runs at ~5 MB/s (~20 s at 100 MB),
  so its median is over `--baseline-runs` (default 3; 1 is enough for a quick look:
  the spread between runs of this single-threaded loop is small).

Both judge near-duplicates only (exact duplicates are J = 1 pairs for both). The
corpus is too large for brute-force ground truth here (see benchmarks.dedup_accuracy),
so agreement is reported instead: files each removes, the overlap, and for a sample
of the files only one of them removes, the best exact Jaccard to another member of
the cluster it was removed for.

(c) Time, MB/s and peak memory of ours at `--sizes` (25,50,100,200 MB; median of
`--size-runs` (3), the `--mb` size reuses the runs of (b)). Peak memory is the summed
RSS, sampled every 100 ms, of this driver and all its descendants: the local Ray
started by this process has the GCS, the raylet and every worker among them (another
Ray on the machine is not). Shared pages (the object store) count once per process,
so it is an upper bound; "above rest" subtracts what the processes held when the run
began.

Each timed run waits for an idle machine first (up to 15 s); a run during which
other processes used more than 15% of the CPUs is flagged BUSY. Results go to
benchmarks/results/dedup_speed.json. Exit status 0 when the ratio target (>= 3x)
is met, else 2.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from benchmarks._common import MB, Sampler, markdown_table, median, settle
from benchmarks.dedup_accuracy import THRESHOLD, datasketch_dedup_clusters, start_ray
from benchmarks.dedup_corpus import content_bytes, corpus_of_size

TARGET_RATIO = 3.0
DISTURBED = 0.15
SAMPLE = 200
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "dedup_speed.json"


@dataclass
class Run:
    seconds: float
    removed: dict[str, str]
    """Removed file id -> the name of the cluster it was removed for."""
    keepers: dict[str, str]
    """Cluster name -> the file kept for it."""
    peak_total: int = 0
    peak_added: int = 0
    peak_driver: int = 0
    other_cpu: float = 0.0

    @property
    def busy(self) -> bool:
        return self.other_cpu > DISTURBED


@dataclass
class Size:
    mb: float
    files: int
    ours: list[Run] = field(default_factory=list)

    def seconds(self) -> float:
        return median([r.seconds for r in self.ours])


# -- contenders ---------------------------------------------------------------------------


def run_ours(files: pa.Table, scratch: Path) -> Run:
    from corpus.pipeline.dedup_table import deduplicate_table
    from dedup.config import DedupConfig

    workdir = tempfile.mkdtemp(prefix="dedup-run-", dir=scratch)
    try:
        with Sampler(interval=0.1) as sampler:
            start = time.perf_counter()
            result = deduplicate_table(files, workdir, DedupConfig(exact=False))
            seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    drops = result.drops.filter(pc.equal(result.drops.column("drop_reason"), "dedup:near"))
    clusters = drops.column("dup_cluster").to_pylist()
    removed = dict(zip(drops.column("file_id").to_pylist(), clusters, strict=True))
    keepers = dict(zip(clusters, drops.column("dup_of").to_pylist(), strict=True))
    return Run(
        seconds,
        removed,
        keepers,
        sampler.peak_total,
        sampler.peak_total - sampler.at_start,
        sampler.peak_root,
        sampler.other_share,
    )


def run_baseline(corpus_file: Path, scratch: Path) -> Run:
    """The datasketch script in a fresh process (no Ray, its own memory), sampled from here."""
    out = scratch / "baseline-removed.json"
    command = [sys.executable, "-m", "benchmarks.dedup_speed", "--baseline-child"]
    command += [str(corpus_file), str(out)]
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    with Sampler(child.pid, descendants=False, interval=0.1) as sampler:
        with child.stdout:  # type: ignore[union-attr]
            stdout = child.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"baseline failed with exit status {os.waitstatus_to_exitcode(status)}")
    seconds = json.loads(stdout.strip().splitlines()[-1])["seconds"]
    removed = json.loads(out.read_text())
    out.unlink()
    peak = max(sampler.peak_total, usage.ru_maxrss * 1024)
    keepers = {root: root for root in removed.values()}  # a cluster is named by its keeper
    return Run(seconds, removed, keepers, peak, peak, peak, sampler.other_share)


def baseline_child(corpus_file: str, out: str) -> None:
    table = feather.read_table(corpus_file)
    ids = table.column("file_id").to_pylist()
    contents = table.column("content").to_pylist()
    del table
    start = time.perf_counter()
    removed = datasketch_dedup_clusters(ids, contents)
    seconds = time.perf_counter() - start
    Path(out).write_text(json.dumps(removed))
    print(json.dumps({"seconds": seconds, "removed": len(removed)}))


# -- agreement ------------------------------------------------------------------------------


def agreement(files: pa.Table, ours: Run, baseline: Run) -> dict:
    """Overlap of the removed sets; for a sample of each side's own removals, the best exact
    Jaccard to another member of the cluster it was removed for."""
    from dedup.minhash import reference_shingles

    ids = files.column("file_id").to_pylist()
    position = {file_id: i for i, file_id in enumerate(ids)}
    content = files.column("content")
    shingles: dict[str, set[bytes]] = {}

    def of(file_id: str) -> set[bytes]:
        if file_id not in shingles:
            shingles[file_id] = reference_shingles(content[position[file_id]].as_py(), 5)
        return shingles[file_id]

    def best(file_id: str, members: list[str]) -> float:
        mine = of(file_id)
        scores = [len(mine & of(m)) / len(mine | of(m)) for m in members[:50] if m != file_id]
        return max(scores, default=0.0)

    report: dict = {
        "ours_removed": len(ours.removed),
        "baseline_removed": len(baseline.removed),
        "both": len(ours.removed.keys() & baseline.removed.keys()),
    }
    for name, run, other in (("ours", ours, baseline), ("baseline", baseline, ours)):
        mine = run.removed
        clusters: dict[str, list[str]] = {c: [k] for c, k in run.keepers.items()}
        for file_id, cluster in mine.items():
            clusters[cluster].append(file_id)
        only = sorted(mine.keys() - other.removed.keys())
        rng = np.random.default_rng(0)
        sample = [only[i] for i in sorted(rng.choice(len(only), min(SAMPLE, len(only)), False))]
        scores = np.array([best(f, clusters[mine[f]]) for f in sample])
        report[f"{name}_only"] = len(only)
        report[f"{name}_only_sampled"] = len(sample)
        report[f"{name}_only_sample_at_threshold"] = int((scores >= THRESHOLD).sum())
        report[f"{name}_only_sample_at_0.6"] = int((scores >= 0.6).sum())
        report[f"{name}_only_sample_median_j"] = (
            round(float(np.median(scores)), 4) if sample else None
        )
    return report


# -- driver ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.baseline_child:
        baseline_child(*args.baseline_child)
        return 0
    started = time.perf_counter()
    sizes = sorted({*args.sizes, args.mb})
    scratch = Path(tempfile.mkdtemp(prefix="dedup-speed-"))
    results: dict[float, Size] = {}
    try:
        start_ray(args.cpus)
        warm = corpus_of_size(2)
        run_ours(warm, scratch)  # discarded: workers import the code and load the kernels
        settle(max_wait=15)
        with Sampler() as at_rest:
            pass
        baseline_runs: list[Run] = []
        for mb in sizes:
            files = corpus_of_size(mb, seed=args.seed)
            size = results[mb] = Size(content_bytes(files) / MB, files.num_rows)
            print(f"corpus ~{mb:g} MB: {size.files} files, {size.mb:.1f} MB", flush=True)
            for repeat in range(args.runs if mb == args.mb else args.size_runs):
                run = _timed(lambda files=files: run_ours(files, scratch))
                size.ours.append(run)
                _progress(f"{mb:g} MB #{repeat + 1} ours", run, size.mb)
            if mb != args.mb:
                continue
            corpus_file = scratch / "corpus.arrow"
            feather.write_feather(files, corpus_file, compression="uncompressed")
            for repeat in range(args.baseline_runs):
                run = _timed(lambda corpus_file=corpus_file: run_baseline(corpus_file, scratch))
                baseline_runs.append(run)
                _progress(f"{mb:g} MB #{repeat + 1} baseline", run, size.mb)
            corpus_file.unlink()
            for name, runs in (("our", size.ours), ("baseline", baseline_runs)):
                if len({frozenset(r.removed) for r in runs}) != 1:
                    print(f"WARNING: the {name} runs removed different files")
            agree = agreement(files, size.ours[0], baseline_runs[0])
            del files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _report(args, results, baseline_runs, agree, at_rest.peak_total, started)


def _timed(run) -> Run:
    if not settle(max_wait=15):
        print("  (machine still busy after 15 s: timing anyway)")
    return run()


def _progress(label: str, run: Run, mb: float) -> None:
    busy = " BUSY" if run.busy else ""
    print(
        f"  {label:22s} {run.seconds:7.2f} s {mb / run.seconds:6.1f} MB/s  "
        f"peak {run.peak_total / MB:6.0f} MB  removed {len(run.removed)}  "
        f"(other processes used {run.other_cpu:.0%} of the CPUs{busy})",
        flush=True,
    )


def _report(args, results, baseline_runs, agree, at_rest, started) -> int:
    main_size = results[args.mb]
    ours_s = main_size.seconds()
    base_s = median([r.seconds for r in baseline_runs])
    ratio = base_s / ours_s
    print()
    print(
        f"## (b) Near-dedup stage, {main_size.mb:.0f} MB ({main_size.files} files): ours on Ray "
        f"({args.cpus} CPUs, median of {len(main_size.ours)}) vs datasketch in one process "
        f"(median of {len(baseline_runs)})"
    )
    print()
    rows = [
        [
            "ours (deduplicate_table, exact=False)",
            f"{ours_s:.2f} s",
            f"{main_size.mb / ours_s:.1f}",
            len(main_size.ours[0].removed),
            f"{max(r.peak_total for r in main_size.ours) / MB:.0f} MB",
        ],
        [
            "baseline (datasketch MinHashLSH + union-find)",
            f"{base_s:.2f} s",
            f"{main_size.mb / base_s:.1f}",
            len(baseline_runs[0].removed),
            f"{max(r.peak_total for r in baseline_runs) / MB:.0f} MB",
        ],
    ]
    print(markdown_table(["method", "time", "MB/s", "removed", "peak RSS"], rows))
    print()
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"- ratio baseline / ours: **{ratio:.2f}x** ({verdict}: target >= {TARGET_RATIO}x)")
    print(
        f"- agreement: ours removes {agree['ours_removed']}, baseline {agree['baseline_removed']}, "
        f"both {agree['both']} (ours only {agree['ours_only']}, baseline only "
        f"{agree['baseline_only']})"
    )
    for name in ("ours", "baseline"):
        if agree[f"{name}_only_sampled"]:
            print(
                f"- {name}-only removals, sample of {agree[f'{name}_only_sampled']}: best "
                f"exact J to another member of the cluster >= {THRESHOLD} for "
                f"{agree[f'{name}_only_sample_at_threshold']}, >= 0.6 for "
                f"{agree[f'{name}_only_sample_at_0.6']} (median "
                f"{agree[f'{name}_only_sample_median_j']})"
            )

    print()
    print(f"## (c) Ours by corpus size (Ray {args.cpus} CPUs; Ray at rest {at_rest / MB:.0f} MB)")
    print()
    rows = []
    for mb, size in results.items():
        rows.append(
            [
                f"~{mb:g} MB ({size.mb:.1f} MB, {size.files} files)",
                len(size.ours),
                f"{size.seconds():.2f} s",
                f"{size.mb / size.seconds():.1f}",
                f"{max(r.peak_total for r in size.ours) / MB:.0f} MB",
                f"{max(r.peak_added for r in size.ours) / MB:.0f} MB",
                f"{max(r.peak_driver for r in size.ours) / MB:.0f} MB",
                len(size.ours[0].removed),
            ]
        )
    headers = [
        "corpus", "runs", "time", "MB/s", "peak RSS (driver + Ray)", "above rest",
        "peak RSS driver", "removed",
    ]  # fmt: skip
    print(markdown_table(headers, rows))
    small, large = results[min(results)], results[max(results)]
    scaling = (large.seconds() / small.seconds()) / (large.mb / small.mb)
    print()
    growth = large.seconds() / small.seconds()
    print(
        f"- time from {small.mb:.0f} to {large.mb:.0f} MB grows {growth:.2f}x "
        f"for {large.mb / small.mb:.2f}x the data: {scaling:.2f} of linear "
        f"({'linear or better' if scaling <= 1.1 else 'WORSE than linear'})"
    )
    busy = sum(r.busy for s in results.values() for r in s.ours) + sum(
        r.busy for r in baseline_runs
    )
    if busy:
        print(f"- WARNING: {busy} run(s) shared the CPUs with other processes (BUSY above)")
    total = time.perf_counter() - started
    print(f"- benchmark wall time {total:.0f} s")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "stage": {
            "mb": round(main_size.mb, 2),
            "files": main_size.files,
            "ours_seconds": [round(r.seconds, 3) for r in main_size.ours],
            "baseline_seconds": [round(r.seconds, 3) for r in baseline_runs],
            "ours_median_s": round(ours_s, 3),
            "baseline_median_s": round(base_s, 3),
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "pass": ratio >= TARGET_RATIO,
            "baseline_peak_rss_mb": round(max(r.peak_total for r in baseline_runs) / MB, 1),
            "agreement": agree,
        },
        "sizes": [
            {
                "target_mb": mb,
                "mb": round(size.mb, 2),
                "files": size.files,
                "seconds": [round(r.seconds, 3) for r in size.ours],
                "mb_per_s": round(size.mb / size.seconds(), 2),
                "peak_rss_mb": round(max(r.peak_total for r in size.ours) / MB, 1),
                "peak_above_rest_mb": round(max(r.peak_added for r in size.ours) / MB, 1),
                "peak_driver_mb": round(max(r.peak_driver for r in size.ours) / MB, 1),
                "removed": len(size.ours[0].removed),
                "busy_runs": sum(r.busy for r in size.ours),
            }
            for mb, size in results.items()
        ],
        "scaling_vs_linear": round(scaling, 3),
        "ray_at_rest_mb": round(at_rest / MB, 1),
        "busy_runs": busy,
        "wall_seconds": round(total, 1),
        "args": {k: v for k, v in vars(args).items() if k != "baseline_child"},
        "cpus": os.cpu_count(),
        "max_rss_driver_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults saved to {RESULTS}")
    return 0 if ratio >= TARGET_RATIO else 2


def _sizes(text: str) -> list[float]:
    try:
        sizes = sorted({float(x) for x in text.split(",")})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError(f"--sizes wants positive MB like 25,50,100: {text!r}")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100, help="corpus MB of (b) (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="our runs at --mb (default 3)")
    parser.add_argument(
        "--baseline-runs", type=int, default=3, help="baseline runs at --mb (default 3)"
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[25, 50, 100, 200], help="MB of (c) (default 25,50,100,200)"
    )
    parser.add_argument(
        "--size-runs", type=int, default=3, help="our runs at the other sizes (default 3)"
    )
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutated copies")
    hidden = argparse.SUPPRESS  # internal: run the baseline in this (fresh) process
    parser.add_argument("--baseline-child", nargs=2, metavar=("CORPUS", "OUT"), help=hidden)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
