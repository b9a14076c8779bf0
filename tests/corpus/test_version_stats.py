"""Typed version results on a real curated version of the sample corpus: the stats and lineage
render back to the JSON stored in `<ds>.versions` key for key, an older record still reads,
`training_inputs` resolves a mixture for training, and the catalog's own tables share one
engine."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.keys import KeyStore
from api.schemas import StatsRow, StatsSummary
from corpus.core.errors import ConfigError
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store import mixtures, sql
from corpus.store.catalog import SHARDS, VERSIONS, Catalog
from corpus.store.locks import publish_lock
from corpus.store.mixtures import create_mixture, training_inputs
from corpus.store.runs import RunStore
from corpus.store.version_stats import Lineage, VersionStats
from corpus.store.versions import Registry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


@pytest.fixture(scope="module")
def catalog(sample_corpus, tmp_path_factory) -> Catalog:
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("typed")))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    config = {"tokenizer": {"vocab_size": 1000}, "shards": {"validation_fraction": 0.2}}
    curate("ds", "v1", catalog, CurationConfig.from_dict(config))
    # a second version without tokenizer or dedup: the optional parts are absent
    bare = {"shards": {"enabled": False}, "dedup": {"exact": False, "near": False}}
    curate("ds", "bare", catalog, CurationConfig.from_dict(bare))
    return catalog


def _stored(catalog: Catalog, name: str) -> dict:
    rows = catalog.table("ds", VERSIONS).scan().to_arrow().to_pylist()
    (row,) = [r for r in rows if r["name"] == name]
    return row


@pytest.mark.parametrize("name", ["v1", "bare"])
def test_stats_and_lineage_render_the_stored_json_key_for_key(catalog: Catalog, name) -> None:
    row = _stored(catalog, name)
    record = json.loads(row["record"])
    stats, lineage = VersionStats.from_dict(record["stats"]), Lineage.from_dict(record["lineage"])
    assert stats.to_dict() == record["stats"]
    assert lineage.to_dict() == record["lineage"]
    assert stats.extra == {} and lineage.extra == {}  # every stored key is a typed field
    version = Registry(catalog, "ds").get(name)
    assert version.stats == stats and version.lineage == lineage
    assert version.to_row()["record"] == row["record"]  # byte for byte what was stored


def test_typed_fields_hold_what_the_run_counted(catalog: Catalog) -> None:
    v1, bare = Registry(catalog, "ds").get("v1"), Registry(catalog, "ds").get("bare")
    stats = v1.stats
    assert stats.files == sum(r.files for r in stats.tally) > stats.kept_files > 0
    assert stats.kept_files == sum(e.files for e in stats.languages.values())
    assert stats.files == sum(e.files for e in stats.languages_all.values())
    assert stats.files - stats.kept_files == sum(e.files for e in stats.drop_reasons.values())
    assert stats.tokens == sum(stats.tokens_by_language.values()) > 0
    assert stats.languages["Python"].tokens == stats.tokens_by_language["Python"]
    assert stats.tokenizer == v1.lineage.tokenizer and len(stats.tokenizer) == 64
    assert stats.shards.count > 0 and stats.shards.validation_documents > 0
    assert stats.dedup.exact is not None and stats.dedup.settings["num_perm"] > 0
    assert "dedup" in v1.lineage.stages and "shards" in v1.lineage.stages
    assert v1.lineage.raw_snapshot_id == v1.raw_snapshot_id
    # no tokenizer: tokens not counted, no shards; dedup off: no exact/near counters
    assert bare.stats.tokens is None and bare.stats.shards is None
    assert bare.stats.tokens_by_language is None and bare.lineage.tokenizer is None
    assert bare.stats.dedup.exact is None and bare.stats.dedup.near is None
    assert all(e.tokens is None for e in bare.stats.languages.values())
    assert "tokens_by_language" not in bare.stats.to_dict()
    # the API's groups add up to the totals the version recorded
    by_lang = StatsRow.grouped(stats, ["lang"])
    assert sum(r.files for r in by_lang) == stats.files
    assert sum(r.kept_files for r in by_lang) == stats.kept_files
    by_reason = StatsRow.grouped(stats, ["drop_reason"])
    assert by_reason[0].kept and by_reason[0].files == stats.kept_files
    assert by_reason[0].tokens == stats.tokens
    summary = StatsSummary.of(stats)
    assert summary.shards.count == stats.shards.count
    assert summary.dedup.exact_removed == stats.dedup.exact["removed"]


def test_an_older_record_reads_with_defaults_and_keeps_unknown_keys() -> None:
    old_stats = {  # before stripped bytes, all-language totals, dedup and token counts
        "files": 3,
        "bytes": 30,
        "kept_files": 2,
        "kept_bytes": 20,
        "languages": {"Python": {"files": 2, "bytes": 20}},
        "drop_reasons": {"quality:max_line_length": {"files": 1, "bytes": 10}},
        "tally": [
            {"lang": "Python", "drop_reason": None, "files": 2, "bytes": 20},
            {"lang": None, "drop_reason": "quality:max_line_length", "files": 1, "bytes": 10},
        ],
        "histogram": [1, 2],
    }
    stats = VersionStats.from_dict(old_stats)
    assert (stats.stripped_bytes, stats.languages_all, stats.dedup, stats.tokens) == (
        0,
        {},
        None,
        None,
    )
    assert stats.languages["Python"].files == 2 and stats.languages["Python"].tokens is None
    assert stats.extra == {"histogram": [1, 2]}
    again = stats.to_dict()
    assert again == {**old_stats, "stripped_bytes": 0, "languages_all": {}, "tokens": None}
    assert [g.lang for g in stats.by_language()] == ["Python", "unknown"]
    assert [r.drop_reason for r in stats.by_reason()] == [None, "quality:max_line_length"]
    assert stats["files"] == 3 and stats.get("dedup") is None  # dict-style reads of the JSON
    lineage = Lineage.from_dict({"raw_snapshot_id": 7, "stages": ["intake"], "note": "x"})
    assert lineage.raw_snapshot_id == 7 and lineage.stages == ("intake",)
    assert lineage.tokenizer is None and lineage.get("note") == "x"
    assert Lineage.from_dict(lineage.to_dict()) == lineage


def test_training_inputs_of_a_curated_version(catalog: Catalog, tmp_path: Path) -> None:
    rows = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    langs = sorted({r["lang"] for r in rows if r["split"] == "validation"})[:2]
    assert "Python" in langs, langs
    weights = {**dict.fromkeys(langs, 1.0)}
    mixture = create_mixture(catalog, "ds", "v1", weights, 20_000)
    inputs = training_inputs(catalog, mixture.id, 32, dataset="ds", version="v1", seed=3)
    assert inputs.mixture.to_dict() == mixture.to_dict()
    assert inputs.vocab_size == 1000  # the tokenizer's pieces
    assert inputs.spec.seq_len == 32 and inputs.spec.seed == 3
    assert sorted(c.language for c in inputs.spec.components) == langs
    expected = {
        lang: sorted(r["prefix"] for r in rows if r["split"] == "validation" and r["lang"] == lang)
        for lang in langs
    }
    assert inputs.validation == expected and inputs.unvalidated == []
    pulled = training_inputs(catalog, mixture.id, 32, shard_root=tmp_path)
    for lang, prefixes in pulled.validation.items():
        assert prefixes == [str(tmp_path / Path(p).name) for p in expected[lang]]
    with pytest.raises(ConfigError, match="not ds@v9"):
        training_inputs(catalog, mixture.id, 32, dataset="ds", version="v9")


def test_the_catalog_tables_share_one_engine(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    shared = sql.engine(settings)
    assert sql.engine(settings.resolved_catalog_uri()) is shared
    assert RunStore(settings).engine is shared
    assert KeyStore(settings).engine is shared
    assert mixtures._engine(Catalog(settings)) is shared
    tables = set(sa.inspect(shared).get_table_names())
    assert {"codecorpus_runs", "codecorpus_mixtures", "codecorpus_api_keys"} <= tables
    with shared.connect() as conn:  # SQLite waits for a busy database instead of failing
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    other = sql.engine(Settings(home=tmp_path / "other"))
    assert other is not shared
    with publish_lock(settings, "ds", "v1"):  # the lock's own connection, not the pool's
        key, _ = KeyStore(settings).create("k", ["read"])
    assert KeyStore(settings).get(key.id).name == "k"
