"""What a curate run reads before its first phase: the raw snapshot, the global inputs of
the stages (license evidence, opt-outs, superseded rows), the version's table folders,
reusable signatures and the run folder. The same inputs find the same run folder, so a
rerun resumes."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from corpus.core.cluster import RunnerConfig
from corpus.core.errors import CodecorpusError, ConfigError, VersionExists
from corpus.core.exchange import join
from corpus.core.rowkeys import ROW_KEY, drop_superseded, latest_rows
from corpus.core.schema import decisions_schema, files_schema
from corpus.licenses.scope import evidence_rows
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.stage_worker import stage_columns
from corpus.store.catalog import DECISIONS, FILES, MINHASH, RAW, Catalog, data_file_uris
from corpus.store.optout import OptOutRegistry, OptOutSnapshot
from corpus.store.versions import Registry
from dedup.candidates import sha_key_set
from dedup.records import MINHASH_SCHEMA


@dataclass(frozen=True)
class Inputs:
    registry: Registry
    snapshot_id: int
    superseded: pa.Table
    """Row keys of raw rows a later ingest replaced."""
    evidence: pa.Table
    opt_out: OptOutSnapshot
    folders: dict[str, str]
    """The version's data folder in each of its tables (DECISIONS, FILES, MINHASH)."""
    reuse_files: list[str]
    """Data files of the previous version's persisted signatures (`--dedup-against`)."""
    reusable: Any
    """Their content-hash keys."""
    run: str
    units: list[dict[str, str]]
    """One per raw data file of the snapshot."""


def read_inputs(
    catalog: Catalog,
    dataset: str,
    version: str,
    config: CurationConfig,
    runner: RunnerConfig,
    dedup_against: str | None,
) -> Inputs:
    registry = Registry(catalog, dataset)
    if registry.exists(version):
        raise VersionExists(
            f"version {version!r} of {dataset!r} already exists; versions are immutable, "
            f"pick another name"
        )
    raw = catalog.table(dataset, RAW)
    snapshot = raw.current_snapshot()
    if snapshot is None:
        raise CodecorpusError(f"dataset {dataset!r} has no ingested files yet")
    snapshot_id = snapshot.snapshot_id
    _, superseded = latest_rows(
        raw.scan(selected_fields=ROW_KEY, snapshot_id=snapshot_id).to_arrow()
    )
    evidence = _license_evidence(raw, snapshot_id, superseded)
    opt_out = OptOutRegistry(catalog).snapshot()
    extra = stage_columns()
    schemas = {
        DECISIONS: decisions_schema(extra), FILES: files_schema(extra), MINHASH: MINHASH_SCHEMA
    }  # fmt: skip
    folders = {
        name: _data_folder(catalog.ensure_table(dataset, name, schema, "version"), version)
        for name, schema in schemas.items()
    }
    reuse_files, reusable = _reusable_signatures(catalog, dataset, registry, dedup_against, config)
    return Inputs(
        registry=registry,
        snapshot_id=snapshot_id,
        superseded=superseded,
        evidence=evidence,
        opt_out=opt_out,
        folders=folders,
        reuse_files=reuse_files,
        reusable=reusable,
        run=run_folder(catalog, dataset, version, snapshot_id, config, runner, dedup_against),
        units=[{"uri": uri} for uri in data_file_uris(raw, snapshot_id)],
    )


def _data_folder(table, version: str) -> str:
    return f"{table.location().rstrip('/')}/data/version={version}"


def run_folder(
    catalog: Catalog,
    dataset: str,
    version: str,
    snapshot_id: int,
    config: CurationConfig,
    runner: RunnerConfig,
    dedup_against: str | None,
) -> str:
    """Where a run keeps its checkpoints: the same inputs find the same folder on a rerun."""
    key = json.dumps([snapshot_id, config.fingerprint(), runner.partitions, dedup_against])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return join(catalog.settings.resolved_warehouse(), "_runs", dataset, f"{version}-{digest}")


def _reusable_signatures(
    catalog: Catalog,
    dataset: str,
    registry: Registry,
    previous: str | None,
    config: CurationConfig,
) -> tuple[list[str], Any]:
    """Data files and content-hash keys of a previous version's persisted signatures."""
    import numpy as np
    from pyiceberg.expressions import EqualTo

    if previous is None or not config.dedup.near:
        return [], np.empty(0, dtype="S16")
    old = registry.get(previous)
    signature_settings = ("num_perm", "ngram", "seed")
    old_dedup = old.config.get("dedup", {})
    differs = [k for k in signature_settings if old_dedup.get(k) != getattr(config.dedup, k)]
    if differs:
        raise ConfigError(
            f"cannot reuse the signatures of {previous!r}: its dedup {', '.join(differs)} "
            f"differ from this run's; curate without --dedup-against to recompute them"
        )
    table = catalog.table(dataset, MINHASH)
    snapshot_id = old.lineage.minhash_snapshot_id
    if snapshot_id is None:
        raise CodecorpusError(f"version {previous!r} has no persisted MinHash signatures")
    files = data_file_uris(table, snapshot_id, EqualTo("version", previous))
    hashes = table.scan(
        row_filter=EqualTo("version", previous),
        selected_fields=("content_sha256",),
        snapshot_id=snapshot_id,
    ).to_arrow()
    return files, sha_key_set(hashes.column("content_sha256"))


def _license_evidence(raw, snapshot_id: int, superseded: pa.Table) -> pa.Table:
    """Global step: every license evidence row of the snapshot (a few per repository)."""
    from pyiceberg.expressions import NotNull

    columns = (
        *ROW_KEY,
        "repo",
        "path",
        "license_evidence_kind",
        "license_evidence",
        "license_evidence_score",
    )
    rows = raw.scan(
        row_filter=NotNull("license_evidence"), selected_fields=columns, snapshot_id=snapshot_id
    ).to_arrow()
    return evidence_rows(drop_superseded(rows, superseded))
