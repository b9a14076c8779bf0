"""Exact SentencePiece BPE ids, 4x+ faster: encode each distinct space-separated piece once.

Why splitting is exact. SentencePiece BPE encodes a text by escaping spaces as "▁"
(normalization), cutting it into symbols (user-defined pieces by longest prefix match,
else one character each) and merging adjacent symbols while their concatenation is a
piece of the vocabulary. So two adjacent positions can only end up in one token if some
piece (normal, user-defined or unused) holds both characters. When no piece holds a
character other than "▁" followed by "▁" -- true of every model trained with
`split_by_whitespace` and without `treat_whitespace_as_suffix`, and checked on the
vocabulary itself -- nothing ever merges across the start of a run of spaces, and the
text splits there (regex ` +[^ ]*|[^ ]+`) into pieces that encode independently. That
also needs normalization to act piece by piece: identity rules (no charsmap), no dummy
prefix, no removal of extra whitespace. And an unknown character must not merge with
one of the next piece (SentencePiece joins runs of `<unk>`): byte fallback, or "▁"
known. `unsafe_settings` names every setting that fails; `CodeTokenizer` then uses plain
SentencePiece.

Code repeats pieces (`▁self`, `▁=`, indents): a batch's distinct pieces are encoded
in one SentencePiece call, each kept as the bytes of its ids in the shard dtype, and a
document is `b"".join` of its pieces' bytes: the one copy of its tokens, which the shard
writer writes as it is. The cache is capped (`max_cached_bytes`): two generations, the
older dropped when the newer fills half the cap, pieces in use carried over.
"""

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import sentencepiece as spm

from tokenizer.config import SPACE
from tokenizer.errors import InvalidTextError

#: Where a text may be cut: before every run of spaces (see the module docstring).
PIECES = re.compile(r" +[^ ]*|[^ ]+")

#: Default cap on cached pieces and their ids (bytes, roughly, per worker process): two
#: generations of about a million pieces each. 25 MB of installed code and docs hold
#: 342k distinct pieces (~50 MB); a 64 MB cap gave 2.40x SentencePiece cold and 2.80x on
#: a second pass, 256 MB 2.49x and 8.2x (benchmarks/tokenizer.py part d). Pieces longer
#: than 32 characters left uncached lowered both (re-encoded when they come back).
DEFAULT_CACHE_BYTES = 256 << 20

#: Per-entry overhead of a cached piece (dict slot, two objects), counted in the cap.
_ENTRY_OVERHEAD = 120


def unsafe_settings(processor: spm.SentencePieceProcessor) -> list[str]:
    """The model's settings that make the whitespace split inexact (empty: it is exact)."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(processor.serialized_model_proto())
    trainer, normalizer = proto.trainer_spec, proto.normalizer_spec
    unsafe = []
    if trainer.model_type != model_pb2.TrainerSpec.BPE:
        unsafe.append(f"model_type={model_pb2.TrainerSpec.ModelType.Name(trainer.model_type)}"
                      " (only BPE merges are provably local)")  # fmt: skip
    if not trainer.split_by_whitespace:
        unsafe.append("split_by_whitespace=False (pieces may span spaces)")
    if trainer.treat_whitespace_as_suffix:
        unsafe.append("treat_whitespace_as_suffix=True")
    if normalizer.precompiled_charsmap or normalizer.name not in ("identity", ""):
        unsafe.append(f"normalization_rule_name={normalizer.name!r} (not identity)")
    if normalizer.add_dummy_prefix:
        unsafe.append("add_dummy_prefix=True")
    if normalizer.remove_extra_whitespaces:
        unsafe.append("remove_extra_whitespaces=True")
    if not normalizer.escape_whitespaces:
        unsafe.append("escape_whitespaces=False")
    if not trainer.byte_fallback and processor.is_unknown(processor.piece_to_id(SPACE)):
        unsafe.append("no byte fallback and no '▁' piece (runs of <unk> would join)")
    normal = (model_pb2.ModelProto.SentencePiece.NORMAL,
              model_pb2.ModelProto.SentencePiece.USER_DEFINED,
              model_pb2.ModelProto.SentencePiece.UNUSED)  # fmt: skip
    spanning = re.compile(f"[^{SPACE}]{SPACE}")
    crossing = [p.piece for p in proto.pieces if p.type in normal and spanning.search(p.piece)]
    if crossing:
        unsafe.append(f"{len(crossing)} pieces hold a character before '▁' "
                      f"(e.g. {crossing[0]!r})")  # fmt: skip
    return unsafe


@dataclass(frozen=True)
class Encoded:
    """Token ids of a batch: document i is `docs[i]`, the bytes of its ids in `dtype`."""

    docs: list[bytes]
    dtype: np.dtype

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, i: int) -> np.ndarray:
        """Ids of document i: a read-only view of its bytes, no copy."""
        return np.frombuffer(self.docs[i], self.dtype)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (np.frombuffer(d, self.dtype) for d in self.docs)

    def counts(self) -> np.ndarray:
        """Tokens per document (int64)."""
        return np.fromiter(map(len, self.docs), np.int64, len(self.docs)) // self.dtype.itemsize

    def tolist(self) -> list[list[int]]:
        return [np.frombuffer(d, self.dtype).tolist() for d in self.docs]


class PieceEncoder:
    """Exact ids of a model that passes `unsafe_settings`, from a capped piece cache."""

    def __init__(
        self,
        processor: spm.SentencePieceProcessor,
        dtype: np.dtype,
        space_ids: Sequence[int] | None,
        max_cached_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.processor = processor
        self.dtype = np.dtype(dtype)
        self.max_cached_bytes = max_cached_bytes
        # A literal "▁" would read as a space: texts are cut at each one and it is
        # written as its byte pieces. Pieces never hold "▁", so it is a safe cache key.
        self._space = None if space_ids is None else np.array(space_ids, self.dtype).tobytes()
        self._cache: dict[str, bytes] = {}
        self._old: dict[str, bytes] = {}
        self._cached_bytes = 0
        self.hits = self.misses = 0
        self._lock = threading.Lock()  # shared per process (CodeTokenizer): one batch at a time
        self._reset()

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Ids of every text (one holding "▁" needs byte fallback: InvalidTextError)."""
        split = [_pieces(t) if SPACE not in t else self._literal_pieces(t) for t in texts]
        distinct = set(chain.from_iterable(split))
        with self._lock:
            missing = distinct.difference(self._cache)
            self.hits += len(distinct) - len(missing)
            if missing:
                self._fill(distinct, missing)
            get = self._cache.__getitem__
            return Encoded([b"".join(map(get, pieces)) for pieces in split], self.dtype)

    def _literal_pieces(self, text: str) -> list[str]:
        if self._space is None:
            raise InvalidTextError(
                f"text holds {SPACE!r} (U+2581), which this model can only encode exactly "
                "with byte fallback; train it with byte_fallback=True"
            )
        parts = text.split(SPACE)
        out = _pieces(parts[0])
        for part in parts[1:]:
            out.append(SPACE)
            out.extend(_pieces(part))
        return out

    def _fill(self, distinct: set[str], missing: set[str]) -> None:
        """Cache the batch's missing pieces: from the old generation, else encoded. Two
        generations of at most half the cap each: past it the current one becomes the
        old one, so pieces still in use survive a rotation (an approximate LRU)."""
        old = self._old
        revived = missing.intersection(old) if old else set()
        new = list(missing.difference(revived) if revived else missing)
        self.hits += len(revived)
        self.misses += len(new)
        fresh = self._encode_pieces(new)
        size = _size(missing)
        if self._cached_bytes + size > self.max_cached_bytes // 2:
            self._old, self._cache = self._cache, {}
            self._cache.update((p, self._old[p]) for p in distinct.difference(missing))
            self._cached_bytes = _size(self._cache)
            self._reset()
        self._cache.update((p, old[p]) for p in revived)
        self._cache.update(fresh)
        self._cached_bytes += size

    def _encode_pieces(self, new: list[str]) -> Iterator[tuple[str, bytes]]:
        """(piece, bytes of its ids) for each piece, from one SentencePiece call."""
        encoded = self.processor.encode(new, num_threads=1) if new else []
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        flat = np.fromiter(chain.from_iterable(encoded), self.dtype, int(lengths.sum())).tobytes()
        ends = np.cumsum(lengths * self.dtype.itemsize).tolist()
        starts = [0, *ends[:-1]]
        return zip(new, map(flat.__getitem__, map(slice, starts, ends)), strict=True)

    def _reset(self) -> None:
        if self._space is not None:
            self._cache[SPACE] = self._space


def _pieces(text: str) -> list[str]:
    return PIECES.findall(text)


def _size(pieces: Iterable[str] | dict[str, bytes]) -> int:
    """What `max_cached_bytes` counts of some pieces: their characters and overheads."""
    items = pieces if isinstance(pieces, set | dict) else list(pieces)
    return sum(map(len, items)) + len(items) * _ENTRY_OVERHEAD
