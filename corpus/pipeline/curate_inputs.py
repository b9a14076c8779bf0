"""What a curate run reads before its first phase: the raw snapshot, the global inputs of
the stages (license evidence, opt-outs, superseded rows), the version's table folders,
where reusable signatures come from and the run folder. The same inputs find the same
run folder, so a rerun resumes."""

import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np
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
from dedup.index import LookupIndexError
from dedup.index_reuse import IndexRef
from dedup.records import MINHASH_SCHEMA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reuse:
    """Where a run finds the previous version's signatures (`--dedup-against`), if anywhere."""

    source: str | None = None
    """"index": the workers ask its lookup index; "signatures": the driver broadcasts the
    content-hash keys of its stored signatures and the exact step reads their files."""
    count: int = 0
    """Content hashes whose signatures can be reused (`reused_signatures` in the stats)."""
    index: IndexRef | None = None
    files: list[str] = field(default_factory=list)
    """"signatures": the data files of the stored signatures."""
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="S16"))
    """"signatures": their content-hash keys (S16, sorted); otherwise empty."""


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
    reuse: Reuse
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
    reuse = _reusable_signatures(catalog, dataset, registry, dedup_against, config)
    return Inputs(
        registry=registry,
        snapshot_id=snapshot_id,
        superseded=superseded,
        evidence=evidence,
        opt_out=opt_out,
        folders=folders,
        reuse=reuse,
        run=run_folder(
            catalog, dataset, version, snapshot_id, config, runner, dedup_against, reuse.source
        ),
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
    reuse_source: str | None = None,
) -> str:
    """Where a run keeps its checkpoints: the same inputs find the same folder on a rerun.

    Reusing through the index gets a folder of its own: its staged candidates carry their
    signatures, those of the other path do not (a rerun that finds the index built since
    must not resume from them)."""
    inputs = [snapshot_id, config.fingerprint(), runner.partitions, dedup_against]
    key = json.dumps([*inputs, "index"] if reuse_source == "index" else inputs)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return join(catalog.settings.resolved_warehouse(), "_runs", dataset, f"{version}-{digest}")


def _reusable_signatures(
    catalog: Catalog,
    dataset: str,
    registry: Registry,
    previous: str | None,
    config: CurationConfig,
) -> Reuse:
    """How the run reuses a previous version's signatures: through its lookup index when it
    has one that can serve, else from its stored signatures."""
    if previous is None or not config.dedup.near:
        return Reuse()
    old = registry.get(previous)
    signature_settings = ("num_perm", "ngram", "seed")
    old_dedup = old.config.get("dedup", {})
    differs = [k for k in signature_settings if old_dedup.get(k) != getattr(config.dedup, k)]
    if differs:
        raise ConfigError(
            f"cannot reuse the signatures of {previous!r}: its dedup {', '.join(differs)} "
            f"differ from this run's; curate without --dedup-against to recompute them"
        )
    if old.lineage.minhash_snapshot_id is None:
        raise CodecorpusError(f"version {previous!r} has no persisted MinHash signatures")
    from corpus.store.lookup_index import IndexNotBuilt, reuse_ref

    try:
        ref = reuse_ref(catalog, dataset, old, config.dedup)
    except IndexNotBuilt:
        log.info("%s@%s has no lookup index: reusing its stored signatures", dataset, previous)
    except LookupIndexError as exc:
        log.warning("the lookup index of %s@%s cannot serve this run (%s): reusing its stored "
                    "signatures", dataset, previous, exc)  # fmt: skip
    else:
        return Reuse("index", ref.sha_signatures, ref)
    return _stored_signatures(catalog, dataset, old.lineage.minhash_snapshot_id, previous)


def _stored_signatures(catalog: Catalog, dataset: str, snapshot_id: int, previous: str) -> Reuse:
    """The data files and content-hash keys of a version's persisted signatures."""
    from pyiceberg.expressions import EqualTo

    table = catalog.table(dataset, MINHASH)
    files = data_file_uris(table, snapshot_id, EqualTo("version", previous))
    hashes = table.scan(
        row_filter=EqualTo("version", previous),
        selected_fields=("content_sha256",),
        snapshot_id=snapshot_id,
    ).to_arrow()
    keys = sha_key_set(hashes.column("content_sha256"))
    return Reuse("signatures", int(keys.size), files=files, keys=keys)


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
