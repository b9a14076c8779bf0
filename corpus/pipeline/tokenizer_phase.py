"""The adapter between curate and `tokenizer/`: the tokenizer phase's steps over the run
folder's partitions, where the version's shards go, and the shard manifest's commit.

What is computed (sampling rates, candidates, training, token counts, shards, token
statistics) is `tokenizer`'s; this module reads the partitions' kept rows for it and
does the catalog bookkeeping.
"""

from dataclasses import dataclass

from corpus.core.cluster import RunnerConfig
from corpus.core.exchange import join
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.stage_worker import kept_rows
from corpus.pipeline.steps import Phase, Progress, run_phase
from corpus.store.catalog import SHARDS, Catalog, data_file_uris
from tokenizer.manifest import manifest_table, shard_root, shards_schema, sum_counts
from tokenizer.phase import (
    TrainArgs,
    language_bytes_step,
    sampling_rates,
    train_from_candidates,
    write_candidates,
)
from tokenizer.sample import language_targets
from tokenizer.store import TokenizerStore


@dataclass(frozen=True)
class PartArgs:
    run: str
    part: int


@dataclass(frozen=True)
class SampleArgs:
    run: str
    part: int
    rates: dict[str, float]
    seed: int


def language_bytes_task(run: str, part: int) -> dict[str, int]:
    return language_bytes_step(kept_rows(run, part))


def candidates_task(run: str, part: int, rates: dict[str, float], seed: int) -> dict:
    uri = join(run, "tokenizer", "candidates", f"part-{part:05d}.parquet")
    return write_candidates(kept_rows(run, part), rates, seed, uri)


def version_tokenizer(
    catalog: Catalog,
    dataset: str,
    version: str,
    snapshot_id: int,
    config: CurationConfig,
    runner: RunnerConfig,
    run: str,
    on_step: Progress | None,
) -> str | None:
    """The tokenizer of the version: the configured one, or one trained on its kept files."""
    if not config.shards.enabled:
        return None
    store = TokenizerStore(catalog.settings.resolved_warehouse())
    if config.shards.tokenizer:
        return store.resolve(config.shards.tokenizer)
    parts = range(runner.partitions)
    available = run_phase(
        run,
        Phase("tokenizer-bytes", language_bytes_task, [PartArgs(run, p) for p in parts],
              sum_counts),
        on_step,
    )  # fmt: skip
    if not available:
        return None  # nothing kept: nothing to tokenize
    train = config.tokenizer
    rates = sampling_rates(available, train)
    sample = [SampleArgs(run, p, rates, train.seed) for p in parts]
    run_phase(run, Phase("tokenizer-sample", candidates_task, sample, sum_counts), on_step)
    record = {"dataset": dataset, "version": version, "raw_snapshot_id": snapshot_id}
    training = TrainArgs(
        join(run, "tokenizer", "candidates"),
        language_targets(available, train),
        train.to_dict(),
        store.root,
        record,
        config.shards.shrink_vocab,
    )
    trained = run_phase(
        run,
        Phase("tokenizer-train", train_from_candidates, [training], lambda results: results[0]),
        on_step,
    )
    return trained["sha256"]


def shard_target(
    catalog: Catalog, dataset: str, version: str, sha: str | None
) -> tuple[str | None, str | None]:
    """(model URI, shard folder) the finish step tokenizes with; (None, None) without one."""
    if sha is None:
        return None, None
    model_uri = TokenizerStore(catalog.settings.resolved_warehouse()).model_path(sha)
    table = catalog.ensure_table(dataset, SHARDS, shards_schema(), "version")
    return model_uri, shard_root(table.location(), version, sha)


def commit_version_rows(
    catalog: Catalog,
    dataset: str,
    table_name: str,
    version: str,
    rows: list[dict],
    tokenizer: str | None = None,
) -> int:
    """Replace a version's rows (of one tokenizer, if given) of the shard manifest, tagged
    with the version name; returns the snapshot."""
    from pyiceberg.expressions import And, EqualTo

    from corpus.store.versions import tag_staged_snapshot

    table = manifest_table(rows, version)

    def replace(iceberg_table, tx) -> int:
        condition = EqualTo("version", version)
        if tokenizer is not None:
            condition = And(condition, EqualTo("tokenizer", tokenizer))
        if data_file_uris(iceberg_table, row_filter=condition):  # rows of an earlier attempt
            tx.delete(condition)
        tx.append(table)  # even empty: the commit has a snapshot of its own to record
        return tag_staged_snapshot(tx, version)

    return catalog.commit(dataset, table_name, replace)
