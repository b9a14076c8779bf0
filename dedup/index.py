"""A near-duplicate lookup index over persisted MinHash signatures (datasketch `MinHashLSH`).

The index holds a version's signatures, exactly as dedup computed them: they go in
through `LeanMinHash(hashvalues=...)`, never by re-hashing content, and a query
file's signature comes from the same `MinHasher` (same seed, permutations and
shingles). Bands and rows are the version's dedup settings, so datasketch's band
slices are the band keys dedup persisted (`dedup.lsh.band_keys`): a query finds
what dedup would have paired it with. Candidates are then verified on the full
signature (estimated Jaccard >= the threshold), as dedup does.

Rows are addressed by a dense candidate number `j`; what a row *is* (file id, repo,
path, sha256, decision) lives in the storage next to the buckets: in memory here,
in Redis in `dedup.index_redis`. An index is immutable once built.
"""

import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.core.errors import CodecorpusError
from dedup.config import DedupConfig
from dedup.minhash import EMPTY, MinHasher

if TYPE_CHECKING:  # datasketch pulls in scipy (0.5 s): imported where an index is built or read
    from datasketch import LeanMinHash, MinHashLSH

#: Format of a persisted index; bumped when the layout changes (older ones are rebuilt).
FORMAT = 1


class LookupIndexError(CodecorpusError):
    """An index cannot be built, loaded or served (the message says which and why)."""


@dataclass(frozen=True)
class IndexParams:
    """The dedup settings an index must share with its signatures and its queries."""

    num_perm: int
    ngram: int
    seed: int
    threshold: float
    bands: int
    rows: int

    @classmethod
    def from_config(cls, config: DedupConfig) -> "IndexParams":
        return cls(config.num_perm, config.ngram, config.seed, config.threshold,
                   config.bands, config.rows)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hasher(self) -> MinHasher:
        return MinHasher(self.num_perm, self.ngram, self.seed)

    def lsh(self, storage_config: dict[str, Any] | None = None) -> "MinHashLSH":
        from datasketch import MinHashLSH

        return MinHashLSH(
            threshold=self.threshold,
            num_perm=self.num_perm,
            params=(self.bands, self.rows),
            storage_config=storage_config,
        )


@dataclass(frozen=True)
class Entry:
    """One file of the indexed version (kept or dropped)."""

    file_id: str
    repo: str
    path: str
    sha256: str | None
    drop_reason: str | None

    def to_list(self) -> list[Any]:
        return [self.file_id, self.repo, self.path, self.sha256, self.drop_reason]

    @classmethod
    def from_list(cls, values: list[Any]) -> "Entry":
        return cls(*values)


@dataclass(frozen=True)
class NearMatch:
    entry: Entry
    estimated_jaccard: float


#: datasketch's label for 32-bit multiply-add permutations stored as uint32. Ours (see
#: `dedup.minhash`) mix differently, but the label only guards against mixing schemes in
#: one index: every sketch an index sees comes from our `MinHasher`.
SCHEME = "affine32"


def lean(signature: np.ndarray, seed: int) -> "LeanMinHash":
    """A datasketch sketch over our signature values, as they are (not re-hashed)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=signature.astype(np.uint32), scheme=SCHEME)


def is_empty(signature: np.ndarray) -> bool:
    """A file with fewer than `ngram` tokens: no shingles, never a near-duplicate."""
    return bool(np.all(signature == EMPTY))


class MemoryIndex:
    """The in-process index: datasketch's dict storage plus the row tables, picklable."""

    storage = "memory"

    def __init__(self, params: IndexParams, manifest: dict[str, Any]) -> None:
        self.params = params
        self.manifest = manifest
        self.lsh = params.lsh()
        self.signatures = np.empty((0, params.num_perm), dtype=np.uint32)
        self.candidate_entries: list[Entry] = []
        self.by_sha: dict[str, list[Entry]] = {}
        self.repos: dict[str, tuple[int, int]] = {}

    @classmethod
    def build(
        cls,
        params: IndexParams,
        manifest: dict[str, Any],
        entries: list[Entry],
        candidate_rows: np.ndarray,
        signatures: np.ndarray,
    ) -> "MemoryIndex":
        """Index `signatures[j]` as the file `entries[candidate_rows[j]]`; every entry
        answers exact (sha256) and repository questions."""
        index = cls(params, manifest)
        keep = ~np.all(signatures == EMPTY, axis=1)
        index.signatures = np.ascontiguousarray(signatures[keep], dtype=np.uint32)
        index.candidate_entries = [entries[int(r)] for r in candidate_rows[keep]]
        with index.lsh.insertion_session(buffer_size=50_000) as session:
            for j, row in enumerate(index.signatures):
                session.insert(j, lean(row, params.seed), check_duplication=False)
        index.by_sha, index.repos = sha_and_repo_tables(entries)
        index.manifest = {**manifest, "signatures": len(index.candidate_entries),
                          "sha_signatures": len(first_rows(index.candidate_entries))}  # fmt: skip
        return index

    def lsh_sketch(self, signature: np.ndarray) -> "LeanMinHash":
        return lean(signature, self.params.seed)

    def dumps(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> "MemoryIndex":
        index = pickle.loads(data)
        if not isinstance(index, MemoryIndex) or index.manifest.get("format") != FORMAT:
            raise LookupIndexError("the stored lookup index has another format; rebuild it with "
                              "`codecorpus index build DS --version V --force`")  # fmt: skip
        return index

    # -- queries (the same five on every storage) --

    def near(
        self, signature: np.ndarray, min_jaccard: float, limit: int | None = None
    ) -> list[NearMatch]:
        """Near matches, best first; with `limit`, at least the best `limit` (see `verify`)."""
        if is_empty(signature):
            return []
        rows = self.candidates(signature)
        return verify(signature, rows, self.signatures[rows] if rows else None,
                      _Rows(self.candidate_entries, rows), min_jaccard, limit)  # fmt: skip

    def candidates(self, signature: np.ndarray) -> list[int]:
        """What `self.lsh.query(lean(signature))` answers, from the same hash tables, without
        its per-band NumPy calls (a third of a lookup's time): datasketch keys a band by the
        big-endian bytes of its hash values (`MinHashLSH._byteswap` of the uint32 slice), so
        the keys are slices of one `>u4` buffer. Equality is asserted in the tests."""
        data = signature.astype(">u4").tobytes()
        found: set[int] = set()
        for (start, end), table in zip(self.lsh.hashranges, self.lsh.hashtables, strict=True):
            found.update(table.get(data[4 * start : 4 * end]))
        return list(found)

    def exact(self, sha256: str) -> list[Entry]:
        return list(self.by_sha.get(sha256, ()))

    def repo(self, name: str) -> tuple[int, int] | None:
        return self.repos.get(name)

    def signatures_of(self, shas: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, [n, num_perm] signatures) of content hashes; zero rows where not found.

        What incremental dedup reuses instead of hashing unchanged content again."""
        rows = self.__dict__.get("_rows_by_sha")
        if rows is None:  # built on first use, not pickled by `build`: old indexes answer too
            rows = self.__dict__["_rows_by_sha"] = first_rows(self.candidate_entries)
        found_rows = [rows.get(sha, -1) for sha in shas]
        return stored_rows(np.array(found_rows, dtype=np.int64), self.signatures)

    def check(self) -> None:
        """Memory cannot go away under a request: nothing to check."""


def verify(
    signature: np.ndarray,
    rows: list[int],
    stored: np.ndarray | None,
    entries: Sequence[Entry],
    min_jaccard: float,
    limit: int | None = None,
) -> list[NearMatch]:
    """Candidates whose full signatures agree on at least `min_jaccard` of positions, best
    first (ties by file id, so answers are deterministic). `entries[i]` is `stored[i]`'s file.

    With `limit`, only the candidates that can be among the best `limit` become matches:
    those at or above the `limit`-th best estimate (ties at the cut kept, so whatever a
    caller ranks by estimate and then file id comes out the same). A boilerplate query
    has thousands of candidates; making and sorting a match for each cost more than the
    rest of the request."""
    if not rows or stored is None:
        return []
    estimates = np.count_nonzero(stored == signature[None, :], axis=1) / signature.shape[0]
    keep = np.flatnonzero(estimates >= min_jaccard)
    if limit is not None and keep.size > limit:
        cutoff = np.partition(estimates[keep], keep.size - limit)[keep.size - limit]
        keep = keep[estimates[keep] >= cutoff]
    found = [NearMatch(entries[i], float(estimates[i])) for i in keep.tolist()]
    return sorted(found, key=lambda m: (-m.estimated_jaccard, m.entry.file_id))


class _Rows(Sequence):
    """`entries[rows[i]]` without building the list (most candidates are never looked at)."""

    def __init__(self, entries: list[Entry], rows: list[int]) -> None:
        self.entries, self.rows = entries, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[override]
        return self.entries[self.rows[i]]


def first_rows(candidates: Sequence[Entry]) -> dict[str, int]:
    """Content hash -> the first candidate number with that content (its signature's row)."""
    rows: dict[str, int] = {}
    for j, entry in enumerate(candidates):
        if entry.sha256:
            rows.setdefault(entry.sha256, j)
    return rows


def stored_rows(rows: np.ndarray, signatures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`signatures[rows]` where `rows >= 0`, zeros elsewhere, and the mask of the former."""
    found = rows >= 0
    out = np.zeros((rows.size, signatures.shape[1]), dtype=np.uint32)
    out[found] = signatures[rows[found]]
    return found, out


def sha_and_repo_tables(
    entries: list[Entry],
) -> tuple[dict[str, list[Entry]], dict[str, tuple[int, int]]]:
    by_sha: dict[str, list[Entry]] = {}
    repos: dict[str, list[int]] = {}
    for entry in entries:
        if entry.sha256:
            by_sha.setdefault(entry.sha256, []).append(entry)
        counts = repos.setdefault(entry.repo, [0, 0])
        counts[0] += 1
        counts[1] += entry.drop_reason is None
    return by_sha, {repo: (c[0], c[1]) for repo, c in repos.items()}
