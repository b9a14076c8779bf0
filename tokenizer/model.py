"""A trained model loaded once, with an exact encoding: decode(encode(text)) == text.

SentencePiece writes a space as the meta symbol U+2581 ("▁") and turns every "▁" back
into a space when decoding, so a text that holds a literal "▁" (sparklines, box
drawings) would not come back. Our encoding splits such a text at each "▁", encodes the
parts, and writes each literal "▁" as its three UTF-8 byte-fallback pieces, which decode
to the character itself. Texts without "▁" (nearly all) are plain SentencePiece output.
"""

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sentencepiece as spm

from tokenizer.config import SPACE
from tokenizer.errors import InvalidModelError, InvalidTextError

_SPACE_BYTES = SPACE.encode()


class CodeTokenizer:
    """A SentencePiece model from its serialized bytes; build once per worker."""

    def __init__(self, model_bytes: bytes) -> None:
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

    @property
    def token_dtype(self) -> np.dtype:
        """Smallest dtype that holds every id (Megatron reads uint8, uint16 and int32)."""
        return token_dtype(self.vocab_size)

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> list[list[int]]:
        """Token ids of every text (one SentencePiece call for the batch, one thread)."""
        items = _texts(texts)
        out = self.processor.encode(items, num_threads=1) if items else []
        for i, text in enumerate(items):
            if SPACE in text:
                out[i] = self._encode_with_literal_space(text)
        return out

    def count(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Exact token count of every text, as int64 (no end-of-document token)."""
        return np.fromiter((len(ids) for ids in self.encode_batch(texts)), np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return self.processor.decode([int(i) for i in ids])

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
