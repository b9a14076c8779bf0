"""The lookup index over real files: recall on vendored near-duplicates, agreement with dedup's
band keys, exact matches, persistence."""

import hashlib

import numpy as np
import pytest

from dedup.config import DedupConfig
from dedup.index import Entry, IndexParams, LookupIndexError, MemoryIndex
from dedup.lsh import band_keys
from dedup.minhash import reference_shingles
from tests.dedup.vendored import vendored_pairs

PARAMS = IndexParams.from_config(DedupConfig())


def exact_jaccard(a: str, b: str, ngram: int = 5) -> float:
    x, y = reference_shingles(a, ngram), reference_shingles(b, ngram)
    return len(x & y) / len(x | y) if x | y else 1.0


@pytest.fixture(scope="module")
def corpus() -> tuple[list[tuple[str, str, str]], MemoryIndex, np.ndarray]:
    """The library side of each vendored pair is indexed; the vendored copies are held out."""
    pairs = vendored_pairs()
    assert len(pairs) >= 100, "expected pip's and setuptools' vendored libraries to be installed"
    originals = list(dict.fromkeys(a for _, a, _ in pairs))
    entries = [
        Entry(f"{i:032x}", "site-packages", f"file{i}", hashlib.sha256(t.encode()).hexdigest(),
              None)
        for i, t in enumerate(originals)
    ]  # fmt: skip
    signatures, _ = PARAMS.hasher().signatures(originals)
    index = MemoryIndex.build(PARAMS, {"format": 1}, entries, np.arange(len(entries)), signatures)
    return pairs, index, signatures


def test_recall_on_held_out_vendored_copies(corpus) -> None:
    pairs, index, _ = corpus
    hasher = PARAMS.hasher()
    originals = list(dict.fromkeys(a for _, a, _ in pairs))
    found = positives = 0
    for _, original, copy in pairs:
        truth = exact_jaccard(original, copy)
        if truth < PARAMS.threshold:
            continue
        positives += 1
        signature = hasher.signatures([copy])[0][0]
        wanted = f"{originals.index(original):032x}"
        found += any(m.entry.file_id == wanted for m in index.near(signature, PARAMS.threshold))
    recall = found / positives
    print(f"recall {recall:.3f} over {positives} pairs with exact Jaccard >= 0.7")
    assert positives >= 100
    assert recall >= 0.95


def test_candidates_are_the_pairs_dedup_band_keys_join(corpus) -> None:
    """datasketch's bands over our hashvalues are dedup's persisted band keys."""
    _, index, signatures = corpus
    keys = band_keys(signatures, PARAMS.bands, PARAMS.rows)
    for j in range(0, len(signatures), 7):
        shared = np.flatnonzero((keys == keys[j][None, :]).any(axis=1))
        assert sorted(index.lsh.query(index.lsh_sketch(signatures[j]))) == sorted(shared.tolist())


def test_fast_candidates_are_datasketch_query(corpus) -> None:
    """The index's own loop over datasketch's hash tables answers what `MinHashLSH.query` does,
    for indexed signatures, held-out copies and a signature nothing shares."""
    pairs, index, signatures = corpus
    copies = PARAMS.hasher().signatures([c for _, _, c in pairs])[0]
    probes = [*signatures, *copies, np.arange(PARAMS.num_perm, dtype=np.uint32)]
    for signature in probes:
        expected = sorted(index.lsh.query(index.lsh_sketch(signature)))
        assert sorted(index.candidates(signature)) == expected
    assert any(len(index.candidates(s)) > 1 for s in copies)


def test_limited_near_ranks_like_the_full_answer(corpus) -> None:
    """`near(..., limit)` makes fewer matches but its first `limit` are the full answer's, ties at
    the cut included: copies of one real file, a dozen identical (estimate 1.0) and a dozen
    with one line dropped each, under shuffled file ids."""
    pairs, _, _ = corpus
    lines = max((a for _, a, _ in pairs), key=len).splitlines()
    texts = ["\n".join(lines)] * 12
    texts += ["\n".join(x for i, x in enumerate(lines) if i != k) for k in range(0, 120, 10)]
    ids = list(range(len(texts)))
    np.random.default_rng(3).shuffle(ids)
    entries = [Entry(f"{i:032x}", "r", f"f{i}", None, None) for i in ids]
    signatures, _ = PARAMS.hasher().signatures(texts)
    index = MemoryIndex.build(PARAMS, {}, entries, np.arange(len(texts)), signatures)
    query = signatures[0]
    full = index.near(query, PARAMS.threshold)
    assert len(full) == len(texts)
    for limit in (1, 5, 12, 13, 20, 30):
        limited = index.near(query, PARAMS.threshold, limit)
        assert limited[:limit] == full[:limit]
    assert len(index.near(query, PARAMS.threshold, 13)) < len(full)


def test_exact_match_and_unrelated_text(corpus) -> None:
    pairs, index, _ = corpus
    original = pairs[0][1]
    sha = hashlib.sha256(original.encode()).hexdigest()
    assert [e.sha256 for e in index.exact(sha)] == [sha]
    noise = " ".join(f"token{i} other{i * 7}" for i in range(400))
    assert index.near(PARAMS.hasher().signatures([noise])[0][0], PARAMS.threshold) == []
    assert index.near(PARAMS.hasher().signatures(["too short"])[0][0], 0.0) == []


def test_round_trip_and_format_check(corpus) -> None:
    _, index, signatures = corpus
    again = MemoryIndex.loads(index.dumps())
    assert again.manifest["signatures"] == index.manifest["signatures"] == len(signatures)
    assert again.near(signatures[3], 0.7) == index.near(signatures[3], 0.7)
    again.manifest = {**again.manifest, "format": 0}
    with pytest.raises(LookupIndexError, match="rebuild"):
        MemoryIndex.loads(again.dumps())


def test_signatures_of_known_and_unknown_hashes(corpus) -> None:
    """The batched query incremental dedup asks: stored rows for indexed content hashes, in
    the order asked, repeats included; not found (zero rows) for anything else."""
    _, index, signatures = corpus
    shas = [e.sha256 for e in index.candidate_entries]
    asked = [shas[5], "0" * 64, shas[0], shas[5], hashlib.sha256(b"never indexed").hexdigest()]
    found, rows = MemoryIndex.loads(index.dumps()).signatures_of(asked)
    assert found.tolist() == [True, False, True, True, False]
    assert rows.dtype == np.uint32 and rows.shape == (5, PARAMS.num_perm)
    np.testing.assert_array_equal(rows[[0, 2, 3]], signatures[[5, 0, 5]])
    assert not rows[[1, 4]].any()
    assert index.manifest["sha_signatures"] == len(set(shas))
    empty = index.signatures_of([])
    assert empty[0].shape == (0,) and empty[1].shape == (0, PARAMS.num_perm)


def test_signatures_of_skips_short_files_and_takes_the_first_copy() -> None:
    texts = ["def f(x):\n    return x + 1\n" * 20, "short", "class A:\n    pass\n" * 30]
    signatures, _ = PARAMS.hasher().signatures(texts)
    sha = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    entries = [Entry(f"{i:032x}", "r", f"f{i}", s, None) for i, s in enumerate(sha)]
    entries.append(Entry(f"{9:032x}", "r", "copy", sha[0], None))  # exact=False: a repeat
    rows = np.arange(4)
    index = MemoryIndex.build(PARAMS, {}, entries, rows, np.vstack([signatures, signatures[:1]]))
    found, stored = index.signatures_of(sha)
    assert found.tolist() == [True, False, True]  # "short" has no shingles: not a candidate
    np.testing.assert_array_equal(stored[[0, 2]], signatures[[0, 2]])
    assert index.manifest["sha_signatures"] == 2
