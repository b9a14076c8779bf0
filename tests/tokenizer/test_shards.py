"""Megatron-compatible shards: exact read-back (ours and megatron-core's reader), counts
equal to the token counter's, rolling at the target size, repository-level splits."""

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tokenizer.count import TokenCounter
from tokenizer.errors import ShardFormatError
from tokenizer.model import token_dtype
from tokenizer.shards import ShardReader, ShardWriter, Split, split_of
from tokenizer.train import TrainedTokenizer
from tokenizer.write import SHARDS_SCHEMA, language_slug, manifest, write_shards


@pytest.fixture(scope="module")
def written(
    real_files: pa.Table, trained: TrainedTokenizer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list]:
    directory = tmp_path_factory.mktemp("shards")
    batches = real_files.to_batches(max_chunksize=50)
    entries = write_shards(
        (pa.Table.from_batches([b]) for b in batches),
        trained.model_bytes,
        directory,
        validation_fraction=0.2,
        seed=1,
        target_bytes=200_000,
    )
    return directory, entries


def test_counts_equal_the_sum_over_shards(
    real_files: pa.Table, trained: TrainedTokenizer, written: tuple[Path, list]
) -> None:
    _, entries = written
    counter = TokenCounter(trained.model_bytes)
    counted = counter.count_table(real_files).group_by("lang").aggregate([("tokens", "sum")])
    expected = dict(
        zip(counted["lang"].to_pylist(), counted["tokens_sum"].to_pylist(), strict=True)
    )
    in_shards: dict[str, int] = {}
    documents: dict[str, int] = {}
    for entry in entries:
        # a shard's tokens include one end-of-document token per document
        assert entry.shard.content_tokens == entry.shard.tokens - entry.shard.documents
        in_shards[entry.lang] = in_shards.get(entry.lang, 0) + entry.shard.content_tokens
        documents[entry.lang] = documents.get(entry.lang, 0) + entry.shard.documents
    assert in_shards == expected
    files = real_files.group_by("lang").aggregate([("file_id", "count")])
    names, counts = files["lang"].to_pylist(), files["file_id_count"].to_pylist()
    assert documents == dict(zip(names, counts, strict=True))


def test_shards_read_back_exactly(
    real_files: pa.Table, trained: TrainedTokenizer, written: tuple[Path, list]
) -> None:
    directory, entries = written
    tokenizer = trained.load()
    expected: dict[tuple[str, str], list[str]] = {}
    for row in real_files.to_pylist():  # files keep their order within a (lang, split)
        key = (row["lang"], str(split_of(row["repo"], 0.2, seed=1)))
        expected.setdefault(key, []).append(row["content"])
    got: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        prefix = Path(entry.shard.prefix)
        assert prefix.parent == directory / language_slug(entry.lang)
        assert hashlib.sha256(Path(f"{prefix}.bin").read_bytes()).hexdigest() == (
            entry.shard.bin_sha256
        )
        assert hashlib.sha256(Path(f"{prefix}.idx").read_bytes()).hexdigest() == (
            entry.shard.idx_sha256
        )
        reader = ShardReader(prefix)
        assert reader.dtype == np.uint16 and entry.shard.dtype == "uint16"
        assert len(reader) == reader.document_count == entry.shard.documents
        assert reader.documents.tolist() == list(range(len(reader) + 1))
        assert len(reader.tokens) == entry.shard.tokens
        texts = got.setdefault((entry.lang, str(entry.split)), [])
        for document in reader:
            assert document[-1] == tokenizer.eod_id
            texts.append(tokenizer.decode(document[:-1]))
    assert got == expected


def test_shards_roll_at_the_target_size(written: tuple[Path, list]) -> None:
    _, entries = written
    rolled = [e for e in entries if e.shard.prefix.endswith("-00001")]
    assert rolled, "the largest languages should need a second shard at 200 kB"
    for entry in entries:
        single = entry.shard.documents == 1
        assert entry.shard.bin_bytes <= 200_000 or single
    names = sorted(Path(e.shard.prefix).name for e in entries if e.lang == rolled[0].lang)
    assert names[0].endswith("-00000")
    table = manifest(entries)
    assert table.schema == SHARDS_SCHEMA and table.num_rows == len(entries)
    assert set(table["split"].to_pylist()) == {"train", "validation"}


def test_megatron_reads_our_shards(written: tuple[Path, list]) -> None:
    indexed = pytest.importorskip(
        "megatron.core.datasets.indexed_dataset",
        reason="megatron-core (and torch) not installed: pip install -e '.[megatron]'",
    )
    _, entries = written
    for entry in entries:
        ours = ShardReader(entry.shard.prefix)
        theirs = indexed.IndexedDataset(entry.shard.prefix)
        assert len(theirs) == len(ours)
        assert np.array_equal(theirs.document_indices, ours.documents)
        assert np.array_equal(theirs.sequence_lengths, ours.sequence_lengths)
        for i in range(len(ours)):
            assert np.array_equal(theirs[i], ours[i])
            assert theirs[i].dtype == ours[i].dtype


def test_no_repository_on_both_sides(real_files: pa.Table, written: tuple[Path, list]) -> None:
    repos = sorted(set(real_files["repo"].to_pylist()))
    sides = {repo: split_of(repo, 0.2, seed=1) for repo in repos}
    assert set(sides.values()) == {Split.TRAIN, Split.VALIDATION}
    # the same repo always lands on the same side, whatever else is split with it
    assert all(split_of(r, 0.2, seed=1) == s for r, s in reversed(sides.items()))
    many = [f"owner{i}/repo{i}" for i in range(10_000)]
    share = sum(split_of(r, 0.05, seed=0) == Split.VALIDATION for r in many) / len(many)
    assert 0.04 < share < 0.06
    assert all(split_of(r, 0.0) == Split.TRAIN for r in many[:100])
    assert all(split_of(r, 1.0) == Split.VALIDATION for r in many[:100])
    with pytest.raises(ValueError, match="validation_fraction"):
        split_of("a/b", 1.5)


def test_dtype_is_the_smallest_that_fits() -> None:
    assert token_dtype(256) == np.uint8
    assert token_dtype(257) == token_dtype(32768) == token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.int32


def test_writer_and_reader_edge_cases(tmp_path: Path) -> None:
    with ShardWriter(tmp_path, "t", vocab_size=1000, eod_id=2, target_bytes=10) as writer:
        writer.add([])  # an empty document is just its EOD token
        writer.add(np.arange(3, 40))  # larger than the target: a shard of its own
    shards = writer.shards
    assert [s.documents for s in shards] == [1, 1]
    assert ShardReader(shards[0].prefix)[0].tolist() == [2]
    assert ShardReader(shards[1].prefix)[-1].tolist() == [*range(3, 40), 2]
    with pytest.raises(ValueError, match="token ids must be in"):
        ShardWriter(tmp_path, "u", vocab_size=10, eod_id=2).add([11])
    with pytest.raises(ValueError, match="eod_id"):
        ShardWriter(tmp_path, "v", vocab_size=10, eod_id=10)
    with pytest.raises(ShardFormatError, match="no shard at"):
        ShardReader(tmp_path / "missing")
    bad = tmp_path / "bad"
    Path(f"{bad}.idx").write_bytes(b"NOTANIDX" + bytes(40))
    Path(f"{bad}.bin").write_bytes(b"")
    with pytest.raises(ShardFormatError, match="not a Megatron indexed dataset"):
        ShardReader(bad)
    Path(f"{bad}.idx").write_bytes(Path(f"{shards[1].prefix}.idx").read_bytes()[:-8])
    with pytest.raises(ShardFormatError, match="truncated"):
        ShardReader(bad)


def test_a_failed_write_leaves_no_half_shard(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, "t", 100, 2) as writer:
        writer.add([5, 6])
        raise RuntimeError("worker died")
    assert list(tmp_path.iterdir()) == []
