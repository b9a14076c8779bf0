"""Tokens of one partition of a version: each kept file encoded once, for its token count
(the `tokens` column) and its shard documents (`tokenizer.write.DatasetShardWriter`)."""

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.storage import filesystem_for, is_local, upload_file
from tokenizer.config import ShardsConfig

TOKENS = "tokens"


def tokenize_partition(
    rows: pa.Table, model_bytes: bytes, shard_dir: str, config: ShardsConfig
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """`rows` (a partition's decisions, kept files with a null `drop_reason`) with the token
    count of each kept file in `tokens` (null for dropped files), and the shards written."""
    kept_mask = pc.is_null(rows.column("drop_reason"))
    tokenize = PartitionTokenizer(model_bytes, shard_dir, config)
    counts = tokenize(rows.filter(kept_mask))
    kept = kept_mask.to_numpy(zero_copy_only=False)
    tokens = np.zeros(rows.num_rows, dtype=np.int64)
    tokens[np.flatnonzero(kept)] = counts
    rows = rows.set_column(
        rows.schema.get_field_index(TOKENS), TOKENS, pa.array(tokens, pa.int64(), mask=~kept)
    )
    return rows, tokenize.close()


def tokens_by_lang(kept: pa.Table) -> dict[str, dict[str, int]]:
    """Tokens and characters of the kept files per language (fertility = chars / tokens)."""
    if kept.num_rows == 0:
        return {}
    frame = pl.DataFrame(
        {
            "lang": pc.fill_null(kept["lang"], "unknown"),
            "tokens": kept[TOKENS],
            "chars": pc.utf8_length(kept["content"]),
        }
    )
    totals = frame.group_by("lang").agg(pl.col("tokens").sum(), pl.col("chars").sum())
    return {lang: {"tokens": int(t), "chars": int(c)} for lang, t, c in totals.iter_rows()}


class PartitionTokenizer:
    """Encodes a partition's kept files once: token counts and shard documents.

    Shards for an object store are written to a local temporary folder and uploaded
    at `close` (`.bin` before `.idx`, each object atomic); their manifest prefix is
    then the object's URI. sha256s are those of the bytes written, so a reader that
    checks them detects any difference in what it downloads.
    """

    def __init__(self, model_bytes: bytes, shard_dir: str, config: ShardsConfig) -> None:
        from tokenizer.write import DatasetShardWriter

        self.shard_dir = shard_dir.rstrip("/")
        self.staging: Path | None = None
        directory = local_path(shard_dir)
        if directory is None:
            self.staging = Path(tempfile.mkdtemp(prefix="codecorpus-shards-"))
            # removed with this object even when the task fails before `close`
            weakref.finalize(self, shutil.rmtree, self.staging, ignore_errors=True)
            directory = str(self.staging)
        self.writer = DatasetShardWriter(
            directory,
            model_bytes,
            config.validation_fraction,
            config.split_seed,
            config.target_bytes,
        )

    def __call__(self, kept: pa.Table) -> np.ndarray:
        if not kept.num_rows:
            return np.zeros(0, np.int64)
        encoded = self.writer.tokenizer.encode_arrays(kept["content"])
        self.writer.write(kept, encoded)
        return encoded.counts()

    def close(self) -> list[dict[str, Any]]:
        rows = [entry.to_row() for entry in self.writer.close()]
        if self.staging is None:
            return rows
        try:
            for row in rows:
                local = str(row["prefix"])
                remote = f"{self.shard_dir}/{Path(local).relative_to(self.staging).as_posix()}"
                for ext in ("bin", "idx"):
                    upload_file(f"{local}.{ext}", f"{remote}.{ext}")
                row["prefix"] = remote
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
        return rows


def local_path(uri: str) -> str | None:
    """The local folder of a shard location; None for an object store."""
    if not is_local(uri):
        return None
    return filesystem_for(uri)[1]
