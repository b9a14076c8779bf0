"""Deduplicate an Arrow table of files directly (benchmarks, notebooks, tests).

The same steps as in `codecorpus curate`, without the catalog: the table is
cut into chunks, Ray tasks build candidate rows (signatures) per chunk, then
`run_dedup` runs. A rerun with the same `workdir` resumes finished steps.
"""

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from corpus.core.exchange import join, read_folder, write_partitions
from corpus.pipeline.dedup_phase import Progress, run_dedup
from corpus.pipeline.steps import Phase, run_phase
from dedup.config import DedupConfig
from dedup.records import DROP_SCHEMA, sha_partition


@dataclass
class DedupResult:
    drops: pa.Table
    """file_id, drop_reason (dedup:exact or dedup:near), dup_of, dup_cluster; sorted by file_id."""
    stats: dict[str, Any]


@dataclass(frozen=True)
class ChunkArgs:
    chunk: Any
    """An object ref of the chunk's rows (resolved in the worker)."""
    config: dict
    folder: str
    name: str
    partitions: int


def _candidates_task(
    chunk: pa.Table, config: dict, folder: str, name: str, partitions: int
) -> dict[str, Any]:
    from dedup.candidates import CandidateBuilder

    rows = CandidateBuilder(DedupConfig(**_settable(config)))(chunk)
    write_partitions(
        folder, name, rows, sha_partition(rows.column("content_sha256"), partitions), partitions
    )
    return {"rows": rows.num_rows}


def _settable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in ("bands", "rows")}


def deduplicate_table(
    files: pa.Table,
    workdir: str,
    config: DedupConfig | None = None,
    partitions: int = 8,
    chunk_rows: int = 2048,
    on_step: Progress | None = None,
) -> DedupResult:
    """Drops for `files` (columns file_id, content; optional content_sha256, lang, size,
    license_class, stars, forks, revision_date for the keep rule). Needs a running Ray."""
    import dataclasses

    import ray

    config = config or DedupConfig()
    if files.num_rows and len(set(files.column("file_id").to_pylist())) != files.num_rows:
        raise ValueError("file_id must be unique within the table")
    chunks = [
        ChunkArgs(
            ray.put(files.slice(start, chunk_rows)),
            dataclasses.asdict(config),
            join(workdir, "input"),
            f"chunk-{start // chunk_rows:06d}",
            partitions,
        )
        for start in range(0, files.num_rows, chunk_rows)
    ]
    run_phase(workdir, Phase("candidates", _candidates_task, chunks))
    stats = run_dedup(workdir, config, partitions, "table", join(workdir, "minhash"), [], on_step)
    drops = [
        read_folder(join(workdir, kind, "drops"), DROP_SCHEMA, recursive=True)
        for kind in ("exact", "near")
    ]
    return DedupResult(pa.concat_tables(drops).sort_by("file_id"), stats)
