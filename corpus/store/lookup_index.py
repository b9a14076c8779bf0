"""Lookup indexes of versions: built from `<ds>.minhash` and `<ds>.decisions`, persisted next to
the version, loaded lazily, and queried with a file's content ("is this in the corpus?").

Embedded default: the in-process index, pickled to
`<warehouse>/<ds>.db/lookup/<version>/index-<build>.pkl` with a `manifest.json` written
after it (a reader that finds no manifest finds no index: a build that dies leaves
nothing visible). With `CODECORPUS_LOOKUP_REDIS_URL` set, the buckets and rows live in
Redis (`dedup.index_redis`) and the manifest in the warehouse only records that.
Either way the manifest names the dataset, version and snapshots it indexes, and an
index is served only for the version it matches.
"""

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyiceberg.expressions import EqualTo, In

from corpus.core.errors import CodecorpusError
from corpus.core.settings import Settings
from corpus.core.storage import exists, read_bytes, write_bytes
from corpus.store.catalog import FILES, MINHASH, Catalog
from corpus.store.versions import Registry, Version, scan_version
from dedup.config import DedupConfig
from dedup.index import FORMAT, Entry, IndexParams, LookupIndexError, MemoryIndex, NearMatch
from dedup.index_reuse import IndexRef
from dedup.minhash import reference_shingles
from dedup.records import signature_matrix

log = logging.getLogger(__name__)
Index = Any  # MemoryIndex | RedisIndex: the same queries (near, exact, repo, signatures_of, check)


class IndexNotBuilt(CodecorpusError, LookupError):
    """The version has no lookup index yet."""


def dedup_config(version: Version) -> DedupConfig:
    stored = version.config.get("dedup", {})
    names = [n for n, f in DedupConfig.__dataclass_fields__.items() if f.init]
    return DedupConfig(**{n: stored[n] for n in names if n in stored})


def index_folder(settings: Settings, dataset: str, version: str) -> str:
    return f"{settings.resolved_warehouse().rstrip('/')}/{dataset}.db/lookup/{version}"


def redis_root(dataset: str, version: str) -> str:
    return f"codecorpus:lookup:{dataset}:{version}"


def _identity(dataset: str, version: Version) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "dataset": dataset,
        "version": version.name,
        "decisions_snapshot_id": version.decisions_snapshot_id,
        "minhash_snapshot_id": version.lineage.get("minhash_snapshot_id"),
    }


def version_rows(
    catalog: Catalog, dataset: str, version: Version
) -> tuple[list[Entry], np.ndarray, np.ndarray]:
    """Every file of the version as an Entry, and the (row, signature) of its near candidates."""
    columns = ("file_id", "repo", "path", "content_sha256", "drop_reason")
    decisions = scan_version(catalog, dataset, version).select(*columns).to_arrow()
    decisions = decisions.sort_by("file_id")
    values = [decisions.column(c).to_pylist() for c in columns]
    entries = [Entry(*row) for row in zip(*values, strict=True)]
    num_perm = dedup_config(version).num_perm
    snapshot = version.lineage.get("minhash_snapshot_id")
    if snapshot is None or not catalog.has_table(dataset, MINHASH):
        return entries, np.empty(0, np.int64), np.empty((0, num_perm), np.uint32)
    minhash = (
        catalog.table(dataset, MINHASH)
        .scan(
            row_filter=EqualTo("version", version.name),
            selected_fields=("file_id", "signature"),
            snapshot_id=snapshot,
        )
        .to_arrow()
        .sort_by("file_id")
    )
    position = {fid: i for i, fid in enumerate(decisions.column("file_id").to_pylist())}
    rows = np.array([position[f] for f in minhash.column("file_id").to_pylist()], np.int64)
    return entries, rows, signature_matrix(minhash.column("signature"), num_perm)


def build_index(
    catalog: Catalog, dataset: str, version_name: str, force: bool = False
) -> dict[str, Any]:
    """Build the version's index (in Redis when the settings name one); its manifest."""
    version = Registry(catalog, dataset).get(version_name)
    params = IndexParams.from_config(dedup_config(version))
    started = time.perf_counter()
    entries, rows, signatures = version_rows(catalog, dataset, version)
    folder = index_folder(catalog.settings, dataset, version_name)
    manifest_uri = f"{folder}/manifest.json"
    if exists(manifest_uri, catalog.settings) and not force:
        raise LookupIndexError(
            f"{dataset}@{version_name} already has a lookup index; indexes are immutable "
            "(`--force` rebuilds it)"
        )
    manifest = {**_identity(dataset, version), "params": params.to_dict(), "files": len(entries),
                "built_at": time.time()}  # fmt: skip
    url = catalog.settings.lookup_redis_url
    if url:
        from dedup.index_redis import RedisIndex

        root = redis_root(dataset, version_name)
        index = RedisIndex.build(url, root, params, manifest, entries, rows, signatures, force)
        manifest = {**index.manifest, "storage": "redis", "root": root}
    else:
        index = MemoryIndex.build(params, {**manifest, "storage": "memory"}, entries, rows,
                                  signatures)  # fmt: skip
        name = f"index-{uuid.uuid4().hex[:12]}.pkl"
        manifest = {**index.manifest, "file": name}
        index.manifest = manifest
        write_bytes(f"{folder}/{name}", index.dumps(), catalog.settings)
    manifest["build_seconds"] = round(time.perf_counter() - started, 3)
    write_bytes(manifest_uri, json.dumps(manifest, indent=1).encode(), catalog.settings)
    log.info("lookup index of %s@%s: %d signatures of %d files", dataset, version_name,
             manifest["signatures"], len(entries))  # fmt: skip
    return manifest


def read_manifest(settings: Settings, dataset: str, version: str) -> dict[str, Any]:
    uri = f"{index_folder(settings, dataset, version)}/manifest.json"
    if not exists(uri, settings):
        raise IndexNotBuilt(
            f"version {version!r} of {dataset!r} has no lookup index; build it with "
            f"`codecorpus index build {dataset} --version {version}`"
        )
    return json.loads(read_bytes(uri, settings))


def _matching_manifest(catalog: Catalog, dataset: str, version: Version) -> dict[str, Any]:
    manifest = read_manifest(catalog.settings, dataset, version.name)
    expected = _identity(dataset, version)
    differs = [k for k, v in expected.items() if manifest.get(k) != v]
    if differs:
        raise LookupIndexError(
            f"the lookup index under {dataset}@{version.name} does not match the version "
            f"({', '.join(differs)} differ); rebuild it with `codecorpus index build {dataset} "
            f"--version {version.name} --force`"
        )
    return manifest


def load_index(catalog: Catalog, dataset: str, version: Version) -> Index:
    """The version's index, refused when it was built for anything but this version."""
    manifest = _matching_manifest(catalog, dataset, version)
    if manifest["storage"] == "redis":
        from dedup.index_redis import IndexUnavailable, RedisIndex

        url = catalog.settings.lookup_redis_url
        if not url:
            raise LookupIndexError(
                f"the lookup index of {dataset}@{version.name} is in Redis; set "
                "CODECORPUS_LOOKUP_REDIS_URL to the Redis it was built in"
            )
        index = RedisIndex.open(url, manifest["root"])
        if index is None or index.prefix != manifest["prefix"]:
            raise IndexUnavailable(
                f"Redis at {url} does not hold the lookup index of {dataset}@{version.name} "
                "(restarted without its data?); restore its dump or rebuild with --force"
            )
        return index
    folder = index_folder(catalog.settings, dataset, version.name)
    index = MemoryIndex.loads(read_bytes(f"{folder}/{manifest['file']}", catalog.settings))
    if index.manifest.get("file") != manifest["file"]:
        raise LookupIndexError(f"the index file of {dataset}@{version.name} does not match its "
                               "manifest; rebuild it with --force")  # fmt: skip
    return index


#: The largest in-process index the curate workers load to reuse signatures: each worker
#: holds all of it (about 15 KB per signature, `benchmarks.lookup`), 3 GB at this size.
#: Larger ones reuse the stored signatures (16 bytes per key broadcast) unless in Redis.
MAX_MEMORY_REUSE_SIGNATURES = 200_000


def reuse_ref(catalog: Catalog, dataset: str, version: Version, config: DedupConfig) -> IndexRef:
    """Where curate workers find the version's index to reuse its signatures (`--dedup-against`),
    checked here, on the driver; `LookupIndexError` (or `IndexNotBuilt`) says why it cannot
    serve, and the run then reuses the stored signatures instead."""
    manifest = _matching_manifest(catalog, dataset, version)
    params = manifest.get("params", {})
    differs = [k for k in ("num_perm", "ngram", "seed") if params.get(k) != getattr(config, k)]
    if differs:
        raise LookupIndexError(f"its {', '.join(differs)} differ from this run's")
    if "sha_signatures" not in manifest:
        raise LookupIndexError("it was built before it answered signatures by content hash; "
                               "rebuild it with --force to reuse it")  # fmt: skip
    count = int(manifest["sha_signatures"])
    if manifest["storage"] == "redis":
        load_index(catalog, dataset, version)  # refused unless the set Redis holds this build
        url = str(catalog.settings.lookup_redis_url)
        return IndexRef("redis", url, manifest["prefix"], manifest["root"], count)
    if int(manifest.get("signatures", 0)) > MAX_MEMORY_REUSE_SIGNATURES:
        raise LookupIndexError(
            f"an in-process index of {manifest['signatures']:,} signatures would be loaded by "
            f"every worker (about 15 KB each); build it in Redis (CODECORPUS_LOOKUP_REDIS_URL) "
            "to reuse it at this size"
        )
    uri = f"{index_folder(catalog.settings, dataset, version.name)}/{manifest['file']}"
    if not exists(uri, catalog.settings):
        raise LookupIndexError(f"its file {uri} is missing")
    return IndexRef("memory", uri, manifest["file"], sha_signatures=count)


@dataclass
class FileAnswer:
    name: str | None
    sha256: str
    tokens: int
    exact: list[Entry]
    near: list[NearMatch]
    exact_jaccard: dict[str, float] = field(default_factory=dict)


def lookup(
    index: Index,
    texts: list[str],
    names: list[str | None] | None = None,
    min_jaccard: float | None = None,
    limit: int = 10,
) -> list[FileAnswer]:
    """Exact (sha256 of the UTF-8 bytes) and near matches of each text in the index."""
    params: IndexParams = index.params
    threshold = params.threshold if min_jaccard is None else min_jaccard
    signatures, tokens = _hasher(params).signatures(texts)
    names = names or [None] * len(texts)
    index.check()
    answers = []
    for text, name, signature, count in zip(texts, names, signatures, tokens, strict=True):
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        # near(..., limit) keeps every match that can rank in the first `limit` (ties at the
        # cut included), and an exact copy ranks with the match it copies: the same answer
        # as ranking all of them
        near = _with_exact_copies(index, index.near(signature, threshold, limit))[:limit]
        answers.append(FileAnswer(name, sha, int(count), index.exact(sha), near))
    return answers


def _with_exact_copies(index: Index, near: list[NearMatch]) -> list[NearMatch]:
    """Near matches plus the files dedup dropped as exact copies of them (only the copy it kept
    has a signature in the index)."""
    seen = {m.entry.file_id for m in near}
    out = list(near)
    for match in near:
        for entry in index.exact(match.entry.sha256) if match.entry.sha256 else ():
            if entry.file_id not in seen:
                seen.add(entry.file_id)
                out.append(NearMatch(entry, match.estimated_jaccard))
    return sorted(out, key=lambda m: (-m.estimated_jaccard, m.entry.file_id))


_HASHERS: dict[IndexParams, Any] = {}


def _hasher(params: IndexParams):
    """One MinHasher per settings (its permutations are drawn once)."""
    if params not in _HASHERS:
        _HASHERS[params] = params.hasher()
    return _HASHERS[params]


def warm(index: Index) -> None:
    """Compile (or load from numba's cache) the signature kernel and query the index once."""
    hasher = _hasher(index.params)
    hasher.warm()
    signature = hasher.signatures(["warm up the lookup path " * 4])[0][0]
    if index.storage == "memory":
        index.near(signature, index.params.threshold)


def add_exact_jaccard(
    catalog: Catalog, dataset: str, version: Version, texts: list[str], answers: list[FileAnswer]
) -> None:
    """Exact Jaccard over shingles for near matches whose content the version stores (kept)."""
    ids = sorted({m.entry.file_id for a in answers for m in a.near if m.entry.drop_reason is None})
    if not ids:
        return
    stored = scan_version(catalog, dataset, version, FILES).filter(In("file_id", ids))
    table: pa.Table = stored.select("file_id", "content").to_arrow()
    ids_read, bodies = table.column("file_id").to_pylist(), table.column("content").to_pylist()
    contents = dict(zip(ids_read, bodies, strict=True))
    ngram = dedup_config(version).ngram
    for text, answer in zip(texts, answers, strict=True):
        mine = reference_shingles(text, ngram)
        for match in answer.near:
            other = contents.get(match.entry.file_id)
            if other is None:
                continue
            theirs = reference_shingles(other, ngram)
            union = len(mine | theirs)
            answer.exact_jaccard[match.entry.file_id] = len(mine & theirs) / union if union else 1.0
