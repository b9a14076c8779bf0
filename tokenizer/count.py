"""Exact token counts per file and fertility (characters and bytes per token) per language.

`TokenCounter` loads the model once (build one per worker process) and counts a batch
with one SentencePiece call on one thread: parallelism comes from workers, not threads.
`count_table` adds a `tokens` column to an Arrow batch; `language_stats` reduces a
counted batch to one row per language, and partial results merge by summing
(`merge_language_stats`), so counting maps over batches on any number of workers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.stage import set_column
from tokenizer.model import CodeTokenizer
from tokenizer.sample import CONTENT, LANG, UNKNOWN

TOKENS = "tokens"

#: One row per language: what fertility is computed from.
LANGUAGE_STATS_SCHEMA = pa.schema(
    [
        pa.field(LANG, pa.string(), nullable=False),
        pa.field("files", pa.int64(), nullable=False),
        pa.field("chars", pa.int64(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field(TOKENS, pa.int64(), nullable=False),
    ]
)


class TokenCounter:
    """Counts tokens with one model, loaded once."""

    def __init__(self, model_bytes: bytes) -> None:
        self.tokenizer = CodeTokenizer(model_bytes)
        self.sha256 = self.tokenizer.sha256

    def count(self, texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
        """Exact token count of each text (int64; no end-of-document token; "" gives 0).
        A null text raises InvalidTextError: count only files whose content was read."""
        return self.tokenizer.count(texts)

    def count_table(self, batch: pa.Table, column: str = CONTENT) -> pa.Table:
        """`batch` with a `tokens` int64 column counted from `column`."""
        return set_column(batch, TOKENS, pa.array(self.count(batch[column]), pa.int64()))

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Per-language stats of a batch: the call a Ray task or worker pool maps."""
        return language_stats(self.count_table(batch))


def language_stats(counted: pa.Table) -> pa.Table:
    """Files, characters, bytes and tokens per language of a counted batch."""
    content = counted[CONTENT]
    table = pa.table(
        {
            LANG: pc.fill_null(counted[LANG], UNKNOWN),
            "files": pa.array(np.ones(counted.num_rows, np.int64)),
            "chars": pc.cast(pc.fill_null(pc.utf8_length(content), 0), pa.int64()),
            "bytes": pc.cast(pc.fill_null(pc.binary_length(content), 0), pa.int64()),
            TOKENS: counted[TOKENS],
        }
    )
    return _sum_by_language(table)


def merge_language_stats(parts: Iterable[pa.Table]) -> pa.Table:
    """Sum partial `language_stats` tables (from any number of batches or workers)."""
    tables = [p.cast(LANGUAGE_STATS_SCHEMA) for p in parts]
    if not tables:
        return LANGUAGE_STATS_SCHEMA.empty_table()
    return _sum_by_language(pa.concat_tables(tables))


@dataclass(frozen=True)
class Fertility:
    """How much text one token carries in a language."""

    lang: str
    files: int
    chars: int
    bytes: int
    tokens: int

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.tokens else 0.0

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / self.tokens if self.tokens else 0.0

    @property
    def tokens_per_byte(self) -> float:
        return self.tokens / self.bytes if self.bytes else 0.0


def fertility(stats: pa.Table) -> dict[str, Fertility]:
    """Fertility per language from a (merged) `language_stats` table."""
    return {row[LANG]: Fertility(**row) for row in stats.cast(LANGUAGE_STATS_SCHEMA).to_pylist()}


def _sum_by_language(table: pa.Table) -> pa.Table:
    names = [f.name for f in LANGUAGE_STATS_SCHEMA if f.name != LANG]
    grouped = table.group_by(LANG).aggregate([(n, "sum") for n in names])
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    return grouped.select(LANGUAGE_STATS_SCHEMA.names).sort_by(LANG).cast(LANGUAGE_STATS_SCHEMA)
