"""Shards of a dataset: one shard set per language and split, from Arrow batches.

Files go to `<directory>/<language>/<split>-NNNNN.{bin,idx}` in the order given (the
caller orders them, e.g. by file_id, for a reproducible layout). A repository's files
all go to one split (`split_of`). The result lists every shard with its language,
split, tokenizer, sha256s and counts: the rows of `<ds>.shards`.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tokenizer.fast_encode import Encoded
from tokenizer.model import CodeTokenizer
from tokenizer.sample import CONTENT, LANG, UNKNOWN
from tokenizer.shards import DEFAULT_TARGET_BYTES, ShardInfo, ShardWriter, Split, split_of

REPO = "repo"

SHARDS_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("tokenizer", pa.string(), nullable=False),
        pa.field("prefix", pa.string(), nullable=False),
        pa.field("bin_sha256", pa.string(), nullable=False),
        pa.field("idx_sha256", pa.string(), nullable=False),
        pa.field("bin_bytes", pa.int64(), nullable=False),
        pa.field("idx_bytes", pa.int64(), nullable=False),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("dtype", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ShardEntry:
    lang: str
    split: Split
    tokenizer: str
    """sha256 of the model that encoded the shard."""
    shard: ShardInfo

    def to_row(self) -> dict[str, object]:
        return {"lang": self.lang, "split": str(self.split), "tokenizer": self.tokenizer,
                **self.shard.to_dict()}  # fmt: skip


class DatasetShardWriter:
    """Encodes batches (columns repo, lang, content) into per-language, per-split shards."""

    def __init__(
        self,
        directory: str | Path,
        model_bytes: bytes,
        validation_fraction: float = 0.01,
        seed: int = 0,
        target_bytes: int = DEFAULT_TARGET_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.tokenizer = CodeTokenizer(model_bytes)
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.target_bytes = target_bytes
        self._writers: dict[tuple[str, Split], ShardWriter] = {}
        self._splits: dict[str, Split] = {}

    def write(self, batch: pa.Table, encoded: Encoded | list[list[int]] | None = None) -> None:
        """Append the batch's files; `encoded` (their token ids) spares a second encoding
        when the caller already encoded them, e.g. to count tokens. Ids from
        `encode_arrays` go to the `.bin` from the buffer they were assembled in."""
        langs = pc.fill_null(batch[LANG], UNKNOWN).to_pylist()
        repos = batch[REPO].to_pylist()
        if encoded is None:
            encoded = self.tokenizer.encode_arrays(batch[CONTENT])
        for lang, repo, ids in zip(langs, repos, encoded, strict=True):
            self._writer(lang, self._split(repo)).add(ids)

    def close(self) -> list[ShardEntry]:
        entries = []
        for (lang, split), writer in sorted(self._writers.items(), key=lambda kv: kv[0]):
            entries.extend(
                ShardEntry(lang, split, self.tokenizer.sha256, shard) for shard in writer.close()
            )
        return entries

    def _split(self, repo: str) -> Split:
        split = self._splits.get(repo)
        if split is None:
            split = self._splits[repo] = split_of(repo, self.validation_fraction, self.seed)
        return split

    def _writer(self, lang: str, split: Split) -> ShardWriter:
        writer = self._writers.get((lang, split))
        if writer is None:
            writer = self._writers[(lang, split)] = ShardWriter(
                self.directory / language_slug(lang),
                str(split),
                self.tokenizer.vocab_size,
                self.tokenizer.eod_id,
                self.target_bytes,
            )
        return writer


def write_shards(
    batches: Iterable[pa.Table],
    model_bytes: bytes,
    directory: str | Path,
    validation_fraction: float = 0.01,
    seed: int = 0,
    target_bytes: int = DEFAULT_TARGET_BYTES,
) -> list[ShardEntry]:
    """Write every batch's files into shards; returns the shard list."""
    writer = DatasetShardWriter(directory, model_bytes, validation_fraction, seed, target_bytes)
    for batch in batches:
        writer.write(batch)
    return writer.close()


def manifest(entries: Iterable[ShardEntry]) -> pa.Table:
    """The shard list as a `<ds>.shards`-shaped table."""
    return pa.Table.from_pylist([e.to_row() for e in entries], schema=SHARDS_SCHEMA)


def language_slug(lang: str) -> str:
    """A folder name for a language: C++ -> cpp, C# -> csharp, Jupyter Notebook ->
    jupyter-notebook."""
    slug = lang.lower().replace("++", "pp").replace("#", "sharp")
    return re.sub(r"[^a-z0-9.]+", "-", slug).strip("-.") or UNKNOWN
