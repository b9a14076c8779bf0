"""The ablation's versions on a real curated sample corpus: held-out repositories are chosen
before any curation choice, so the arms and the held-out set split the repositories exactly,
whatever each arm's rules and dedup keep; every version shares the baseline's tokenizer; a
rerun curates nothing."""

import pytest

from corpus.core.errors import ConfigError
from corpus.pipeline.ablation import (
    HELDOUT,
    choose_languages,
    heldout_shards,
    prepare_versions,
    version_tokens,
)
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.ingest import ingest
from corpus.public import read_decisions
from corpus.sources import Layout
from corpus.store.versions import Registry
from trainer.ablation_config import AblationConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

CURATION = {"intake": {"max_file_bytes": 16384}, "tokenizer": {"vocab_size": 1200}}
ARMS = {
    "raw": {"curation": {"heuristics": {"rules": [], "formatters": []},
                         "dedup": {"exact": False, "near": False}}},
    "full": {},
}  # fmt: skip


@pytest.fixture(scope="module")
def versions(sample_corpus, tmp_path_factory):
    from corpus.core.settings import Settings
    from corpus.store.catalog import Catalog

    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("ablate") / "home"))
    ingest([str(root)], "ds", catalog, CurationConfig.from_dict(CURATION), layout=Layout.REPOS)
    config = AblationConfig.from_dict({"arms": ARMS, "curation": CURATION,
                                       "holdout": {"fraction": 0.3, "seed": 3}})  # fmt: skip
    names, curated, tokenizer = prepare_versions(catalog, "ds", config)
    return catalog, config, names, curated, tokenizer


def _decisions(catalog, version: str) -> list[dict]:
    return read_decisions("ds", version, columns=["repo", "drop_reason"],
                          catalog=catalog).to_pylist()  # fmt: skip


def _repos(rows: list[dict], reason: str | None) -> set[str]:
    """Repositories with a file dropped for `reason` (None: with a kept file)."""
    return {r["repo"] for r in rows if r["drop_reason"] == reason}


def test_arms_and_heldout_split_the_repositories(versions) -> None:
    catalog, config, names, curated, _ = versions
    assert names == {"raw": "ablate-raw", "full": "ablate-full", HELDOUT: "ablate-heldout"}
    assert curated == ["ablate-raw", "ablate-full", "ablate-heldout"]
    held_rows = _decisions(catalog, names[HELDOUT])
    others = _repos(held_rows, "holdout:training")  # not held out: left to the arms
    assert _repos(held_rows, None) and others
    # every repository with a file past intake is on exactly one side
    past_intake = {r["repo"] for r in held_rows
                   if not (r["drop_reason"] or "").startswith("intake:")}  # fmt: skip
    for arm in config.arms:
        rows = _decisions(catalog, names[arm])
        held = _repos(rows, "holdout:evaluation")
        assert held and not held & others, arm
        assert held | others == past_intake, arm  # the same split whatever the arm keeps
        assert _repos(rows, None) <= others, arm
    assert _repos(held_rows, None) <= past_intake - others
    # the full arm drops what raw keeps: its choices differ, its held-out repositories do not
    full = read_decisions("ds", names["full"], kept=True, columns=["file_id"], catalog=catalog)
    raw = read_decisions("ds", names["raw"], kept=True, columns=["file_id"], catalog=catalog)
    assert full.num_rows < raw.num_rows


def test_one_tokenizer_languages_and_heldout_shards(versions) -> None:
    catalog, config, names, _, tokenizer = versions
    registry = Registry(catalog, "ds")
    assert {registry.get(v).lineage.tokenizer for v in names.values()} == {tokenizer}
    languages = choose_languages(config, version_tokens(catalog, "ds", names, tokenizer))
    assert "Python" in languages
    shards = heldout_shards(catalog, "ds", names[HELDOUT], tokenizer, languages)
    assert set(shards) <= set(languages) and shards.get("Python")


def test_rerun_reuses_the_versions_and_a_changed_arm_is_refused(versions) -> None:
    catalog, config, names, _, tokenizer = versions
    again, curated, same = prepare_versions(catalog, "ds", config)
    assert (again, curated, same) == (names, [], tokenizer)
    changed = AblationConfig.from_dict({
        "arms": {**ARMS, "full": {"curation": {"dedup": {"threshold": 0.9}}}},
        "curation": CURATION, "holdout": {"fraction": 0.3, "seed": 3},
    })  # fmt: skip
    with pytest.raises(ConfigError, match="ablate-full exists with another curation"):
        prepare_versions(catalog, "ds", changed)
