"""The dedup stage: exact, then MinHash LSH near-duplicates, as resumable steps on Ray.

The curate workers write one candidate row per kept file (content hash,
keep-rule columns, MinHash signature) into `<run>/input`, partitioned by
content hash. `run_dedup` then runs the steps of `dedup.steps`, each a set
of Ray tasks over partitions, and leaves the drops in `<run>/exact/drops`
and `<run>/near/drops`, partitioned by file id for the final join. Nothing
corpus-sized passes through the driver: it sees counts and P offsets.
"""

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from corpus.pipeline.steps import Phase, Progress, run_phase
from dedup import steps
from dedup.config import DedupConfig

log = logging.getLogger(__name__)

#: Union-find rounds before giving up (each round at least halves chain depth in practice).
MAX_ROUNDS = 64

__all__ = ["MAX_ROUNDS", "Progress", "run_dedup"]


# The arguments of the `dedup.steps` tasks, one object per partition task.
@dataclass(frozen=True, kw_only=True)
class Part:
    run: str
    part: int


@dataclass(frozen=True, kw_only=True)
class Spread(Part):
    count: int


@dataclass(frozen=True, kw_only=True)
class ExactArgs(Spread):
    exact: bool
    cached_files: tuple[str, ...]
    num_perm: int


@dataclass(frozen=True, kw_only=True)
class Ranged(Spread):
    offsets: tuple[int, ...]
    """First global row id of each partition's candidates, plus the total."""


@dataclass(frozen=True, kw_only=True)
class BandsArgs(Ranged):
    num_perm: int
    bands: int
    rows: int
    version: str
    minhash_folder: str


@dataclass(frozen=True, kw_only=True)
class BucketsArgs(Ranged):
    max_bucket: int
    stars: int


@dataclass(frozen=True, kw_only=True)
class VerifyArgs(Ranged):
    num_perm: int
    threshold: float


@dataclass(frozen=True, kw_only=True)
class Round(Spread):
    round_dir: str


@dataclass(frozen=True, kw_only=True)
class SettleArgs(Round):
    next_dir: str


@dataclass(frozen=True, kw_only=True)
class MembersArgs(Round):
    offsets: tuple[int, ...]


def _sum(results: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            if isinstance(value, dict):
                merged = Counter(total.get(key, {}))
                merged.update(value)
                total[key] = dict(sorted(merged.items(), key=lambda kv: _natural(kv[0])))
            elif isinstance(value, list):
                total[key] = [*total.get(key, []), *value]
            else:
                total[key] = total.get(key, 0) + value
    return total


def _natural(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def run_dedup(
    run: str,
    config: DedupConfig,
    partitions: int,
    version: str,
    minhash_folder: str,
    cached_files: list[str] | None = None,
    on_step: Progress | None = None,
) -> dict[str, Any]:
    """Run every dedup step not already done in `run`; return the stage's statistics."""
    P = partitions
    parts = range(P)
    cached = tuple(cached_files or ())

    def step(name: str, task, args, combine=_sum) -> dict[str, Any]:
        return run_phase(run, Phase(name, task, args, combine), on_step)

    exact = step(
        "exact",
        steps.exact_step,
        [ExactArgs(run=run, part=p, count=P, exact=config.exact, cached_files=cached,
                   num_perm=config.num_perm) for p in parts],
    )  # fmt: skip
    stats: dict[str, Any] = {
        "exact": {k: exact[k] for k in ("removed", "groups", "group_sizes")},
        "candidates": exact["candidates"],
    }
    if not config.near:
        return stats
    index = step(
        "index",
        steps.index_step,
        [Part(run=run, part=p) for p in parts],
        combine=lambda rs: {"rows": [r["rows"] for r in rs]},
    )
    offsets = [0]
    for rows in index["rows"]:
        offsets.append(offsets[-1] + rows)
    ranged = {"run": run, "count": P, "offsets": tuple(offsets)}
    banded = step(
        "bands",
        steps.bands_step,
        [BandsArgs(**ranged, part=p, num_perm=config.num_perm, bands=config.bands,
                   rows=config.rows, version=version, minhash_folder=minhash_folder)
         for p in parts],
    )  # fmt: skip
    stats["minhash_files"] = sorted(banded["minhash_files"])
    buckets = step(
        "buckets",
        steps.buckets_step,
        [BucketsArgs(**ranged, part=p, max_bucket=config.max_bucket,
                     stars=config.stars_per_bucket) for p in parts],
    )  # fmt: skip
    sent = step("verify_send", steps.verify_send_step, [Ranged(**ranged, part=p) for p in parts])
    verified = step(
        "verify",
        steps.verify_step,
        [VerifyArgs(**ranged, part=p, num_perm=config.num_perm, threshold=config.threshold)
         for p in parts],
    )  # fmt: skip
    rounds, last, peak_bytes = _components(run, P, step)
    members = step(
        "members",
        steps.members_step,
        [MembersArgs(**ranged, part=p, round_dir=last) for p in parts],
    )
    step("attach", steps.attach_step, [Ranged(**ranged, part=p) for p in parts])
    kept = step("keep", steps.keep_step, [Spread(run=run, part=p, count=P) for p in parts])
    clustered = members["nodes"] + kept["clusters"]  # non-root nodes + one root per cluster
    stats["near"] = {
        "candidates": offsets[-1],
        "too_few_tokens": exact["short"],
        "bucket_edges": buckets["edges"],
        "capped_buckets": buckets["capped_buckets"],
        "capped_members": buckets["capped_members"],
        "candidate_pairs": sent["pairs"],
        "verified_pairs": verified["verified"],
        "union_find_rounds": rounds,
        "clustered_files": clustered,
        # settled edges are int64 pairs; peak over rounds, per file that has an edge
        "union_find_bytes_per_file": round(peak_bytes / clustered, 2) if clustered else 0.0,
        "clusters": kept["clusters"],
        "cluster_sizes": kept["cluster_sizes"],
        "removed": kept["removed"],
        "removed_by_lang": kept["removed_by_lang"],
        "matched_previous": kept["matched_previous"],
    }
    return stats


def _components(run: str, P: int, step) -> tuple[int, str, int]:
    """Union-find rounds until the settled edges stop changing.

    Returns (rounds, last round's folder, peak bytes of settled edge state)."""
    previous = None
    peak_bytes = 0
    for number in range(MAX_ROUNDS):
        here, following = f"{number:02d}", f"{number + 1:02d}"
        step(
            f"uf-{here}-propose",
            steps.propose_step,
            [Round(run=run, part=p, count=P, round_dir=here) for p in range(P)],
        )
        settled = step(
            f"uf-{here}-settle",
            steps.settle_step,
            [SettleArgs(run=run, part=p, count=P, round_dir=here, next_dir=following)
             for p in range(P)],
        )  # fmt: skip
        fingerprint = (settled["edges"], settled["checksum"] % (1 << 64))
        peak_bytes = max(peak_bytes, settled["edge_bytes"])
        log.info("union-find round %d: %d edges", number, settled["edges"])
        if fingerprint == previous:
            return number + 1, here, peak_bytes
        previous = fingerprint
    raise RuntimeError(
        f"union-find did not settle in {MAX_ROUNDS} rounds; please report this with the run folder"
    )
