"""A tiny model trained for real, shared by the generation, evaluation and export tests.

A 600-piece SentencePiece tokenizer (our code settings) is trained on click's and typer's
sources and numpy's C headers; shards of those files in its ids feed 40 ZeRO-2 steps of the
"tiny" MPT on one CPU rank. The run folder holds what `codecorpus train` leaves: checkpoints,
lineage.json and tokenizer.model.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest

from tests.trainer.test_data import _chunks, _texts

VOCAB = 600
SEQ_LEN = 64


@dataclass
class TinyRun:
    run_dir: Path
    validation: dict[str, list[str]]
    """Validation shard prefixes per language."""
    texts: dict[str, list[str]]
    """The validation documents (text) per language, in shard order."""
    spec: Any
    """The trainer.data.MixtureSpec it trained on."""
    tokenizer_bytes: bytes


def _python_texts() -> list[str]:
    paths = sorted(Path(click.__file__).parent.glob("*.py"))
    typer_dir = Path(importlib.util.find_spec("typer").origin).parent
    paths += sorted(typer_dir.glob("*.py"))
    return [p.read_text(errors="replace") for p in paths]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    pytest.importorskip("deepspeed", reason="the [train] extra is not installed")
    from tokenizer.config import TokenizerConfig
    from tokenizer.shards import ShardWriter
    from tokenizer.train import train_tokenizer
    from trainer.data import ComponentSpec, MixtureSpec, ShardRef
    from trainer.loading import write_lineage
    from trainer.train import train
    from trainer.train_config import TrainConfig

    root = tmp_path_factory.mktemp("tiny_run")
    texts = {"Python": _python_texts(), "C": _texts("c")}
    pairs = [(lang, t) for lang, items in texts.items() for t in items]
    trained = train_tokenizer(pairs, TokenizerConfig(vocab_size=VOCAB, num_threads=1))
    tok = trained.load()
    components, validation, held_out = [], {}, {}
    for lang, items in texts.items():
        docs = [c.decode(errors="ignore") for t in items for c in _chunks(t, 1500)]
        split = max(4, len(docs) // 10)
        held_out[lang] = docs[:split]
        for part, chunk in (("train", docs[split:]), ("validation", docs[:split])):
            with ShardWriter(root / part, lang, VOCAB, tok.eod_id, target_bytes=1 << 20) as w:
                for ids in tok.encode_batch(chunk):
                    w.add(ids)
            if part == "train":
                refs = tuple(ShardRef(s.prefix, s.bin_sha256, s.idx_sha256) for s in w.shards)
                components.append(ComponentSpec(lang, 1.0, refs))
            else:
                validation[lang] = [s.prefix for s in w.shards]
    spec = MixtureSpec(tuple(components), 60_000, SEQ_LEN, seed=1)
    run_dir = root / "run"
    config = TrainConfig(
        model="tiny", seq_len=SEQ_LEN, micro_batch=8, grad_accum=1, max_steps=40, lr=3e-3,
        schedule={"warmup_steps": 2}, eval_windows=8, progress=False, zero_stage=2,
        run_dir=run_dir, model_overrides={"vocab_size": VOCAB},
    )  # fmt: skip
    result = train(config, spec, validation)
    assert result.losses[-1] < result.losses[0]
    lineage = {"dataset": "fixture", "version": "v1", "mixture": "m" * 32,
               "tokenizer": trained.sha256, "validation": validation}  # fmt: skip
    write_lineage(run_dir, lineage, trained.model_bytes)
    assert np.isfinite(result.val_loss)
    return TinyRun(run_dir, validation, held_out, spec, trained.model_bytes)
