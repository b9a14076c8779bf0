"""The lookup index in Redis (a private redis-server): same answers as in memory, 'unavailable'
while Redis is down and served again, without a rebuild, once it is back with its data;
a failed build publishes nothing."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dedup.index import Entry, MemoryIndex
from dedup.index_redis import IndexExists, IndexUnavailable, RedisIndex
from tests.dedup.redis_server import RedisServer
from tests.dedup.test_index import PARAMS
from tests.dedup.vendored import vendored_pairs

ROOT = "codecorpus:lookup:test:v1"


@pytest.fixture(scope="module")
def data() -> tuple[list[Entry], np.ndarray, list[str]]:
    pairs = vendored_pairs()
    originals = list(dict.fromkeys(a for _, a, _ in pairs))
    entries = [
        Entry(f"{i:032x}", f"repo{i % 5}", f"f{i}", hashlib.sha256(t.encode()).hexdigest(), None)
        for i, t in enumerate(originals)
    ]
    signatures, _ = PARAMS.hasher().signatures(originals)
    return entries, signatures, [c for _, _, c in pairs]


@pytest.fixture
def server(tmp_path: Path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop(save=False)


def _build(server, data, root=ROOT, **kw) -> RedisIndex:
    entries, signatures, _ = data
    rows = np.arange(len(entries))
    return RedisIndex.build(
        server.url, root, PARAMS, {"files": len(entries)}, entries, rows, signatures, **kw
    )


def test_same_answers_as_in_memory(server, data) -> None:
    entries, signatures, copies = data
    index = _build(server, data)
    memory = MemoryIndex.build(PARAMS, {}, entries, np.arange(len(entries)), signatures)
    queries, _ = PARAMS.hasher().signatures(copies[:60])
    for q in queries:
        assert index.near(q, 0.7) == memory.near(q, 0.7)
    assert index.exact(entries[4].sha256) == memory.exact(entries[4].sha256)
    assert index.repo("repo1") == memory.repo("repo1")
    assert RedisIndex.open(server.url, ROOT).manifest["signatures"] == index.manifest["signatures"]
    with pytest.raises(IndexExists, match="immutable"):
        _build(server, data)


def test_down_then_restarted_serves_again_without_rebuild(server, data) -> None:
    _, signatures, _ = data
    index = _build(server, data)
    before = index.near(signatures[7], 0.7)
    assert before
    server.stop(save=True)
    with pytest.raises(IndexUnavailable, match="cannot be reached"):
        index.near(signatures[7], 0.7)
    with pytest.raises(IndexUnavailable):
        index.check()
    server.start()  # reloads its dump: the index is back
    index.check()
    assert index.near(signatures[7], 0.7) == before


def test_restarted_empty_is_unavailable_not_wrong(server, data) -> None:
    index = _build(server, data)
    server.stop(save=False)
    server.start()  # came back without its data
    with pytest.raises(IndexUnavailable, match="no longer holds"):
        index.check()
    assert RedisIndex.open(server.url, ROOT) is None


def test_a_failed_build_leaves_nothing_visible(server, data) -> None:
    import redis

    entries, signatures, _ = data
    with pytest.raises(IndexError):  # rows name entries that do not exist: fails half way
        RedisIndex.build(
            server.url, ROOT, PARAMS, {}, entries[:10], np.arange(len(entries)), signatures
        )
    assert RedisIndex.open(server.url, ROOT) is None
    assert list(redis.Redis.from_url(server.url).scan_iter(match=f"{ROOT}*")) == []


def test_unreachable_redis_is_unavailable(data, tmp_path) -> None:
    dead = RedisServer(tmp_path)  # a free port where nothing listens
    with pytest.raises(IndexUnavailable, match="cannot be reached"):
        RedisIndex.open(dead.url, ROOT)


def test_signatures_of_matches_the_memory_index(server, data) -> None:
    """One round trip for a batch larger than the script's chunk: the stored rows of known
    content hashes, not found for unknown ones, as the in-process index answers."""
    entries, signatures, _ = data
    index = _build(server, data)
    memory = MemoryIndex.build(PARAMS, {}, entries, np.arange(len(entries)), signatures)
    known = [e.sha256 for e in entries]
    unknown = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5)]
    asked = [*unknown[:2], *known, known[3], *unknown[2:]] * 30  # > BATCH hashes
    found, rows = index.signatures_of(asked)
    expected_found, expected_rows = memory.signatures_of(asked)
    assert found.sum() == (len(known) + 1) * 30 and not found[:2].any()
    np.testing.assert_array_equal(found, expected_found)
    np.testing.assert_array_equal(rows, expected_rows)
    assert index.manifest["sha_signatures"] == memory.manifest["sha_signatures"]
    assert index.signatures_of([])[1].shape == (0, PARAMS.num_perm)
