"""Tokens inside `codecorpus curate`: a trained tokenizer, exact counts, shards, reuse."""

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from corpus.core.cluster import RunnerConfig
from corpus.core.errors import ConfigError
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.pipeline.tokenize_version import count_tokens, write_version_shards
from corpus.sources import Layout
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.versions import Registry, scan_version
from tokenizer.errors import TrainingError
from tokenizer.model import CodeTokenizer
from tokenizer.shards import ShardReader, split_of
from tokenizer.store import TokenizerNotFound, TokenizerStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

#: Small vocabulary and a 25% validation share so both splits have repositories.
CONFIG = {"tokenizer": {"vocab_size": 3000}, "shards": {"validation_fraction": 0.25}}


def _curate(root: Path, home: Path, name: str = "v1", partitions: int = 8, **extra) -> Catalog:
    catalog = Catalog(Settings(home=home))
    runner = RunnerConfig(partitions=partitions)
    config = CurationConfig.from_dict({**CONFIG, **extra})
    if not catalog.has_table("ds", "raw"):
        ingest([str(root)], "ds", catalog, runner=runner, layout=Layout.REPOS)
    curate("ds", name, catalog, config, runner)
    return catalog


@pytest.fixture(scope="module")
def curated(sample_corpus, tmp_path_factory) -> Catalog:
    root, _ = sample_corpus
    return _curate(root, tmp_path_factory.mktemp("tokens"))


def _decisions(catalog: Catalog, name: str = "v1"):
    version = Registry(catalog, "ds").get(name)
    return scan_version(catalog, "ds", version).to_arrow(), version


def test_counts_per_file_per_language_and_over_shards_agree(curated: Catalog) -> None:
    decisions, version = _decisions(curated)
    kept = decisions.filter(pc.is_null(decisions["drop_reason"]))
    assert pc.all(pc.is_valid(kept["tokens"])).as_py()
    assert decisions.filter(pc.is_valid(decisions["drop_reason"]))["tokens"].null_count == (
        decisions.num_rows - kept.num_rows
    )
    by_lang = Counter()
    for lang, tokens in zip(kept["lang"].to_pylist(), kept["tokens"].to_pylist(), strict=True):
        by_lang[lang or "unknown"] += tokens
    assert dict(by_lang) == version.stats["tokens_by_language"]
    for lang, tokens in by_lang.items():
        assert version.stats["languages"][lang]["tokens"] == tokens
    files = scan_version(curated, "ds", version, "files").to_arrow()
    python = files.filter(pc.equal(files["lang"], "Python"))
    chars = sum(pc.utf8_length(python["content"]).to_pylist())
    fertility = version.stats["languages"]["Python"]["chars_per_token"]
    assert fertility == round(chars / by_lang["Python"], 3) and 2 < fertility < 10
    # the same counts again, from the stored files, in other processes
    seen: list[tuple[int, int, int]] = []
    sha, recount = count_tokens(curated, "ds", "v1", on_progress=lambda *a: seen.append(a))
    assert sha == version.lineage["tokenizer"]
    assert {k: v["tokens"] for k, v in recount.items()} == dict(by_lang)
    # progress: one report per data file as it is counted, tokens growing to the total
    assert [done for done, _, _ in seen] == list(range(len(seen))) and len(seen) >= 2
    assert {total for _, total, _ in seen} == {len(seen) - 1}
    assert [t for _, _, t in seen] == sorted(t for _, _, t in seen)
    assert seen[-1][2] == sum(by_lang.values())

    manifest = curated.table("ds", SHARDS).scan().to_arrow()
    documents = []
    for row in manifest.to_pylist():
        reader = ShardReader(row["prefix"])
        assert reader.document_count == row["documents"] == len(reader)
        documents.extend(len(reader[i]) for i in range(len(reader)))
        assert sum(len(reader[i]) for i in range(len(reader))) == row["tokens"]
    # each kept file is one document: its tokens plus the end-of-document token
    assert sorted(documents) == sorted(t + 1 for t in kept["tokens"].to_pylist())
    assert sum(manifest["tokens"].to_pylist()) == version.stats["tokens"] + kept.num_rows


def test_repositories_never_straddle_splits(curated: Catalog) -> None:
    decisions, _ = _decisions(curated)
    kept = decisions.filter(pc.is_null(decisions["drop_reason"]))
    expected = Counter()
    for repo, tokens in zip(kept["repo"].to_pylist(), kept["tokens"].to_pylist(), strict=True):
        expected[str(split_of(repo, 0.25, 0))] += tokens + 1
    manifest = curated.table("ds", SHARDS).scan().to_arrow()
    written = Counter()
    for split, tokens in zip(
        manifest["split"].to_pylist(), manifest["tokens"].to_pylist(), strict=True
    ):
        written[split] += tokens
    assert written == expected and set(written) == {"train", "validation"}


def test_shard_documents_decode_to_the_kept_files(curated: Catalog) -> None:
    _, version = _decisions(curated)
    files = scan_version(curated, "ds", version, "files").to_arrow()
    contents = set(files["content"].to_pylist())
    model = TokenizerStore(curated.settings.resolved_warehouse()).load(version.lineage["tokenizer"])
    tokenizer = CodeTokenizer(model)
    row = curated.table("ds", SHARDS).scan().to_arrow().to_pylist()[0]
    reader = ShardReader(row["prefix"])
    for i in range(min(len(reader), 20)):
        ids = np.asarray(reader[i])
        assert ids[-1] == tokenizer.eod_id
        assert tokenizer.decode(ids[:-1]) in contents


def test_shards_hold_exactly_sentencepiece_ids_of_the_kept_files(curated: Catalog) -> None:
    """The piece cache that wrote the shards gives SentencePiece's own ids, file for file."""
    _, version = _decisions(curated)
    files = scan_version(curated, "ds", version, "files").to_arrow()
    sha = version.lineage["tokenizer"]
    model = TokenizerStore(curated.settings.resolved_warehouse()).load(sha)
    fast, plain = CodeTokenizer(model), CodeTokenizer(model, fast=False)
    assert fast.fast_fallback == []
    texts = files["content"].to_pylist()
    expected = plain.encode_batch(texts)
    assert fast.encode_batch(texts) == expected
    assert fast.count(texts).tolist() == [len(ids) for ids in expected]
    rows = [r for r in curated.table("ds", SHARDS).scan().to_arrow().to_pylist()
            if r["tokenizer"] == sha]  # fmt: skip
    in_shards = Counter(
        tuple(doc[:-1].tolist()) for row in rows for doc in ShardReader(row["prefix"])
    )
    assert in_shards == Counter(tuple(ids) for ids in expected)


def test_same_tokenizer_whatever_the_partitions_and_reuse_by_id(
    sample_corpus, curated: Catalog, tmp_path: Path
) -> None:
    root, _ = sample_corpus
    _, version = _decisions(curated)
    other = _curate(root, tmp_path / "p3", partitions=3)
    _, again = _decisions(other)
    assert again.lineage["tokenizer"] == version.lineage["tokenizer"]
    assert again.stats["tokens_by_language"] == version.stats["tokens_by_language"]
    # a second version reusing the stored tokenizer by its prefix trains nothing
    sha = version.lineage["tokenizer"]
    store = TokenizerStore(other.settings.resolved_warehouse())
    before = store.list()
    _curate(
        root,
        tmp_path / "p3",
        name="v2",
        shards={"tokenizer": sha[:10], "validation_fraction": 0.25},
    )
    _, reused = _decisions(other, "v2")
    assert reused.lineage["tokenizer"] == sha and store.list() == before
    with pytest.raises(TokenizerNotFound, match="no stored tokenizer"):
        store.resolve("deadbeefdeadbeef")


def test_shards_of_another_tokenizer_are_added_once(curated: Catalog) -> None:
    _, version = _decisions(curated)
    sha = version.lineage["tokenizer"]
    before = curated.table("ds", SHARDS).scan().to_arrow().num_rows
    seen: list[tuple[int, int, int]] = []
    for _ in range(2):  # rewriting replaces the rows of (version, tokenizer)
        _, rows = write_version_shards(
            curated, "ds", "v1", sha, on_progress=lambda *a: seen.append(a)
        )
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == sum(r["tokens"] for r in rows)
    after = curated.table("ds", SHARDS).scan().to_arrow()
    assert after.num_rows == len(rows)
    assert sum(after["tokens"].to_pylist()) == version.stats["tokens"] + sum(
        r["documents"] for r in rows
    )
    assert before >= 1


def test_bad_shard_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"shards\.validation_fraction"):
        CurationConfig.from_dict({"shards": {"validation_fraction": 1.5}})


def test_small_corpus_trains_the_largest_vocabulary_it_supports(sample_corpus, tmp_path) -> None:
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    too_many = {"tokenizer": {"vocab_size": 200_000}}
    strict = CurationConfig.from_dict({**too_many, "shards": {"shrink_vocab": False}})
    with pytest.raises(TrainingError, match="vocab"):
        curate("ds", "strict", catalog, strict)
    assert not Registry(catalog, "ds").exists("strict")  # a failed run publishes nothing
    curate("ds", "v1", catalog, CurationConfig.from_dict(too_many))
    version = Registry(catalog, "ds").get("v1")
    record = TokenizerStore(catalog.settings.resolved_warehouse()).record(
        version.lineage["tokenizer"]
    )
    assert 1000 < record["config"]["vocab_size"] < 200_000
    assert version.stats["tokens"] > 0
