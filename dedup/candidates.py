"""Candidate rows for the dedup stage, built where the content is (in the curate workers)."""

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.rowkeys import contains
from dedup.config import DedupConfig
from dedup.index_reuse import SignatureSource
from dedup.records import CANDIDATE_SCHEMA, license_rank, pack_signatures


def sha_keys(content_sha256: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """16-byte keys of content hashes (the first half of the sha256), sortable for lookups."""
    values = content_sha256.to_pylist()
    return np.array([bytes.fromhex(v[:32]) if v else b"" for v in values], dtype="S16")


def sha_key_set(content_sha256: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.unique(sha_keys(content_sha256))


class CandidateBuilder:
    """Turns kept rows (with content) into candidate rows: hashes, keep-rule columns, signature.

    Signatures a previous version stored are not computed again; the row is marked
    `cached` (its `tokens` null). With a `source` (that version's lookup index) the
    stored signature goes into the row here; otherwise the content hash is looked up in
    `reusable` (the version's content-hash keys) and the dedup stage's exact step fills
    the signature from the stored rows.
    """

    def __init__(
        self,
        config: DedupConfig,
        reusable: np.ndarray | None = None,
        source: SignatureSource | None = None,
    ) -> None:
        self.config = config
        self.reusable = reusable if reusable is not None else np.empty(0, dtype="S16")
        self.source = source
        self.hasher = None
        if config.near:
            from dedup.minhash import MinHasher

            self.hasher = MinHasher(num_perm=config.num_perm, ngram=config.ngram, seed=config.seed)

    def __call__(self, kept: pa.Table) -> pa.Table:
        config = self.config
        n = kept.num_rows
        if not (config.exact or config.near) or n == 0:
            return CANDIDATE_SCHEMA.empty_table()
        hashes = kept.column("content_sha256") if "content_sha256" in kept.column_names else None
        if hashes is None or hashes.null_count:
            hashes = pa.array(
                [
                    hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest()
                    for t in kept.column("content").to_pylist()
                ]
            )
        cached, full = self._stored(hashes, n)
        signatures = pa.nulls(n, pa.binary())
        tokens = pa.nulls(n, pa.int32())
        if self.hasher is not None:
            todo = np.flatnonzero(~cached)
            sig, counts = self.hasher.signatures(kept.column("content").take(todo))
            full[todo] = sig
            all_counts = np.zeros(n, dtype=np.int32)
            all_counts[todo] = counts
            # a stored signature is a near candidate's: it had enough tokens
            valid = cached.copy() if self.source is not None else np.zeros(n, dtype=bool)
            valid[todo] = counts >= config.ngram
            signatures = pc.if_else(pa.array(valid), pack_signatures(full), None)
            tokens = pa.array(all_counts, pa.int32(), mask=cached)

        def column(name: str, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
            return kept.column(name) if name in kept.column_names else pa.nulls(n, kind)

        ranks = (
            license_rank(kept.column("license_class"))
            if "license_class" in kept.column_names
            else pa.array(np.zeros(n, dtype=np.int8))
        )
        table = pa.table(
            {
                "file_id": kept.column("file_id"),
                "content_sha256": hashes,
                "lang": column("lang", pa.string()),
                "size": column("size", pa.int64()),
                "license_rank": ranks,
                "stars": column("stars", pa.int64()),
                "forks": column("forks", pa.int64()),
                "revision_date": column("revision_date", pa.timestamp("us", tz="UTC")),
                "tokens": tokens,
                "signature": signatures,
                "cached": pa.array(cached, pa.bool_()),
            }
        )
        return table.cast(CANDIDATE_SCHEMA)

    def _stored(self, hashes: pa.Array | pa.ChunkedArray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Which rows reuse a stored signature, and the [n, num_perm] matrix holding it."""
        if self.hasher is None:  # no near dedup: no signatures at all
            return np.zeros(n, dtype=bool), np.empty((n, 0), dtype=np.uint32)
        full = np.zeros((n, self.config.num_perm), dtype=np.uint32)
        if self.source is None:
            return contains(self.reusable, sha_keys(hashes)), full
        found, stored = self.source.signatures_of(hashes.to_pylist())
        full[found] = stored[found]
        return found, full
