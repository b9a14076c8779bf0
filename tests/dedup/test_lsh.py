"""Banding for recall, star edges, capped buckets, stable band keys, config errors."""

import logging

import numpy as np
import pytest

from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from dedup.config import DedupConfig, candidate_probability, choose_bands
from dedup.lsh import band_keys, star_edges


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.85])
def test_bands_favour_recall_at_the_threshold(threshold: float) -> None:
    bands, rows = choose_bands(threshold, 256, 0.99)
    assert bands * rows <= 256
    assert candidate_probability(threshold, bands, rows) >= 0.99
    # datasketch's equal-weight choice for 0.7 (25 x 10) misses about half the pairs
    assert candidate_probability(0.7, 25, 10) < 0.6


def test_default_config_is_fingerprinted_with_its_bands() -> None:
    config = DedupConfig()
    assert (config.bands, config.rows) == (42, 6)
    base = CurationConfig()
    stricter = CurationConfig.from_dict({"dedup": {"threshold": 0.8}})
    assert base.fingerprint() != stricter.fingerprint()
    # derived fields survive a round trip through the stored config
    assert CurationConfig.from_dict(base.to_dict()) == base


@pytest.mark.parametrize(
    "field, value", [("threshold", 1.5), ("num_perm", 8), ("ngram", 0), ("max_bucket", 1)]
)
def test_bad_settings_name_the_field(field: str, value) -> None:
    with pytest.raises(ConfigError, match=f"dedup.{field}"):
        DedupConfig(**{field: value})


def test_star_edges_link_each_member_to_the_smallest_id() -> None:
    keys = np.array([7, 7, 7, 3, 9, 9], dtype=np.uint64)
    ids = np.array([30, 10, 20, 5, 2, 1])
    u, v, capped, _ = star_edges(keys, ids, max_bucket=100)
    assert sorted(zip(u.tolist(), v.tolist(), strict=True)) == [(1, 2), (10, 20), (10, 30)]
    assert capped == 0


def test_second_star_links_members_when_the_head_is_an_outlier() -> None:
    keys = np.array([7, 7, 7, 7], dtype=np.uint64)
    ids = np.array([0, 1, 2, 3])
    u, v, _, _ = star_edges(keys, ids, max_bucket=100, stars=2)
    edges = sorted(zip(u.tolist(), v.tolist(), strict=True))
    assert edges == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]  # 2(k - 1) - 1, not k(k-1)/2


def test_oversized_buckets_are_capped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    keys = np.zeros(50, dtype=np.uint64)
    ids = np.arange(50)[::-1].copy()
    with caplog.at_level(logging.WARNING):
        u, v, capped, dropped = star_edges(keys, ids, max_bucket=10)
    assert (capped, dropped) == (1, 40)
    assert u.tolist() == [0] * 9 and v.tolist() == list(range(1, 10))
    assert "capped" in caplog.text


def test_band_keys_are_stable_values() -> None:
    signatures = np.arange(2 * 12, dtype=np.uint32).reshape(2, 12)
    keys = band_keys(signatures, bands=3, rows=4)
    assert keys.shape == (2, 3) and keys.dtype == np.uint64
    # persisted with versions: a change here breaks incremental dedup against old versions
    assert int(keys[0, 0]) == 15557596745150802233
    assert len(set(keys.ravel().tolist())) == 6
