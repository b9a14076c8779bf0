"""Specific exceptions of the tokenizer; each message says what to do next."""

from corpus.core.errors import CodecorpusError


class TokenizerError(CodecorpusError):
    """Base class of the tokenizer's errors."""


class InvalidModelError(TokenizerError, ValueError):
    """Bytes that are not a loadable SentencePiece model."""


class InvalidTextError(TokenizerError, ValueError):
    """A text to train on or to encode is missing (null) or not a string."""


class EmptySampleError(TokenizerError):
    """Training was given no text at all."""


class TrainingError(TokenizerError):
    """SentencePiece refused to train (too little text for the vocabulary, bad options)."""


class TokenRangeError(TokenizerError, ValueError):
    """Token ids outside the vocabulary a shard set was opened for."""


class ShardFormatError(TokenizerError):
    """A `.idx`/`.bin` pair that is not a Megatron indexed dataset we can read."""
