"""Overhead of `curate` on 1, 2 and 3 Ray nodes of this one machine, and the bytes its
steps exchange between nodes.

Run from the repository root:

    python -m benchmarks.scaling                      # ~8 MB corpus, 3 repeats
    python -m benchmarks.scaling --mb 4 --repeats 2   # quicker

Setup. Three clusters are started side by side with `ray start` (tests/cluster/
localcluster.py): 1 node with 3 CPUs, 2 nodes with 2 + 1, 3 nodes with 1 + 1 + 1.
The total is the same 3 CPUs on the same 2 cores, so the comparison measures what
spreading a run over nodes costs (more raylets and object stores, tasks spilled
to other nodes, one job's worker processes started on every node), not speed-up.
One corpus (installed distributions, hard-linked, plus an edited fork of one for
near-duplicates) is ingested once; every run curates it into a new version of
the same dataset with the same config, through `corpus.pipeline.curate.curate` with
`RunnerConfig(ray_address=...)`, exactly what `codecorpus curate --ray-address`
calls: its clock covers `ray.init` (joining the cluster), every phase and the
Iceberg commits. Each cluster gets one discarded warm-up run; then each repeat
runs the three node counts back to back in rotating order, and the overhead is the
median of the per-repeat ratios (a busy shared machine drifts; neighbours in time
compare fairly). Every run must publish the same version (files, tokens, dedup).

Bytes shuffled between nodes. The steps of dedup and of the tokenizer exchange
Parquet files through the run folder (shared storage: here one local disk, on a
cluster object storage), never through the driver. After each step the driver
lists the run folder: a new file belongs to the step that just finished, and to
the task of that step named by its file (`from-<task>`, `part-<p>`, or the
CurateWorker unit). Which tasks read a file follows from the exchange layout
(`READERS` below, mirroring dedup/steps.py and the tokenizer steps): partition
`p`'s files are read by task `p` of the reading step. Tasks are named
`step[partition]` and each node's worker logs name the tasks it ran for the job,
which gives every writer's and reader's node. A file counts as shuffled for a
reading step when its writer ran on another node. Ray objects between nodes are
not counted: task arguments and results are small inline values, and the few
shared objects (the CurateWorker's constructor arguments) are pulled once per node.

Reading the result: pass 1 can be faster on 3 nodes than on 1. Each raylet starts
the job's worker processes (and sets up its runtime environment through its own
agent) independently; measured here, 3 workers' first tasks took ~5.5 s on one
node and ~3-3.5 s on three. The partitioned steps, which carry the exchange, are
the fair test of what spreading costs.
"""

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from benchmarks._common import MB, Sampler, markdown_table, median, sample_corpus

#: CPUs per node for each node count: the same total.
LAYOUTS = {1: (3,), 2: (2, 1), 3: (1, 1, 1)}
TARGET = 1.25
#: Who reads a run-folder file, by its path in the run folder; `p` is the partition of the
#: reading task. Files of the union-find round after the last one are never read.
FINAL_READERS = ("tokenizer-bytes", "tokenizer-sample", "finish")  # read the final rows
READERS = [
    (r"staged/part-(?P<p>\d+)/", FINAL_READERS),
    (r"dedup/(exact|near)/drops/part-(?P<p>\d+)/", FINAL_READERS),
    (r"dedup/input/part-(?P<p>\d+)/", ("exact",)),
    (r"dedup/exact/nodes/part-(?P<p>\d+)/", ("index",)),
    (r"dedup/index/part-(?P<p>\d+)\.parquet", ("bands", "verify_send", "verify", "attach")),
    (r"dedup/bands/part-(?P<p>\d+)/", ("buckets",)),
    (r"dedup/candidates/part-(?P<p>\d+)/", ("verify_send",)),
    (r"dedup/verify/part-(?P<p>\d+)/", ("verify",)),
    (r"dedup/uf/(?P<r>\d+)/edges/part-(?P<p>\d+)/", ("uf-{r}-propose",)),
    (r"dedup/uf/(?P<r>\d+)/proposals/part-(?P<p>\d+)/", ("uf-{r}-settle",)),
    (r"dedup/uf/(?P<r>\d+)/settled/part-(?P<p>\d+)\.parquet", ("members",)),  # last round
    (r"dedup/members/part-(?P<p>\d+)/", ("attach",)),
    (r"dedup/clusters/part-(?P<p>\d+)/", ("keep",)),
    (r"tokenizer/candidates/part-(?P<p>\d+)\.parquet", ("tokenizer-train",)),  # one task
]  # fmt: skip
#: Step markers that end each phase of a run.
PHASES = (("stages", "stages"), ("dedup", "keep"), ("tokenizer", "tokenizer-train"),
          ("finish", "finish"))  # fmt: skip


@dataclass
class Run:
    nodes: int
    version: str
    seconds: float
    phases: dict[str, float]
    shuffle: dict[str, dict[str, int]]
    unread_bytes: int
    other_cpu_share: float
    outcome: dict = field(default_factory=dict)

    @property
    def steps_seconds(self) -> float:
        """The partitioned steps after pass 1: dedup, tokenizer, finish."""
        return sum(self.phases.get(p, 0.0) for p in ("dedup", "tokenizer", "finish"))

    @property
    def exchanged(self) -> int:
        return sum(s["read"] for s in self.shuffle.values())

    @property
    def crossed(self) -> int:
        return sum(s["cross"] for s in self.shuffle.values())


def build_corpus(dest: Path, megabytes: int) -> None:
    """Real files (installed distributions), plus an edited fork of the largest pure-Python
    repository so near-dedup has clusters to find."""
    from tests.dedup.realfiles import add_comments

    sample_corpus(dest, megabytes)
    source = max(
        (d for d in dest.iterdir() if d.is_dir()), key=lambda d: len(list(d.rglob("*.py")))
    )
    fork = dest / f"{source.name}-fork"
    shutil.copytree(source, fork)
    for number, path in enumerate(sorted(fork.rglob("*.py"))):
        if number % 2 == 0:
            path.write_text(add_comments(path.read_text(errors="replace")))


def curate_once(cluster, catalog, config, version: str, units: dict[str, int]) -> Run:
    """One timed curate on `cluster`, with the run folder listed after every step."""
    import ray

    from corpus.core.cluster import RunnerConfig
    from corpus.pipeline.curate import curate, run_folder
    from corpus.store.catalog import RAW

    runner = RunnerConfig(ray_address=cluster.address)
    snapshot = catalog.table("ds", RAW).current_snapshot().snapshot_id
    folder = Path(urlparse(run_folder(catalog, "ds", version, snapshot, config, runner, None)).path)
    writers: dict[str, tuple[str, int]] = {}  # path -> (step that wrote it, size)
    marks: dict[str, float] = {}
    job: list[str] = []
    listing = 0.0  # time spent listing, taken out of the clock

    def on_step(name: str, result: dict) -> None:
        nonlocal listing
        marks[name] = time.perf_counter() - listing
        began = time.perf_counter()
        if not job:
            job.append(ray.get_runtime_context().get_job_id())
        for path in folder.rglob("*.parquet"):
            key = path.relative_to(folder).as_posix()
            if key not in writers:
                writers[key] = (name, path.stat().st_size)
        listing += time.perf_counter() - began

    with Sampler(interval=0.5) as sampler:
        start = time.perf_counter()
        report = curate("ds", version, catalog, config, runner, on_step=on_step)
        seconds = time.perf_counter() - start - listing
    nodes = {t: n.name for n in cluster.nodes for t in cluster.executed_tasks(n.name, job[0])}
    rounds = [int(m.group(1)) for s in marks if (m := re.fullmatch(r"uf-(\d+)-settle", s))]
    shuffle, unread = shuffled_bytes(writers, nodes, units, max(rounds, default=0))
    phases, previous = {}, start
    for phase, mark in PHASES:
        if mark in marks:
            phases[phase] = round(marks[mark] - previous, 3)
            previous = marks[mark]
    phases["commit"] = round(start + seconds - previous, 3)
    stats = report.version.stats
    outcome = {
        "kept_files": stats.kept_files,
        "tokens": stats.tokens,
        "tokenizer": stats.tokenizer,
        "removed": [stats.dedup.exact_removed, stats.dedup.near_removed],
    }
    return Run(len(cluster.nodes), version, round(seconds, 3), phases, shuffle, unread,
               round(sampler.other_share, 3), outcome)  # fmt: skip


def shuffled_bytes(
    writers: dict[str, tuple[str, int]], nodes: dict[str, str], units: dict[str, int], last: int
) -> tuple[dict[str, dict[str, int]], int]:
    """Per reading step: bytes its tasks read, and those another node wrote; unread bytes."""
    steps: dict[str, dict[str, int]] = defaultdict(lambda: {"read": 0, "cross": 0})
    unread = 0
    for path, (step, size) in writers.items():
        writer = nodes[_writer_task(path, step, units)]
        readers = _reader_tasks(path, last)
        for reader in readers:
            if reader not in nodes:
                unread += size
                continue
            entry = steps[reader.split("[", 1)[0]]
            entry["read"] += size
            entry["cross"] += size if nodes[reader] != writer else 0
        if not readers:
            unread += size
    return dict(steps), unread


def _writer_task(path: str, step: str, units: dict[str, int]) -> str:
    if step == "stages":  # CurateWorker call i handled unit i; files are named after it
        return f"CurateWorker[{units[Path(path).stem.split('-')[0]]}]"
    task = re.search(r"(?:from|part)-(\d+)\.parquet$", path)
    if task is None:
        raise ValueError(f"cannot tell which task of {step} wrote {path}")
    return f"{step}[{int(task.group(1))}]"


def _reader_tasks(path: str, last_round: int) -> list[str]:
    for pattern, steps in READERS:
        found = re.match(pattern, path)
        if found is None:
            continue
        groups = found.groupdict()
        if "settled" in path and int(groups["r"]) != last_round:
            return []
        part = 0 if steps == ("tokenizer-train",) else int(groups["p"])
        return [f"{s.format(r=groups.get('r'))}[{part}]" for s in steps]
    raise ValueError(f"no reader known for run-folder file {path}: update READERS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=8, help="corpus size in MB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=4000, help="tokenizer vocabulary size")
    parser.add_argument("--out", default="benchmarks/results/scaling.json")
    args = parser.parse_args()

    from corpus.core.cluster import RunnerConfig
    from corpus.core.settings import Settings
    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.ingest import ingest
    from corpus.pipeline.stage_worker import unit_name
    from corpus.sources import Layout
    from corpus.store.catalog import RAW, Catalog, data_file_uris
    from tests.cluster.localcluster import LocalRayCluster

    work = Path(tempfile.mkdtemp(prefix="ccscale-"))
    token = secrets.token_hex(16)  # one for all clusters: this process joins each in turn
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    os.environ.pop("RAY_ADDRESS", None)
    clusters = {}
    try:
        build_corpus(work / "repos", args.mb)
        for count, cpus in LAYOUTS.items():
            clusters[count] = LocalRayCluster(node_cpus=cpus, auth_token=token).start()
        catalog = Catalog(Settings(home=work / "home"))
        runner = RunnerConfig(ray_address=clusters[1].address)
        ingest([str(work / "repos")], "ds", catalog, runner=runner, layout=Layout.REPOS)
        raw = catalog.table("ds", RAW)
        uris = data_file_uris(raw, raw.current_snapshot().snapshot_id)
        units = {unit_name(uri): i for i, uri in enumerate(uris)}
        corpus_bytes = sum(f.stat().st_size for f in (work / "repos").rglob("*") if f.is_file())
        config = CurationConfig.from_dict({"tokenizer": {"vocab_size": args.vocab}})
        runs: list[Run] = []
        for count, cluster in clusters.items():
            curate_once(cluster, catalog, config, f"warm{count}", units)
        for repeat in range(args.repeats):
            order = list(LAYOUTS)[repeat % 3 :] + list(LAYOUTS)[: repeat % 3]
            for count in order:
                run = curate_once(clusters[count], catalog, config, f"n{count}r{repeat}", units)
                print(f"repeat {repeat}: {count} node(s) {run.seconds:.1f} s, "
                      f"{run.crossed / MB:.2f} MB across nodes", flush=True)  # fmt: skip
                runs.append(run)
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(runs, args, corpus_bytes, len(uris))


def report(runs: list[Run], args, corpus_bytes: int, units: int) -> None:
    outcomes = {json.dumps(r.outcome, sort_keys=True) for r in runs}
    if len(outcomes) != 1:
        raise SystemExit(f"runs published different versions: {sorted(outcomes)}")
    by_count = {c: [r for r in runs if r.nodes == c] for c in LAYOUTS}
    ratios = {c: _ratio(by_count[1], by_count[c], lambda r: r.seconds) for c in LAYOUTS}
    step_ratios = {c: _ratio(by_count[1], by_count[c], lambda r: r.steps_seconds) for c in LAYOUTS}
    rows, summary = [], {}
    for count, cpus in LAYOUTS.items():
        mine = by_count[count]
        entry = {
            "cpus_per_node": list(cpus),
            "median_seconds": round(median([r.seconds for r in mine]), 2),
            "ratio_vs_1_node": round(ratios[count], 3),
            "steps_median_seconds": round(median([r.steps_seconds for r in mine]), 2),
            "steps_ratio_vs_1_node": round(step_ratios[count], 3),
            "phases_median": {
                p: round(median([r.phases.get(p, 0.0) for r in mine]), 2) for p in mine[0].phases
            },
            "exchanged_mb": round(median([r.exchanged for r in mine]) / MB, 3),
            "crossed_mb": round(median([r.crossed for r in mine]) / MB, 3),
            "crossed_by_step_mb": _by_step(mine),
            "busy_runs": sum(r.other_cpu_share > 0.25 for r in mine),
        }
        summary[str(count)] = entry
        rows.append([count, "+".join(map(str, cpus)), f"{entry['median_seconds']:.1f}",
                     f"{ratios[count]:.2f}x", f"{(ratios[count] - 1) * 100:+.0f}%",
                     f"{entry['phases_median'].get('stages', 0):.1f}",
                     f"{entry['steps_median_seconds']:.1f}", f"{step_ratios[count]:.2f}x",
                     f"{entry['exchanged_mb']:.2f}", f"{entry['crossed_mb']:.2f}",
                     entry["busy_runs"]])  # fmt: skip
    print(f"\ncurate of {corpus_bytes / MB:.1f} MB ({units} data files), median of "
          f"{args.repeats} repeats, {os.cpu_count()} cores\n")  # fmt: skip
    print(markdown_table(["nodes", "CPUs", "s", "vs 1 node", "overhead", "pass 1 s",
                          "steps s", "steps vs 1", "exchanged MB", "across nodes MB",
                          "busy runs"], rows))  # fmt: skip
    print(
        "(pass 1: joining the cluster, reading the catalog, workers starting, the row-local "
        "stages; steps: dedup, tokenizer and finish, the partitioned steps that exchange files)"
    )
    steps = summary["3"]["crossed_by_step_mb"]
    print("\nbytes read across nodes per step, 3 nodes (MB, median):")
    print(markdown_table(["step", "read", "across nodes"],
                         [[s, v["read"], v["cross"]] for s, v in steps.items()]))  # fmt: skip
    verdict = "met" if ratios[3] <= TARGET else "NOT met"
    print(f"\n3 nodes vs 1: {ratios[3]:.2f}x the time (target <= {TARGET}x: {verdict}); "
          f"partitioned steps alone {step_ratios[3]:.2f}x")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m_end": round(os.getloadavg()[0], 2)},
        "corpus": {"bytes": corpus_bytes, "data_files": units, "vocab_size": args.vocab},
        "target_ratio": TARGET, "ratio_3_vs_1": round(ratios[3], 3),
        "steps_ratio_3_vs_1": round(step_ratios[3], 3), "summary": summary,
        "runs": [{**asdict(r), "exchanged": r.exchanged, "crossed": r.crossed} for r in runs],
    }, indent=2))  # fmt: skip
    print(f"saved {args.out}")


def _ratio(base: list[Run], other: list[Run], measure) -> float:
    """Median over repeats of other/base (runs of one repeat ran back to back)."""
    return median([measure(b) / measure(a) for a, b in zip(base, other, strict=True)])


def _by_step(runs: list[Run]) -> dict[str, dict[str, float]]:
    steps = list(dict.fromkeys(s for r in runs for s in r.shuffle))
    return {
        s: {
            k: round(median([r.shuffle.get(s, {}).get(k, 0) for r in runs]) / MB, 4)
            for k in ("read", "cross")
        }
        for s in steps
    }


if __name__ == "__main__":
    main()
