"""A trained model loaded once, with an exact encoding: decode(encode(text)) == text.

SentencePiece writes a space as the meta symbol U+2581 ("▁") and turns every "▁" back
into a space when decoding, so a text that holds a literal "▁" (sparklines, box
drawings) would not come back. Our encoding splits such a text at each "▁", encodes the
parts, and writes each literal "▁" as its three UTF-8 byte-fallback pieces, which decode
to the character itself. Texts without "▁" (nearly all) are plain SentencePiece output.

Ids come from `tokenizer.fast_encode` (distinct space-separated pieces encoded once, 4x+
faster, the same ids) whenever the model's settings make that exact; `fast_fallback`
says why not otherwise, and plain SentencePiece encodes everything.
"""

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sentencepiece as spm

from tokenizer.config import SPACE
from tokenizer.errors import InvalidModelError, InvalidTextError
from tokenizer.fast_encode import Encoded, PieceEncoder, unsafe_settings

_SPACE_BYTES = SPACE.encode()

#: Piece caches by model sha256, shared by every CodeTokenizer of a process (a worker
#: building one per partition keeps its warm cache); the latest two models only.
_ENCODERS: dict[str, PieceEncoder] = {}


class CodeTokenizer:
    """A SentencePiece model from its serialized bytes; build once per worker."""

    def __init__(self, model_bytes: bytes, fast: bool = True) -> None:
        if not isinstance(model_bytes, bytes | bytearray | memoryview) or not model_bytes:
            raise InvalidModelError(
                "model bytes are empty or not bytes: pass TrainedTokenizer.model_bytes "
                "(the content of a .model file)"
            )
        self.model_bytes = bytes(model_bytes)
        self.sha256 = hashlib.sha256(self.model_bytes).hexdigest()
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(self.model_bytes)
        except (RuntimeError, OSError) as exc:
            raise InvalidModelError(
                f"not a SentencePiece model ({exc}); pass the bytes of a trained .model file"
            ) from exc
        self.processor = processor
        self.vocab_size: int = processor.get_piece_size()
        self.eod_id: int = processor.eos_id()
        if self.eod_id < 0:
            raise InvalidModelError(
                "the model has no end-of-sentence piece (eos_id=-1); train it with eos_id >= 0 "
                "so documents can be separated"
            )
        byte_ids = [processor.piece_to_id(f"<0x{b:02X}>") for b in _SPACE_BYTES]
        self._space_ids: list[int] | None = (
            byte_ids if all(processor.is_byte(i) for i in byte_ids) else None
        )
        #: Why the piece cache is not used (empty: it is); `fast=False` forces plain.
        self.fast_fallback: list[str] = unsafe_settings(processor) if fast else ["fast=False"]
        self._fast = self._piece_encoder() if not self.fast_fallback else None

    @property
    def token_dtype(self) -> np.dtype:
        """Smallest dtype that holds every id (Megatron reads uint8, uint16 and int32)."""
        return token_dtype(self.vocab_size)

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> list[list[int]]:
        """Token ids of every text, as lists (`encode_arrays` spares the conversion)."""
        items = _texts(texts)
        if self._fast is not None:
            return self._fast.encode(items).tolist()
        return self._encode_plain(items)

    def encode_arrays(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> Encoded:
        """Token ids of every text as bytes in `token_dtype` (one per text): what shards
        are written from, without another copy."""
        items = _texts(texts)
        if self._fast is not None:
            return self._fast.encode(items)
        dtype = self.token_dtype
        return Encoded([np.array(ids, dtype).tobytes() for ids in self._encode_plain(items)], dtype)

    def count(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Exact token count of every text, as int64 (no end-of-document token)."""
        items = _texts(texts)
        if self._fast is not None:
            return self._fast.encode(items).counts()
        return np.fromiter((len(ids) for ids in self._encode_plain(items)), np.int64, len(items))

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return self.processor.decode([int(i) for i in ids])

    def _piece_encoder(self) -> PieceEncoder:
        encoder = _ENCODERS.get(self.sha256)
        if encoder is None:
            while len(_ENCODERS) >= 2:
                del _ENCODERS[next(iter(_ENCODERS))]
            encoder = _ENCODERS[self.sha256] = PieceEncoder(
                self.processor, self.token_dtype, self._space_ids
            )
        return encoder

    def _encode_plain(self, items: list[str]) -> list[list[int]]:
        """SentencePiece's own encode (one call for the batch, one thread)."""
        out = self.processor.encode(items, num_threads=1) if items else []
        for i, text in enumerate(items):
            if SPACE in text:
                out[i] = self._encode_with_literal_space(text)
        return out

    def _encode_with_literal_space(self, text: str) -> list[int]:
        if self._space_ids is None:
            raise InvalidTextError(
                f"text holds {SPACE!r} (U+2581), which this model can only encode exactly "
                "with byte fallback; train it with byte_fallback=True"
            )
        parts = text.split(SPACE)
        encoded = self.processor.encode(parts, num_threads=1)
        ids = list(encoded[0])
        for part in encoded[1:]:
            ids.extend(self._space_ids)
            ids.extend(part)
        return ids


def token_dtype(vocab_size: int) -> np.dtype:
    """uint8 up to 256 ids, uint16 up to 65536, else int32 (Megatron has no uint32)."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def _texts(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> list[str]:
    """Python strings of a batch; a null or non-string is an error, an empty string is not."""
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        if texts.null_count:
            first = pc.index(pc.is_null(texts), True).as_py()
            raise InvalidTextError(
                f"text {first} is null (no content): count only files that were read, "
                "e.g. rows with drop_reason IS NULL"
            )
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            raise InvalidTextError(f"texts must be an Arrow string array, got {texts.type}")
        return texts.to_pylist()
    if isinstance(texts, str):
        raise InvalidTextError("pass a sequence of texts, not one string (use encode())")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidTextError(
                f"text {i} is {type(text).__name__}, not str: count only files that were read "
                "(content not null)"
            )
    return items
