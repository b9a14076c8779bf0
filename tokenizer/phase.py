"""Tokenizer phase of curate: sample, train (or reuse) a tokenizer, count tokens, write shards.

After dedup the kept rows of each partition are known. Sampling is distributed:
each partition task computes kept bytes per language, the driver turns them into
per-language rates (`tokenizer.sample.language_targets`), each task writes the
rows whose seeded file-id hash falls under its language's rate, and one task
takes them in hash order up to the targets and trains SentencePiece: the same
sample as `tokenizer.sample.sample_documents`, whatever the partitioning. The
finish step then encodes every kept file once, for its token count and its shard.
"""

import logging
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.exchange import read_folder, write_table
from corpus.core.storage import filesystem_for, is_local, upload_file
from tokenizer.config import ShardsConfig, TokenizerConfig
from tokenizer.sample import language_targets, selection_key

log = logging.getLogger(__name__)

CANDIDATE_SCHEMA = pa.schema([("lang", pa.string()), ("key", pa.uint64()), ("text", pa.string())])


def language_bytes_step(rows: pa.Table) -> dict[str, int]:
    """UTF-8 bytes of kept content per language (null language as `unknown`)."""
    if rows.num_rows == 0:
        return {}
    frame = pl.DataFrame(
        {
            "lang": pc.fill_null(rows["lang"], "unknown"),
            "n": pc.binary_length(rows["content"].cast(pa.binary())),
        }
    )
    return {k: int(v) for k, v in frame.group_by("lang").agg(pl.col("n").sum()).iter_rows()}


def sampling_rates(available: dict[str, int], config: TokenizerConfig) -> dict[str, float]:
    targets = language_targets(available, config)
    return {k: min(1.0, 1.05 * t / available[k]) for k, t in targets.items() if t > 0}


def write_candidates(
    rows: pa.Table, rates: dict[str, float], seed: int, uri: str
) -> dict[str, Any]:
    """The rows of one partition that fall under their language's sampling rate."""
    out: dict[str, list] = {"lang": [], "key": [], "text": []}
    langs = pc.fill_null(rows["lang"], "unknown").to_pylist()
    for i, (lang, file_id) in enumerate(zip(langs, rows["file_id"].to_pylist(), strict=True)):
        rate = rates.get(lang)
        if rate is None:
            continue
        key = selection_key(file_id, seed)
        if key < rate * 2**64:
            text = rows["content"][i].as_py()
            if text:
                out["lang"].append(lang)
                out["key"].append(key)
                out["text"].append(text)
    write_table(uri, pa.table(out, schema=CANDIDATE_SCHEMA))
    return {"candidates": len(out["key"])}


def train_from_candidates(
    folder: str,
    targets: dict[str, int],
    config: dict,
    store_root: str,
    record: dict,
    allow_smaller: bool = True,
) -> dict[str, Any]:
    """Take candidates in hash order up to each language's target; train; store the model."""
    from tokenizer.errors import TrainingError
    from tokenizer.store import TokenizerStore
    from tokenizer.train import train_tokenizer

    tokenizer_config = TokenizerConfig.from_dict(config)
    candidates = read_folder(folder, CANDIDATE_SCHEMA).sort_by(
        [("lang", "ascending"), ("key", "ascending")]
    )
    used: dict[str, int] = {}

    def sample():
        for lang, text in zip(
            candidates["lang"].to_pylist(), candidates["text"].to_pylist(), strict=True
        ):
            size = len(text.encode())
            if used.get(lang, 0) + size > targets.get(lang, 0):
                continue  # the same bound as tokenizer.sample.sample_documents
            used[lang] = used.get(lang, 0) + size
            yield lang, text

    try:
        trained = train_tokenizer(sample(), tokenizer_config)
    except TrainingError as exc:
        # A small corpus cannot fill a 32k vocabulary: SentencePiece names the largest it
        # supports. Train that one (recorded in the result) rather than fail the run.
        largest = re.search(r"value <= (\d+)", str(exc.__cause__ or exc))
        if largest is None or not allow_smaller:
            raise
        used.clear()
        log.warning("vocab_size %d too large for this sample; training %s pieces instead",
                    tokenizer_config.vocab_size, largest.group(1))  # fmt: skip
        tokenizer_config = replace(tokenizer_config, vocab_size=int(largest.group(1)))
        trained = train_tokenizer(sample(), tokenizer_config)
    sha = TokenizerStore(store_root.rsplit("/_tokenizers", 1)[0]).save(
        trained.model_bytes, {**trained.describe(), **record}
    )
    return {
        "sha256": sha,
        "sample_bytes": sum(used.values()),
        "seconds": round(trained.stats.seconds, 2),
    }


@dataclass
class Tokenized:
    """What the finish step's tokenization of one partition produced."""

    tokens: pa.Array
    shards: list[dict[str, Any]] = field(default_factory=list)


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
