"""The mixture data loader on real shards: exact tokens and epochs, proportions, subsets,
determinism, resumption, rank sharding, packing, validation windows and clear errors.

Shards hold the bytes of real files of installed packages as token ids (vocabulary 300,
end-of-document 257): Python (click), C headers (numpy) and package metadata (Markdown-ish).
"""

import importlib.metadata
import math
from pathlib import Path

import click
import numpy as np
import pytest

from corpus.core.errors import ConfigError
from corpus.store.mixtures import Component, Mixture
from tokenizer.shards import ShardReader, ShardWriter
from trainer.data import (
    ChecksumMismatch,
    ComponentSpec,
    DataError,
    DocumentOrder,
    MissingShardError,
    MixtureLoader,
    MixtureSpec,
    ShardRef,
    validation_windows,
)

EOD = 257
SEQ_LEN = 63  # windows of 64 tokens
WEIGHTS = {"python": 5, "c": 3, "markdown": 2}
TOKENS = 400_000  # D_i = 200k, 120k, 80k: exact, and 6250 windows of 64


def _chunks(text: str, max_bytes: int) -> list[bytes]:
    """Consecutive line-aligned pieces of at most max_bytes (longer lines are cut)."""
    out, current = [], b""
    for line in text.encode().splitlines(keepends=True):
        if current and len(current) + len(line) > max_bytes:
            out.append(current)
            current = b""
        current += line[:max_bytes]
    return [*out, current] if current else out


def _texts(language: str) -> list[str]:
    if language == "python":
        paths = sorted(Path(click.__file__).parent.glob("*.py"))
    elif language == "c":
        paths = sorted((Path(np.__file__).parent / "_core" / "include" / "numpy").glob("*.h"))
    else:
        dists = sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"])
        return [t for d in dists if (t := d.read_text("METADATA"))][:60]
    return [p.read_text(errors="replace") for p in paths]


def _write(directory: Path, language: str, texts: list[str], max_docs: int, target: int):
    docs = [c for t in texts for c in _chunks(t, 400)][:max_docs]
    with ShardWriter(directory, language, vocab_size=300, eod_id=EOD, target_bytes=target) as w:
        for doc in docs:
            w.add(list(doc))
    return w.shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """language -> (train ShardInfos, validation ShardInfos)."""
    root = tmp_path_factory.mktemp("shards")
    out = {}
    for language in WEIGHTS:
        texts = _texts(language)
        assert len(texts) >= 10, f"expected installed files for {language}"
        train = _write(root / "train", language, texts[1:], 150, 16_000)
        validation = _write(root / "validation", language, texts[:1], 40, 4_000)
        out[language] = (train, validation)
    return out


def _spec(shards, tokens=TOKENS, seed=0, budgets=None, weights=WEIGHTS, seq_len=SEQ_LEN):
    components = tuple(
        ComponentSpec(
            lang,
            weight,
            tuple(ShardRef(s.prefix, s.bin_sha256, s.idx_sha256) for s in shards[lang][0]),
            (budgets or {}).get(lang),
        )
        for lang, weight in weights.items()
    )
    return MixtureSpec(components, tokens, seq_len, seed)


@pytest.fixture(scope="module")
def order(shards):
    return DocumentOrder(_spec(shards))


def _documents(order: DocumentOrder, rows) -> list[np.ndarray]:
    """Documents read straight from the shards with ShardReader, not through the order."""
    return [
        ShardReader(order.readers[order.doc_shard[r]].prefix)[int(order.doc_index[r])] for r in rows
    ]


def test_tokens_and_epochs_per_language_are_exact(order):
    assert order.targets == {"python": 200_000, "c": 120_000, "markdown": 80_000}
    _check_exact(order)


def _check_exact(order: DocumentOrder) -> None:
    assert order.total_tokens == TOKENS
    assert order.tokens_by_language(0, TOKENS) == order.targets
    for i, lang in enumerate(order.languages):
        mine = order.language == i
        assert int(order.length[mine].sum()) == order.targets[lang]
        rows = np.flatnonzero(order.doc_language == i)
        assert order.unique[lang] == int(order.doc_length[rows].sum())
        epochs = order.epochs_per_language[lang]
        assert epochs == order.targets[lang] / order.unique[lang]
        assert epochs > 1.5  # every language repeats
        # Each document is read floor(epochs) times, or once more in the partial last pass.
        seen = np.bincount(order.doc[mine], minlength=len(order.doc_length))[rows]
        assert set(seen.tolist()) == {math.floor(epochs), math.floor(epochs) + 1}
        extra = int(order.doc_length[rows][seen > math.floor(epochs)].sum())
        partial = order.targets[lang] - math.floor(epochs) * order.unique[lang]
        assert 0 <= extra - partial < int(order.doc_length.max())  # only the last one is cut
        # Every full pass reads every document once.
        passes = order.doc[mine][: math.floor(epochs) * len(rows)].reshape(-1, len(rows))
        assert all(sorted(p.tolist()) == rows.tolist() for p in passes)
        assert len({tuple(p.tolist()) for p in passes}) == len(passes)  # each its own shuffle
    cut = order.length != order.doc_length[order.doc]
    assert int(cut.sum()) <= len(order.languages)


def test_proportions_hold_along_the_run(order):
    longest = int(order.doc_length.max())
    weights = np.array([WEIGHTS[lang] for lang in order.languages]) / sum(WEIGHTS.values())
    for k in range(1, 101):
        prefix = TOKENS * k // 100
        got = np.array(list(order.tokens_by_language(0, prefix).values()))
        assert got.sum() == prefix
        # Within one document per language of the weight, in every prefix.
        assert np.all(np.abs(got - weights * prefix) <= len(weights) * longest)
        if k % 10 == 0:
            assert np.all(np.abs(got / prefix - weights) < 0.01), (k, got / prefix)


def test_windows_pack_the_stream(shards, order):
    spec = _spec(shards)
    loader = MixtureLoader(spec, batch_size=5, order=order)
    assert len(loader) == TOKENS // 64 // 5 and loader.unused_tokens == 0
    batches = list(loader)
    assert len(batches) == len(loader) and loader.step == len(loader)
    assert all(b.shape == (5, 64) and b.dtype == np.int64 for b in batches)
    stream = np.concatenate(batches).reshape(-1)
    # The stream is the documents in order, each whole but for a language's cut last one.
    expected = np.concatenate(
        [d[:n] for d, n in zip(_documents(order, order.doc), order.length, strict=True)]
    )
    assert np.array_equal(stream, expected)
    assert int((stream == EOD).sum()) == int((order.length == order.doc_length[order.doc]).sum())
    with pytest.raises(IndexError):
        loader.batch(len(loader))


def test_unique_budget_subset(shards):
    budget = 15_000
    first = DocumentOrder(_spec(shards, budgets={"python": budget}))
    again = DocumentOrder(_spec(shards, budgets={"python": budget}))
    rows = np.flatnonzero(first.doc_language == 0)
    assert np.array_equal(first.doc_index[rows], again.doc_index[rows])
    assert np.array_equal(first.doc_shard[rows], again.doc_shard[rows])
    lengths = first.doc_length[rows]
    assert budget <= first.unique["python"] < budget + int(lengths.max())
    assert first.epochs_per_language["python"] == 200_000 / first.unique["python"]
    assert first.epochs_per_language["python"] > 10
    _check_exact(first)
    # Drawn from every shard, not the first ones; the other languages keep all documents.
    assert len(set(first.doc_shard[rows].tolist())) > 3
    full = DocumentOrder(_spec(shards))
    assert first.unique["c"] == full.unique["c"]
    # Nested: a smaller budget is a subset of a larger one; another seed picks another subset.
    smaller = DocumentOrder(_spec(shards, budgets={"python": 8_000}))

    def chosen(o):
        r = np.flatnonzero(o.doc_language == 0)
        return {
            (o.readers[s].prefix, int(i))
            for s, i in zip(o.doc_shard[r], o.doc_index[r], strict=True)
        }

    assert chosen(smaller) < chosen(first)
    assert not np.array_equal(smaller.doc, first.doc)
    assert chosen(DocumentOrder(_spec(shards, seed=1, budgets={"python": budget}))) != chosen(first)


def test_determinism_by_seed(shards, order):
    same = MixtureLoader(_spec(shards), 4)
    reused = MixtureLoader(_spec(shards), 4, order=order)
    other = MixtureLoader(_spec(shards, seed=7), 4)
    for step in (0, 1, 500):
        assert np.array_equal(same.batch(step), reused.batch(step))
    assert not np.array_equal(same.batch(0), other.batch(0))
    # Another seed reorders the same documents the same number of times.
    a, b = same.order, other.order
    assert not np.array_equal(a.doc, b.doc)
    assert a.targets == b.targets and a.unique == b.unique


def test_resume_gives_the_uninterrupted_batches(shards, order):
    spec = _spec(shards)
    uninterrupted = list(MixtureLoader(spec, 3, rank=1, world_size=2, order=order))
    first = MixtureLoader(spec, 3, rank=1, world_size=2, order=order)
    for _, _ in zip(range(17), first, strict=False):
        pass
    state = first.state_dict()
    assert state["step"] == 17
    resumed = MixtureLoader(spec, 3, rank=1, world_size=2)  # order built afresh
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == len(uninterrupted) - 17
    assert all(np.array_equal(x, y) for x, y in zip(rest, uninterrupted[17:], strict=True))
    with pytest.raises(ConfigError, match="batch_size"):
        MixtureLoader(spec, 4, rank=1, world_size=2, order=order).load_state_dict(state)
    with pytest.raises(ConfigError, match="fingerprint"):
        MixtureLoader(_spec(shards, seed=3), 3, world_size=2).load_state_dict(state)


def test_ranks_split_the_windows(shards, order):
    spec = _spec(shards)
    one = MixtureLoader(spec, 4, order=order)
    ranks = [MixtureLoader(spec, 2, rank=r, world_size=2, order=order) for r in (0, 1)]
    assert len(one) == len(ranks[0]) == len(ranks[1])
    for step in (0, 9, len(one) - 1):
        windows = [set(r.window_indices(step).tolist()) for r in ranks]
        assert not windows[0] & windows[1]
        assert windows[0] | windows[1] == set(one.window_indices(step).tolist())
        got = {tuple(row) for r in ranks for row in r.batch(step).tolist()}
        assert got == {tuple(row) for row in one.batch(step).tolist()}


def test_validation_windows(shards):
    prefixes = {lang: [s.prefix for s in shards[lang][1]] for lang in WEIGHTS}
    windows = validation_windows(prefixes, 31, max_windows=20)
    assert list(windows) == list(WEIGHTS)
    again = validation_windows(dict(reversed(prefixes.items())), 31, max_windows=20)
    for lang, got in windows.items():
        stream = np.concatenate([ShardReader(p).tokens for p in prefixes[lang]]).astype(np.int64)
        available = len(stream) // 32
        assert available > 20 and got.shape == (20, 32) and got.dtype == np.int64
        assert np.array_equal(got, again[lang])
        everything = stream[: available * 32].reshape(-1, 32)
        assert np.array_equal(validation_windows({lang: prefixes[lang]}, 31)[lang], everything)
        picks = (np.arange(20) * available) // 20
        assert np.array_equal(got, everything[picks])
    tiny = validation_windows({"c": prefixes["c"]}, 1_000_000)["c"]
    assert tiny.shape == (0, 1_000_001)


def test_from_mixture_and_checksums(shards, tmp_path):
    components = []
    for lang, weight in WEIGHTS.items():
        infos = shards[lang][0]
        unique = sum(s.content_tokens for s in infos)
        tokens = round(TOKENS * weight / 10)
        components.append(
            Component(
                lang, weight / 10, unique, tokens, tokens / unique, [s.to_dict() for s in infos]
            )
        )
    mixture = Mixture("m", "ds", "v1", "tok", {k: float(v) for k, v in WEIGHTS.items()}, TOKENS)
    mixture.components = components
    spec = MixtureSpec.from_mixture(mixture, SEQ_LEN, seed=0, verify=True)
    assert spec.token_targets() == {c.lang: c.tokens for c in components}
    assert spec.fingerprint() == _spec(shards).fingerprint()
    budgeted = MixtureSpec.from_mixture(mixture, SEQ_LEN, unique_budget={"c": 5_000})
    assert [c.unique_budget for c in budgeted.components] == [None, 5_000, None]
    with pytest.raises(ConfigError, match="cobol"):
        MixtureSpec.from_mixture(mixture, SEQ_LEN, unique_budget={"cobol": 5})
    # Pulled elsewhere: found by file name under shard_root; a corrupt copy is named.
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    for lang in WEIGHTS:
        for s in shards[lang][0]:
            for ext in ("bin", "idx"):
                (pulled / f"{Path(s.prefix).name}.{ext}").write_bytes(
                    Path(f"{s.prefix}.{ext}").read_bytes()
                )
    moved = MixtureSpec.from_mixture(mixture, SEQ_LEN, shard_root=pulled, verify=True)
    assert moved.fingerprint() == spec.fingerprint()  # the folder does not matter
    assert MixtureSpec.from_mixture(mixture, SEQ_LEN, seed=1).fingerprint() != spec.fingerprint()
    victim = pulled / f"{Path(shards['c'][0][1].prefix).name}.bin"
    data = bytearray(victim.read_bytes())
    data[10] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match=victim.name):
        MixtureSpec.from_mixture(mixture, SEQ_LEN, shard_root=pulled, verify=True)
    victim.unlink()
    with pytest.raises(MissingShardError, match=victim.name):
        DocumentOrder(MixtureSpec.from_mixture(mixture, SEQ_LEN, shard_root=pulled))


def test_clear_errors(shards):
    python = _spec(shards).components[0]
    with pytest.raises(ConfigError, match="empty"):
        MixtureSpec((), TOKENS, SEQ_LEN)
    for weight in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="weight"):
            ComponentSpec("python", weight, python.shards)
    with pytest.raises(ConfigError, match="seq_len"):
        MixtureSpec((python,), TOKENS, 1)
    with pytest.raises(ConfigError, match="tokens"):
        MixtureSpec((python,), 0, SEQ_LEN)
    with pytest.raises(ConfigError, match="once"):
        MixtureSpec((python, python), TOKENS, SEQ_LEN)
    with pytest.raises(ConfigError, match="no shards"):
        ComponentSpec("python", 1, ())
    with pytest.raises(MissingShardError, match=r"nowhere-00000\.bin"):
        DocumentOrder(MixtureSpec((ComponentSpec("go", 1, ("/nowhere-00000",)),), 10, SEQ_LEN))
    with pytest.raises(DataError, match="unique_budget of 'python'"):
        DocumentOrder(_spec(shards, budgets={"python": 10**9}))
    with pytest.raises(DataError, match="global batch"):
        MixtureLoader(_spec(shards, tokens=1_000), batch_size=32)
    with pytest.raises(ConfigError, match="rank"):
        MixtureLoader(_spec(shards), 4, rank=2, world_size=2)
    with pytest.raises(ConfigError, match="seq_len"):
        validation_windows({"c": []}, 1)


def test_to_torch(order, shards):
    torch = pytest.importorskip("torch")
    from trainer.data import to_torch

    batch = MixtureLoader(_spec(shards), 2, order=order).batch(3)
    inputs, targets = to_torch(batch)
    assert inputs.shape == targets.shape == (2, SEQ_LEN) and inputs.dtype == torch.int64
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
