"""The holdout stage: a repository-hash split that keeps earlier drop reasons, splits the same
repositories the same way in any batch, and does nothing when the fraction is 0."""

import pyarrow as pa
import pytest

from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.holdout import HoldoutStage

REPOS = [f"owner{i % 7}/repo{i}" for i in range(400)]


def _batch(repos: list[str], start: int = 0) -> pa.Table:
    """Every tenth file of REPOS (by position) already dropped at intake."""
    reasons = ["intake:binary" if (start + i) % 10 == 0 else None for i in range(len(repos))]
    return pa.table({"repo": repos, "path": ["a.py"] * len(repos),
                     "drop_reason": pa.array(reasons, pa.string())})  # fmt: skip


def _stage(**holdout) -> HoldoutStage:
    return HoldoutStage(CurationConfig.from_dict({"holdout": holdout}))


def test_sides_partition_the_repositories() -> None:
    arm = _stage(fraction=0.25, seed=3)(_batch(REPOS)).column("drop_reason").to_pylist()
    held = _stage(fraction=0.25, seed=3, side="heldout")(_batch(REPOS))
    held = held.column("drop_reason").to_pylist()
    out_of_arm = {r for r, why in zip(REPOS, arm, strict=True) if why == "holdout:evaluation"}
    out_of_set = {r for r, why in zip(REPOS, held, strict=True) if why == "holdout:training"}
    assert not out_of_arm & out_of_set
    earlier = {r for i, r in enumerate(REPOS) if i % 10 == 0}
    assert out_of_arm | out_of_set | earlier == set(REPOS)
    assert 0.15 < len(out_of_arm) / len(REPOS) < 0.35  # about the fraction
    for i in range(0, len(REPOS), 10):  # an earlier reason is kept
        assert arm[i] == held[i] == "intake:binary"


def test_split_is_per_repository_whatever_the_batch() -> None:
    stage = _stage(fraction=0.3)
    whole = stage(_batch(REPOS)).column("drop_reason").to_pylist()
    parts = [v for start in range(0, len(REPOS), 37)
             for v in _stage(fraction=0.3)(_batch(REPOS[start:start + 37], start))
             .column("drop_reason").to_pylist()]  # fmt: skip
    assert parts == whole


def test_no_fraction_changes_nothing_and_keeps_fingerprints() -> None:
    batch = _batch(REPOS)
    assert _stage()(batch).column("drop_reason").equals(batch.column("drop_reason"))
    assert CurationConfig().fingerprint() == CurationConfig.from_dict(
        {"holdout": {"fraction": 0.0}}).fingerprint()  # fmt: skip
    assert CurationConfig().fingerprint() != CurationConfig.from_dict(
        {"holdout": {"fraction": 0.1}}).fingerprint()  # fmt: skip


@pytest.mark.parametrize("holdout", [{"fraction": 1.0}, {"fraction": -0.1}, {"side": "test"}])
def test_bad_holdout_names_the_field(holdout: dict) -> None:
    with pytest.raises(ConfigError, match="holdout"):
        CurationConfig.from_dict({"holdout": holdout})
