"""Curate workers: they run in Ray worker processes, so they import nothing catalog-related.

Pass 1 (`CurateWorker`) applies the row-local stages to raw data files and
stages every row in the run folder, partitioned by file id, plus one
candidate row per kept file (content hash, keep-rule columns, MinHash
signature) for the dedup stage. Pass 2 (`finish_step`) joins one partition's
staged rows with the dedup drops and writes the version's data files.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpus.core.cluster import resolve
from corpus.core.exchange import join, read_partition, write_partitions
from corpus.core.rowkeys import ROW_KEY, contains, row_keys
from corpus.core.schema import conform, decisions_schema, files_schema
from corpus.core.stage import Stage, StageChain
from corpus.core.storage import filesystem_for, read_bytes
from corpus.core.summary import CallSummary
from corpus.core.writers import ParquetSink
from corpus.licenses.stage import LicenseStage
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.holdout import HoldoutStage
from dedup.candidates import CandidateBuilder
from dedup.index_reuse import IndexRef, open_index
from dedup.records import (
    CANDIDATE_SCHEMA,
    DEDUP_COLUMNS,
    DROP_SCHEMA,
    file_partition,
    sha_partition,
)
from heuristics.governance import PII_COLUMNS, GovernanceStage
from heuristics.licenses import LicenseRuleStage
from heuristics.stage import HeuristicsStage
from tokenizer.config import ShardsConfig
from tokenizer.partition import tokenize_partition, tokens_by_lang

#: Row-local stages applied at curation, in order. Intake, language and license facts
#: already ran at ingest. Each rule stage keeps the first drop reason a file got; the holdout
#: goes first, so it depends on no curation choice.
CURATE_STAGES: tuple[type[Stage], ...] = (
    HoldoutStage,
    LicenseStage,
    LicenseRuleStage,
    HeuristicsStage,
    GovernanceStage,
)


#: Token count of each kept file (null for dropped files), with the version's tokenizer.
TOKEN_COLUMNS = pa.schema([pa.field("tokens", pa.int64())])


def stage_columns(stages: tuple[type[Stage], ...] = CURATE_STAGES) -> pa.Schema:
    return pa.schema([*(f for stage in stages for f in stage.adds), *DEDUP_COLUMNS, *TOKEN_COLUMNS])


def staged_schema() -> pa.Schema:
    return files_schema(stage_columns())


def unit_name(uri: str) -> str:
    return hashlib.blake2b(uri.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class StagesArgs:
    """What every `CurateWorker` of a run is built from (large values as object refs)."""

    config: dict
    version: str
    run: str
    partitions: int
    superseded: Any
    """Row keys of raw rows a later ingest replaced (`corpus.core.rowkeys.key_set`)."""
    reusable: Any
    """Content-hash keys whose MinHash signatures a previous version persisted."""
    index: IndexRef | None
    """Or that version's lookup index, asked for the signatures themselves."""
    batch_rows: int
    context: dict[str, Any]
    """Global inputs of the stages (license evidence, opt-out entries), by name."""


class CurateWorker:
    """Pass 1: raw data files -> stage chain -> staged rows and dedup candidates."""

    def __init__(self, args: StagesArgs) -> None:
        self.config = CurationConfig.from_dict(args.config)
        resolved = {key: resolve(value) for key, value in args.context.items()}
        self.chain = StageChain(CURATE_STAGES, self.config, resolved)
        self.version = args.version
        self.run = args.run
        self.partitions = args.partitions
        self.superseded = resolve(args.superseded)
        self.batch_rows = args.batch_rows
        self.schema = staged_schema()
        source = open_index(args.index) if args.index is not None else None
        self.candidates = CandidateBuilder(self.config.dedup, resolve(args.reusable), source)

    def __call__(self, units: pa.Table) -> pa.Table:
        summary = CallSummary()
        for payload in units.column("unit").to_pylist():
            summary.units += 1
            uri = json.loads(payload)["uri"]
            name = unit_name(uri)
            sinks = [
                ParquetSink(join(self.run, "staged", f"part-{p:05d}"), self.schema, name=name)
                for p in range(self.partitions)
            ]
            candidates = []
            for batch in self._read(uri):
                stale = contains(self.superseded, row_keys(batch, ROW_KEY))
                if stale.any():
                    batch = batch.filter(pa.array(~stale))
                summary.seen += batch.num_rows
                batch = self.chain(batch)
                batch = batch.append_column(
                    "version", pa.array([self.version] * batch.num_rows, pa.string())
                )
                summary.tally.add_table(batch)
                summary.bytes_seen += int(pc.sum(batch.column("size")).as_py() or 0)
                if "stripped_bytes" in batch.column_names:
                    summary.stripped_bytes += int(
                        pc.sum(batch.column("stripped_bytes")).as_py() or 0
                    )
                _count_pii(summary, batch)
                staged = conform(batch, self.schema)
                parts = file_partition(staged.column("file_id"), self.partitions)
                for p in np.unique(parts).tolist():
                    sinks[p].write(staged.filter(pa.array(parts == p)))
                candidates.append(self._candidates(batch))
            for sink in sinks:
                summary.data_files.extend(sink.close())
            self._write_candidates(name, candidates)
        return summary.to_table()

    def _candidates(self, batch: pa.Table) -> pa.Table:
        """One row per kept file with content: what exact and near dedup need, no content."""
        kept = batch.filter(
            pc.and_(pc.is_null(batch.column("drop_reason")), pc.is_valid(batch.column("content")))
        )
        return self.candidates(kept)

    def _write_candidates(self, name: str, candidates: list[pa.Table]) -> None:
        table = pa.concat_tables(candidates) if candidates else CANDIDATE_SCHEMA.empty_table()
        parts = sha_partition(table.column("content_sha256"), self.partitions)
        write_partitions(join(self.run, "dedup", "input"), name, table, parts, self.partitions)

    def _read(self, uri: str):
        fs, path = filesystem_for(uri)
        with fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=self.batch_rows):
                yield pa.Table.from_batches([batch])


def final_rows(run: str, part: int) -> pa.Table:
    """One partition's staged rows with the dedup drops applied, in file_id order."""
    schema = staged_schema()
    staged = read_partition(join(run, "staged"), part, schema)
    drops = pa.concat_tables(
        [
            read_partition(join(run, "dedup", kind, "drops"), part, DROP_SCHEMA)
            for kind in ("exact", "near")
        ]
    )
    if drops.num_rows:
        staged = _apply_drops(staged, drops, schema)
    return staged.sort_by("file_id")  # the same files whatever the workers and partitions


def _kept(rows: pa.Table) -> pa.Table:
    return rows.filter(pc.is_null(rows.column("drop_reason")))


def kept_rows(run: str, part: int) -> pa.Table:
    """One partition's kept files, in file_id order (what the tokenizer phase reads)."""
    return _kept(final_rows(run, part))


@dataclass(frozen=True)
class FinishArgs:
    """One partition's finish task: where the version's data files and shards go."""

    run: str
    part: int
    version: str
    decisions_folder: str
    files_folder: str
    model_uri: str | None
    """The version's tokenizer; None: no token counts, no shards."""
    shard_dir: str | None
    shards: dict


def finish_step(
    run: str,
    part: int,
    version: str,
    decisions_folder: str,
    files_folder: str,
    model_uri: str | None = None,
    shard_dir: str | None = None,
    shards: dict | None = None,
) -> dict[str, Any]:
    """Pass 2: one partition's staged rows + dedup drops (+ tokens) -> the version's files."""
    schema = staged_schema()
    staged = final_rows(run, part)
    shard_rows: list[dict[str, Any]] = []
    if model_uri is not None and shard_dir is not None:
        staged, shard_rows = tokenize_partition(
            staged,
            read_bytes(model_uri),
            f"{shard_dir}/p{part:05d}",
            ShardsConfig(**(shards or {})),
        )
    name = f"{version}-{part:05d}"
    decisions_schema_ = decisions_schema(stage_columns())
    decisions = ParquetSink(decisions_folder, decisions_schema_, name=name)
    files = ParquetSink(files_folder, schema, name=name)
    summary = CallSummary(units=1, seen=staged.num_rows)
    summary.tally.add_table(staged)
    decisions.write(conform(staged, decisions_schema_))
    kept = _kept(staged)
    files.write(kept)
    summary.data_files = decisions.close()
    summary.extra_files = files.close()
    result = summary.to_table().to_pylist()[0]
    result["shards"] = shard_rows
    result["tokens_by_lang"] = tokens_by_lang(kept) if model_uri else {}
    return result


def _apply_drops(staged: pa.Table, drops: pa.Table, schema: pa.Schema) -> pa.Table:
    # A file is dropped by one dedup rule at most: exact losers never reach near dedup.
    frame = pl.from_arrow(staged).join(
        pl.from_arrow(drops), on="file_id", how="left", suffix="_dedup"
    )
    frame = frame.with_columns(
        pl.coalesce("drop_reason", "drop_reason_dedup").alias("drop_reason"),
        pl.col("dup_of_dedup").alias("dup_of"),
        pl.col("dup_cluster_dedup").alias("dup_cluster"),
    ).drop("drop_reason_dedup", "dup_of_dedup", "dup_cluster_dedup")
    return conform(frame.to_arrow(), schema)


def _count_pii(summary: CallSummary, batch: pa.Table) -> None:
    """Spans per PII kind, and files holding any, of the batch's files the stage scanned."""
    columns = [f.name for f in PII_COLUMNS if f.name in batch.column_names]
    if not columns:
        return
    any_found = None
    for name in columns:
        column = pc.fill_null(batch.column(name), 0)
        kind = name.removeprefix("pii_")
        summary.pii[kind] = summary.pii.get(kind, 0) + int(pc.sum(column).as_py() or 0)
        found = pc.greater(column, 0)
        any_found = found if any_found is None else pc.or_(any_found, found)
    files = int(pc.sum(any_found.cast(pa.int64())).as_py() or 0)
    summary.pii["files"] = summary.pii.get("files", 0) + files
