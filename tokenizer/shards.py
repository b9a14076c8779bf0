"""Megatron-compatible token shards: write, read back with numpy, split by repository.

A shard is a pair `<prefix>.bin` / `<prefix>.idx` in the layout of Megatron-core's
`IndexedDataset` (megatron/core/datasets/indexed_dataset.py), so Megatron-LM and NeMo
read it as it is:

- `.bin`: the token ids of every document, each followed by the end-of-document id,
  back to back, in the smallest dtype that holds the vocabulary (`token_dtype`).
- `.idx`: little-endian. Magic `MMIDIDX\\x00\\x00`, version (uint64 = 1), dtype code
  (uint8), sequence count (uint64), document-index count (uint64), then the sequence
  lengths (int32), the sequence byte offsets into `.bin` (int64) and the document
  indices (int64: 0, then the index one past each document's last sequence).

One document is one sequence (its tokens plus the end-of-document token), so the
document indices are 0, 1, ..., n. Token counts of a shard include those n EOD tokens:
`ShardInfo.content_tokens` is what `TokenCounter` counts for the same documents.
"""

import hashlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from corpus.core.errors import ConfigError
from tokenizer.errors import ShardFormatError, TokenRangeError
from tokenizer.model import token_dtype

MB = 1_000_000
DEFAULT_TARGET_BYTES = 256 * MB
INDEX_MAGIC = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
_HEADER = struct.Struct("<9sQBQQ")  # magic, version, dtype code, sequences, doc indices

#: Megatron's dtype codes (indexed_dataset.DType).
DTYPE_CODES: dict[np.dtype, int] = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
CODE_DTYPES = {code: dtype for dtype, code in DTYPE_CODES.items()}


class Split(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"


def split_of(repo: str, validation_fraction: float, seed: int = 0) -> Split:
    """`validation` for a seeded-hash share of repositories, else `train`: every file of a
    repository lands on the same side, whatever the order or batching of the files."""
    if not 0.0 <= validation_fraction <= 1.0:
        raise ConfigError(f"validation_fraction must be in [0, 1], got {validation_fraction}")
    digest = hashlib.blake2b(repo.encode(), digest_size=8, key=seed.to_bytes(8, "little"))
    position = int.from_bytes(digest.digest(), "little") / 2**64
    return Split.VALIDATION if position < validation_fraction else Split.TRAIN


@dataclass(frozen=True)
class ShardInfo:
    """One written shard, as `<ds>.shards` lists it."""

    prefix: str
    """Path of the shard without extension (what Megatron's IndexedDataset takes)."""
    bin_sha256: str
    idx_sha256: str
    bin_bytes: int
    idx_bytes: int
    tokens: int
    """Tokens in `.bin`, the end-of-document tokens included."""
    documents: int
    dtype: str

    @property
    def content_tokens(self) -> int:
        """Tokens of the documents themselves: `tokens` minus one EOD per document."""
        return self.tokens - self.documents

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ShardWriter:
    """Appends documents to `<directory>/<name>-00000.bin/.idx`, rolling to the next
    number before a shard would exceed `target_bytes` of `.bin` (a document is never
    split: one larger than the target gets a shard of its own)."""

    def __init__(
        self,
        directory: str | Path,
        name: str,
        vocab_size: int,
        eod_id: int,
        target_bytes: int = DEFAULT_TARGET_BYTES,
    ) -> None:
        if not 0 <= eod_id < vocab_size:
            raise ConfigError(f"eod_id {eod_id} is outside the vocabulary [0, {vocab_size})")
        if target_bytes < 1:
            raise ConfigError(f"target_bytes must be >= 1, got {target_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.vocab_size = vocab_size
        self.eod = np.array([eod_id], token_dtype(vocab_size))
        self.dtype = token_dtype(vocab_size)
        self.target_bytes = target_bytes
        self.shards: list[ShardInfo] = []
        self._open: _OpenShard | None = None

    def add(self, ids: Sequence[int] | np.ndarray) -> None:
        """Append one document (its ids; the end-of-document id is added here). Ids
        already in the shard dtype (`CodeTokenizer.encode_arrays`) are written as they
        are, without a copy."""
        tokens = np.asarray(ids)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise TokenRangeError(
                f"token ids must be in [0, {self.vocab_size}): encode with the model this "
                "shard set was opened for"
            )
        tokens = tokens.astype(self.dtype, copy=False)
        size = tokens.nbytes + self.eod.nbytes
        if self._open is not None and self._open.bin_bytes + size > self.target_bytes:
            self._close_open()
        if self._open is None:
            prefix = self.directory / f"{self.name}-{len(self.shards):05d}"
            self._open = _OpenShard(prefix, self.dtype)
        self._open.append(tokens, self.eod)

    def close(self) -> list[ShardInfo]:
        """Finish the open shard; returns every shard written."""
        self._close_open()
        return self.shards

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None):
        if exc_type is None:
            self.close()
        elif self._open is not None:
            self._open.abandon()
            self._open = None

    def _close_open(self) -> None:
        if self._open is not None:
            self.shards.append(self._open.finish())
            self._open = None


class _OpenShard:
    """A shard being written: `.bin` streamed to a temporary name, `.idx` at the end;
    both renamed into place only when complete, so a crash leaves no half shard."""

    def __init__(self, prefix: Path, dtype: np.dtype) -> None:
        self.prefix = prefix
        self.dtype = dtype
        self.bin_tmp = prefix.with_name(prefix.name + ".bin.tmp")
        self.stream = open(self.bin_tmp, "wb")  # noqa: SIM115 - closed in finish/abandon
        self.digest = hashlib.sha256()
        self.lengths: list[int] = []
        self.bin_bytes = 0

    def append(self, tokens: np.ndarray, eod: np.ndarray) -> None:
        for part in (tokens, eod):  # straight from the arrays' buffers, no copy
            data = memoryview(np.ascontiguousarray(part)).cast("B")
            self.stream.write(data)
            self.digest.update(data)
            self.bin_bytes += len(data)
        self.lengths.append(len(tokens) + len(eod))

    def finish(self) -> ShardInfo:
        self.stream.close()
        lengths = np.array(self.lengths, np.int32)
        pointers = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        documents = np.arange(len(lengths) + 1, dtype=np.int64)
        header = _HEADER.pack(
            INDEX_MAGIC, INDEX_VERSION, DTYPE_CODES[self.dtype], len(lengths), len(documents)
        )
        index = header + lengths.tobytes() + pointers.tobytes() + documents.tobytes()
        idx_path = self.prefix.with_name(self.prefix.name + ".idx")
        idx_tmp = idx_path.with_name(idx_path.name + ".tmp")
        idx_tmp.write_bytes(index)
        os.replace(self.bin_tmp, self.prefix.with_name(self.prefix.name + ".bin"))
        os.replace(idx_tmp, idx_path)
        return ShardInfo(
            prefix=str(self.prefix),
            bin_sha256=self.digest.hexdigest(),
            idx_sha256=hashlib.sha256(index).hexdigest(),
            bin_bytes=self.bin_bytes,
            idx_bytes=len(index),
            tokens=int(lengths.sum(dtype=np.int64)),
            documents=len(lengths),
            dtype=self.dtype.name,
        )

    def abandon(self) -> None:
        self.stream.close()
        self.bin_tmp.unlink(missing_ok=True)


class ShardReader:
    """A shard memory-mapped with numpy: `reader[i]` is sequence i (a document and its
    end-of-document token) as a read-only view, without copying."""

    def __init__(self, prefix: str | Path) -> None:
        self.prefix = str(prefix)
        idx_path, bin_path = Path(self.prefix + ".idx"), Path(self.prefix + ".bin")
        if not idx_path.is_file() or not bin_path.is_file():
            raise ShardFormatError(
                f"no shard at {self.prefix}: expected {idx_path.name} and {bin_path.name}"
            )
        index = np.memmap(idx_path, np.uint8, mode="r")
        if len(index) < _HEADER.size:
            raise ShardFormatError(f"{idx_path} is too short to be a Megatron index")
        magic, version, code, sequences, document_count = _HEADER.unpack_from(index)
        if magic != INDEX_MAGIC or version != INDEX_VERSION:
            raise ShardFormatError(
                f"{idx_path} is not a Megatron indexed dataset index (magic {magic!r}, "
                f"version {version})"
            )
        if code not in CODE_DTYPES:
            raise ShardFormatError(f"{idx_path} has unknown dtype code {code}")
        self.dtype = CODE_DTYPES[code]
        expected = _HEADER.size + sequences * 12 + document_count * 8
        if len(index) < expected:
            raise ShardFormatError(f"{idx_path} is truncated: {len(index)} < {expected} bytes")
        offset = _HEADER.size
        self.sequence_lengths = np.frombuffer(index, np.int32, sequences, offset)
        offset += sequences * 4
        self.sequence_pointers = np.frombuffer(index, np.int64, sequences, offset)
        offset += sequences * 8
        self.documents = np.frombuffer(index, np.int64, document_count, offset)
        """Document indices: sequences documents[k]..documents[k+1] form document k."""
        self.tokens = (
            np.memmap(bin_path, self.dtype, mode="r")
            if os.path.getsize(bin_path)
            else (np.zeros(0, self.dtype))
        )
        """All token ids of the shard, EOD tokens included."""
        if int(self.sequence_lengths.sum(dtype=np.int64)) != len(self.tokens):
            raise ShardFormatError(f"{bin_path} does not hold the tokens its index describes")

    def __len__(self) -> int:
        return len(self.sequence_lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sequence {i} out of range for a shard of {len(self)}")
        start = int(self.sequence_pointers[i]) // self.dtype.itemsize
        return self.tokens[start : start + int(self.sequence_lengths[i])]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    @property
    def document_count(self) -> int:
        return max(0, len(self.documents) - 1)
