"""Per-core throughput of each pipeline stage, for sizing a cluster (infra/SIZING.md).

Run from the repository root:

    python -m benchmarks.stage_throughput                    # ~100 MB, 1 worker, repo folders
    python -m benchmarks.stage_throughput --layout parquet   # the same files as Stack Parquet
    python -m benchmarks.stage_throughput --mb 300 --workers 2 --json out.json

Corpus: `corpus.sources.samples.build_sample_corpus` (the Python distributions installed
here: real code, docs, data files and compiled extensions). With `--layout
parquet` its UTF-8 files under 1 MiB are first rewritten as Stack v1-style
Parquet shards (`content`, `max_stars_repo_name`, `max_stars_repo_path`), as
The Stack is distributed; writing them is not timed.

What is timed, on a local Ray of `--workers` CPUs started before any clock runs:

- ingest: `corpus.pipeline.ingest.ingest` (discovery, intake, language and license facts,
  Parquet writing, the Iceberg commit), per MB read.
- curate, split at the run's own step reports (`on_step`): `stages` (license
  rules, quality heuristics and each kept file's MinHash signature, per MB seen),
  the dedup global steps (exact .. keep, per MB kept by the rules), the tokenizer
  steps (`tokenizer-train` trains on a fixed-size sample, so it is reported in
  seconds, not per MB), `finish` (token counting, shards and the version's data
  files, per MB kept after dedup) and `publish` (Iceberg commits).
- MinHash signatures alone: `dedup.minhash.MinHasher` over the version's kept
  files in this process (CPU seconds), to split the `stages` phase into
  signatures and licenses + heuristics.

Two rates per phase: MB/s per core from wall time (MB / (seconds x workers)), and
MB per CPU second, from the CPU time of this driver and every Ray process (GCS,
raylet, workers) during the phase. On a machine shared with other jobs the wall
rate drops with the contention while the CPU rate barely moves, so the CPU rate is
the better estimate of what one dedicated core does.

Each of `--repeats` runs ingests and curates into a fresh catalog on the same Ray
(the first also starts the worker processes); per phase the fastest run counts, the
least disturbed by other jobs. MB is 10**6 bytes.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import MB, Sampler, markdown_table, sample_corpus, warm_page_cache

DATASET = "bench"
#: Uncompressed content per Parquet shard, so there are more units than workers.
SHARD_BYTES = 16 * MB
#: Curate steps that are not dedup steps (exact, index, bands, buckets, verify, uf-*, keep ...).
NOT_DEDUP = ("stages", "finish", "publish")


def write_stack_parquet(root: Path, dest: Path, max_file_bytes: int = 1 << 20) -> int:
    """Rewrite a folder of repositories as Stack v1-style Parquet shards; returns the bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dest.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[Any]] = {
        "content": [],
        "max_stars_repo_name": [],
        "max_stars_repo_path": [],
    }
    pending = total = shard = 0

    def flush() -> None:
        nonlocal pending, shard
        if rows["content"]:
            pq.write_table(pa.table(rows), dest / f"part-{shard:05d}.parquet", compression="zstd")
            shard += 1
            for values in rows.values():
                values.clear()
        pending = 0

    for repo in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in repo.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes()
            if not data or len(data) > max_file_bytes:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # The Stack holds text only
            rows["content"].append(text)
            rows["max_stars_repo_name"].append(f"sample/{repo.name}")
            rows["max_stars_repo_path"].append(path.relative_to(repo).as_posix())
            pending += len(data)
            total += len(data)
            if pending >= SHARD_BYTES:
                flush()
    flush()
    return total


class TreeCpu:
    """CPU seconds used so far by this process and its descendants (every Ray process).

    Each process's last reading is kept, so one that exits still counts up to then."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}

    def __call__(self) -> float:
        root = psutil.Process()
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            self.last[process.pid] = times.user + times.system
        return sum(self.last.values())


class StepClock:
    """Records when each of a curate run's steps reported (wall and CPU seconds)."""

    def __init__(self, cpu: TreeCpu) -> None:
        self.cpu = cpu
        self.started = (time.perf_counter(), cpu())
        self.events: list[tuple[str, float, float]] = []

    def __call__(self, name: str, result: dict[str, Any]) -> None:
        self.events.append((name, time.perf_counter(), self.cpu()))

    def phases(self) -> dict[str, tuple[float, float]]:
        """(wall, CPU) seconds per step since the previous report; `publish` runs to now."""
        self("end", {})
        out: dict[str, tuple[float, float]] = {}
        wall0, cpu0 = self.started
        for name, wall, cpu in self.events:
            key = "publish" if name in ("committed", "end") else name
            before = out.get(key, (0.0, 0.0))
            out[key] = (before[0] + wall - wall0, before[1] + cpu - cpu0)
            wall0, cpu0 = wall, cpu
        return out


def signature_seconds(catalog, version: str) -> tuple[float, int]:
    """CPU seconds of MinHash signatures over the version's kept files, and their bytes."""
    import pyarrow.compute as pc

    from corpus.store.catalog import FILES
    from dedup.minhash import MinHasher

    files = catalog.table(DATASET, FILES).scan(selected_fields=("content",)).to_arrow()
    content = files.column("content").combine_chunks().cast("large_string")
    hasher = MinHasher(num_perm=256, ngram=5, seed=42)
    hasher.warm()
    started = time.process_time()
    for offset in range(0, len(content), 1024):
        hasher.signatures(content.slice(offset, 1024))
    seconds = time.process_time() - started
    return seconds, int(pc.sum(pc.binary_length(content)).as_py() or 0)


def measure(catalog, source: Path, runner) -> dict[str, Any]:
    """One ingest + curate of `source` into a fresh catalog, split into phases."""
    from corpus.core.reasons import DropReason
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest

    cpu = TreeCpu()
    with Sampler() as sampler:  # peak memory and how busy the rest of the machine was
        wall0, cpu0 = time.perf_counter(), cpu()
        report = ingest([str(source)], DATASET, catalog, runner=runner)
        ingest_s = (time.perf_counter() - wall0, cpu() - cpu0)
        clock = StepClock(cpu)
        done = curate(DATASET, "v1", catalog, runner=runner, on_step=clock)
        phases = clock.phases()
    stats = done.version.stats
    reasons = stats.drop_reasons
    deduped = sum(
        reasons[r].bytes for r in (DropReason.DEDUP_EXACT, DropReason.DEDUP_NEAR) if r in reasons
    )
    sig_cpu, sig_bytes = signature_seconds(catalog, "v1")
    # The signature kernel ran on every file kept by the rules, dedup drops included.
    rule_kept = stats.kept_bytes + deduped
    sig = sig_cpu * rule_kept / max(sig_bytes, 1)

    def total(keys) -> tuple[float, float]:
        picked = [phases[k] for k in keys if k in phases]
        return (sum(w for w, _ in picked), sum(c for _, c in picked))

    dedup_keys = [k for k in phases if k not in NOT_DEDUP and not k.startswith("tokenizer-")]
    stages = phases["stages"]

    def entry(times: tuple[float, float], size: int | None) -> dict[str, Any]:
        return {"seconds": times[0], "cpu_seconds": times[1], "bytes": size}

    return {
        "memory": {"peak_rss_all": sampler.peak_total, "peak_rss_driver": sampler.peak_root},
        "other_cpu_share": sampler.other_share,
        "ingest": entry(ingest_s, report.summary.bytes_seen),
        "stages": entry(stages, stats["bytes"]),
        "signatures": entry((sig, sig), rule_kept),
        "licenses_heuristics": entry((stages[0] - sig, stages[1] - sig), stats["bytes"]),
        "dedup_global": entry(total(dedup_keys), rule_kept),
        "tokenizer_scan": entry(
            total(["tokenizer-bytes", "tokenizer-sample"]), rule_kept - deduped
        ),
        "tokenizer_train": entry(total(["tokenizer-train"]), None),
        "finish": entry(phases["finish"], stats["kept_bytes"]),
        "publish": entry(phases["publish"], None),
        "phases": phases,
        "kept_bytes": stats["kept_bytes"],
        "dedup_removed_bytes": deduped,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """`--repeats` measurements on one local Ray; per phase, the fastest repeat counts."""
    import ray

    from corpus.core.cluster import RunnerConfig
    from corpus.core.settings import Settings
    from corpus.store.catalog import Catalog

    work = Path(args.workdir or tempfile.mkdtemp(prefix="codecorpus-throughput-"))
    corpus = sample_corpus(work / f"sample-{args.mb}", args.mb)
    source = work / f"sample-{args.mb}"
    if args.layout == "parquet":
        source = work / f"stack-{args.mb}"
        if not source.exists():
            write_stack_parquet(work / f"sample-{args.mb}", source)
    warm_page_cache(source)
    runner = RunnerConfig(workers=args.workers, partitions=args.partitions)
    ray.init(
        address="local",
        num_cpus=args.workers,
        object_store_memory=runner.object_store_bytes,
        include_dashboard=False,
        log_to_driver=False,
    )
    runs = []
    try:
        for repeat in range(args.repeats):
            home = work / f"home-{args.layout}-{time.strftime('%Y%m%d-%H%M%S')}-{repeat}"
            runs.append(measure(Catalog(Settings(home=home)), source, runner))
    finally:
        ray.shutdown()
    best = dict(runs[0])
    for _, key in ROWS:  # the least disturbed repeat of each phase
        best[key] = min((r[key] for r in runs), key=lambda entry: entry["seconds"])
        best[key]["cpu_seconds"] = min(r[key]["cpu_seconds"] for r in runs)
    best["memory"] = {k: max(r["memory"][k] for r in runs) for k in runs[0]["memory"]}
    best["other_cpu_share"] = [round(r["other_cpu_share"], 3) for r in runs]
    best["corpus"] = {"layout": args.layout, "files": corpus.files, "bytes": corpus.bytes}
    best["workers"] = args.workers
    best["runs"] = runs
    return best


ROWS = (
    ("ingest (intake, language, license facts)", "ingest"),
    ("curate stages (licenses, heuristics, signatures)", "stages"),
    ("  of which MinHash signatures", "signatures"),
    ("  of which licenses + heuristics", "licenses_heuristics"),
    ("dedup global steps (exact .. keep)", "dedup_global"),
    ("tokenizer sample scan", "tokenizer_scan"),
    ("tokenizer training (fixed sample)", "tokenizer_train"),
    ("finish: token counts, shards, data files", "finish"),
    ("publish (Iceberg commits)", "publish"),
)


def table(result: dict[str, Any]) -> str:
    workers = result["workers"]
    rows = []
    for label, key in ROWS:
        entry = result[key]
        size, wall, cpu = entry["bytes"], entry["seconds"], entry["cpu_seconds"]
        rows.append(
            [
                label,
                f"{wall:.1f}",
                f"{cpu:.1f}",
                f"{size / MB:.1f}" if size else "-",
                f"{size / MB / (wall * workers):.2f}" if size and wall > 0 else "-",
                f"{size / MB / cpu:.2f}" if size and cpu > 0 else "-",
            ]
        )
    headers = ["phase", "wall s", "CPU s", "input MB", "MB/s per core (wall)", "MB per CPU s"]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=100, help="sample corpus size in MB")
    parser.add_argument("--workers", type=int, default=1, help="Ray CPUs (MB/s is per core)")
    parser.add_argument("--layout", choices=("repos", "parquet"), default="repos")
    parser.add_argument("--partitions", type=int, default=8, help="dedup partitions")
    parser.add_argument("--repeats", type=int, default=3, help="per phase the fastest counts")
    parser.add_argument("--workdir", help="keeps the corpus between runs (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if min(args.workers, args.mb, args.repeats) < 1:
        parser.error("--workers, --mb and --repeats must be >= 1")
    result = run(args)
    c = result["corpus"]
    m = result["memory"]
    print(
        f"corpus: {c['files']:,} files, {c['bytes'] / MB:.1f} MB ({c['layout']}), "
        f"{result['ingest']['bytes'] / MB:.1f} MB ingested; {result['workers']} worker(s); "
        f"kept {result['kept_bytes'] / MB:.1f} MB\n"
        f"peak RSS: Ray + driver {m['peak_rss_all'] / MB:.0f} MB, driver "
        f"{m['peak_rss_driver'] / MB:.0f} MB; share of the machine's CPU that other "
        f"processes used during each repeat: {result['other_cpu_share']}"
    )
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
