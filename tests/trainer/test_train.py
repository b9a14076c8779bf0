"""DeepSpeed ZeRO training of the tiny model on 2 CPU ranks (gloo) over real shards.

The shards hold real files of installed packages as byte ids (test_data's fixtures). All the
2-rank runs share one start of the two processes (importing torch and DeepSpeed dominates):
ZeRO-1/2/3 with AdamW, an uninterrupted run and the same run stopped and resumed, LionW, and
continued pre-training from a checkpoint.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from tests.trainer.test_data import WEIGHTS, _texts, _write
from trainer.data import ComponentSpec, MixtureLoader, MixtureSpec, ShardRef
from trainer.launch import run_local_jobs
from trainer.train_config import TrainConfig

pytestmark = pytest.mark.slow
pytest.importorskip("deepspeed", reason="training needs the [train] extra (torch, DeepSpeed)")

SEQ_LEN = 32
STEPS = 4
#: 2 ranks x 2 windows x 2 micro-batches = 8 windows of 33 tokens per step.
BASE = dict(
    model="tiny", seq_len=SEQ_LEN, micro_batch=2, grad_accum=2, max_steps=STEPS, lr=2e-3,
    weight_decay=1e-4, schedule={"warmup_steps": 1}, eval_windows=6, progress=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(mixture spec, validation prefixes per language)."""
    root = tmp_path_factory.mktemp("train_shards")
    components, validation = [], {}
    for language, weight in WEIGHTS.items():
        texts = _texts(language)
        train = _write(root / "train", language, texts[1:], 60, 8_000)
        held_out = _write(root / "validation", language, texts[:1], 20, 4_000)
        refs = tuple(ShardRef(s.prefix, s.bin_sha256, s.idx_sha256) for s in train)
        components.append(ComponentSpec(language, weight, refs))
        validation[language] = [s.prefix for s in held_out]
    return MixtureSpec(tuple(components), 20_000, SEQ_LEN, seed=3), validation


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    spec, validation = data
    root = tmp_path_factory.mktemp("runs")
    resumable = dict(BASE, zero_stage=3, checkpoint_interval=1, keep_checkpoints=2)
    configs = {
        "zero1": TrainConfig(**BASE, zero_stage=1, peak_flops=1e11),
        "zero2": TrainConfig(**BASE, zero_stage=2),
        "zero3": TrainConfig(**BASE, zero_stage=3, run_dir=root / "zero3"),
        "stopped": TrainConfig(**resumable, run_dir=root / "resumed", stop_at=2),
        "resumed": TrainConfig(**resumable, run_dir=root / "resumed", resume=True),
        "lionw": TrainConfig(**dict(BASE, lr=3e-4), optimizer="lionw", zero_stage=2),
        "continued": TrainConfig(
            **dict(BASE, max_steps=2, schedule={"warmup_steps": 2, "warmup_from": 0.5}),
            zero_stage=1,
            init_from=root / "resumed" / "checkpoints",
        ),
    }
    jobs = [(config, spec, validation) for config in configs.values()]
    return dict(zip(configs, run_local_jobs(jobs, nproc=2), strict=True)), configs


def test_zero_stages_give_matching_losses(runs):
    results, _ = runs
    reference = results["zero1"]
    assert len(reference.losses) == STEPS and reference.steps == STEPS
    assert reference.losses[-1] < reference.losses[0] - 0.1  # it learns
    assert reference.world_size == 2
    for stage in ("zero2", "zero3"):
        assert results[stage].losses == pytest.approx(reference.losses, rel=1e-5, abs=0)
        assert results[stage].val_loss == pytest.approx(reference.val_loss, rel=1e-5)
    assert sorted(reference.val_loss_by_language) == sorted(WEIGHTS)
    for stage in ("zero1", "zero2", "zero3"):
        by_language = results[stage].val_loss_by_language
        assert min(by_language.values()) <= results[stage].val_loss <= max(by_language.values())


def test_tokens_throughput_mfu_and_lr(runs):
    results, configs = runs
    result = results["zero1"]
    assert result.tokens == STEPS * 8 * SEQ_LEN
    assert result.tokens_per_s > 0
    flops = configs["zero1"].model_config().flops_per_token(SEQ_LEN)
    assert result.mfu == pytest.approx(result.tokens_per_s * flops / (1e11 * 2))
    assert results["zero2"].mfu is None  # no peak known on CPU
    # cosine with one warmup step, min ratio 0.1, over 4 steps: 0.5, 1, 0.775, 0.325 of 2e-3
    assert result.lrs == pytest.approx([1e-3, 2e-3, 1.55e-3, 0.65e-3])


def test_metrics_are_logged_as_json_lines(runs):
    results, configs = runs
    run_dir = configs["zero3"].run_dir
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in steps] == results["zero3"].losses
    assert all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 for r in steps)
    assert steps[0]["grad_clip"] == pytest.approx(0.5)  # ramped with the warmup
    (final,) = [r for r in records if "val_loss" in r]
    assert final["val_loss"] == results["zero3"].val_loss
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["losses"] == results["zero3"].losses


def test_resume_gives_the_uninterrupted_losses(runs):
    results, configs = runs
    stopped, resumed, uninterrupted = results["stopped"], results["resumed"], results["zero3"]
    assert stopped.steps == 2 and stopped.total_steps == STEPS
    assert stopped.losses == uninterrupted.losses[:2]
    assert resumed.steps == STEPS
    assert resumed.losses == uninterrupted.losses  # bitwise: same weights, states, data
    assert resumed.lrs == uninterrupted.lrs
    assert resumed.val_loss == uninterrupted.val_loss
    checkpoints = configs["resumed"].checkpoint_path()
    kept = sorted(p.name for p in checkpoints.iterdir() if p.is_dir())
    assert kept == ["step00000003", "step00000004"]  # keep_checkpoints=2
    assert (checkpoints / "latest").read_text() == "step00000004"
    assert resumed.checkpoint == checkpoints / "step00000004"


def test_lionw_steps(runs):
    results, _ = runs
    lion, adam = results["lionw"], results["zero2"]
    assert all(math.isfinite(x) for x in lion.losses)
    assert lion.losses[-1] < lion.losses[0] - 0.1
    assert lion.losses[0] == pytest.approx(adam.losses[0], rel=1e-6)  # same weights, same data
    assert lion.losses[1:] != pytest.approx(adam.losses[1:], rel=1e-3)  # another update rule


def test_continued_pretraining_starts_from_the_checkpoint(runs, data):
    """The first loss of the continued run is the loss of the checkpoint's weights, and its
    LR re-warms from half the peak."""
    import torch

    from trainer.checkpoint import consolidated_weights
    from trainer.model import MPT

    results, configs = runs
    config = configs["continued"]
    model = MPT(replace(config.model_config(), attention="sdpa"))
    model.load_state_dict(consolidated_weights(config.init_from))
    spec, _ = data
    # Step 0 of both ranks: windows 0..7; equal token counts, so one mean is the step's loss.
    both = np.concatenate([MixtureLoader(spec, 4, rank, 2).batch(0) for rank in (0, 1)])
    with torch.no_grad():
        _, loss = model(torch.from_numpy(both[:, :-1]), torch.from_numpy(both[:, 1:]))
    continued = results["continued"]
    assert continued.losses[0] == pytest.approx(float(loss), rel=1e-5)
    assert continued.losses[0] < results["zero1"].losses[0] - 0.1  # trained weights
    assert continued.lrs == pytest.approx([2e-3 * (0.5 + 0.5 / 3), 2e-3 * (0.5 + 1 / 3)])


def test_one_rank_in_process_matches_two_ranks(runs, data, tmp_path):
    """As a sweep trial calls it: no launcher, so train() makes a world of one and removes it
    again; twice in a row in one process, with the same global batch as the 2-rank run."""
    import os

    import torch.distributed as dist

    from trainer.train import train

    spec, validation = data
    names = ("RANK", "WORLD_SIZE", "MASTER_PORT", "LOCAL_RANK", "DS_ACCELERATOR")
    env = {k: os.environ.get(k) for k in names}
    config = TrainConfig(**dict(BASE, grad_accum=4), zero_stage=1, run_dir=tmp_path / "one")
    first = train(config, spec, validation)
    assert not dist.is_initialized()
    assert {k: os.environ.get(k) for k in env} == env
    second = train(config, spec, validation)
    assert second.losses == first.losses and second.world_size == 1
    reference = runs[0]["zero1"]
    assert first.losses == pytest.approx(reference.losses, rel=1e-5, abs=0)
    assert first.val_loss == pytest.approx(reference.val_loss, rel=1e-5)
    assert first.tokens == reference.tokens
    other_seed = train(replace(config, seed=1, run_dir=None), spec)
    assert other_seed.losses[0] != first.losses[0]  # another initialisation


def test_bad_runs_fail_clearly(data, tmp_path):
    from corpus.core.errors import ConfigError
    from trainer.data import DataError
    from trainer.train import train

    spec, _ = data
    with pytest.raises(ConfigError, match="fill only 151 steps of 4 windows"):
        train(TrainConfig(**dict(BASE, max_steps=1000)), spec)
    with pytest.raises(DataError, match="outside the model's vocabulary of 200"):
        train(TrainConfig(**BASE, model_overrides={"vocab_size": 200}), spec)
    first = TrainConfig(**dict(BASE, max_steps=1), run_dir=tmp_path / "run")
    train(first, spec)
    with pytest.raises(ConfigError, match="another config"):
        train(TrainConfig(**dict(BASE, max_steps=1, lr=1e-3), run_dir=first.run_dir,
                          resume=True), spec)  # fmt: skip
    with pytest.raises(ConfigError, match=r"mixture must be a trainer\.data\.MixtureSpec"):
        train(first, {"python": 1.0})


def test_a_process_group_made_by_the_caller_is_used_and_kept(data):
    """As under Ray Train's TorchTrainer: torch.distributed is initialised before train()."""
    import deepspeed
    import torch.distributed as dist

    from trainer.distributed import free_port
    from trainer.train import train

    spec, _ = data
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1
    )
    try:
        result = train(TrainConfig(**dict(BASE, max_steps=1)), spec)
        assert dist.is_initialized()  # the caller's to tear down
        assert result.world_size == 1 and result.steps == 1
    finally:
        deepspeed.comm.destroy_process_group()  # also drops DeepSpeed's cached groups


def test_the_clipping_threshold_acts_on_the_updates(data):
    """A threshold far above the gradient norm changes nothing; one far below it changes the
    updates (AdamW sees each step's gradient rescaled to the threshold)."""
    from trainer.train import train

    spec, _ = data
    run = dict(BASE, max_steps=3, grad_accum=4, grad_clip_schedule="constant")
    free = train(TrainConfig(**dict(run, grad_clip=0.0)), spec).losses
    loose = train(TrainConfig(**dict(run, grad_clip=1e3)), spec).losses
    tight = train(TrainConfig(**dict(run, grad_clip=1e-4)), spec).losses
    assert loose == free
    assert tight[0] == free[0]  # the first loss is before any update
    assert abs(tight[2] - free[2]) > 1e-3


def test_no_compiler_is_a_clear_error(data, tmp_path):
    """DeepSpeed's CPU path JIT-builds a C++ op at start-up: without a compiler the run
    stops with a message that says so (a fresh process: built ops are cached per process)."""
    import os
    import subprocess
    import sys

    from trainer.launch import write_job

    spec, _ = data
    job = write_job(tmp_path / "job.json", TrainConfig(**dict(BASE, max_steps=1)), spec)
    env = {**os.environ, "CXX": "/bin/false"}
    done = subprocess.run([sys.executable, "-m", "trainer.train_main", "--job", str(job)],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "needs a working C++ compiler" in done.stderr
    assert "Traceback" not in done.stderr


def test_weight_decay_is_decoupled_and_spares_norms():
    """LLM Foundry's decoupled decay multiplies weights by 1 - wd * lr(t) / peak: the
    optimizers apply lr(t) * rate, so the rate is wd / peak; LayerNorm weights do not decay."""
    from trainer.distributed import param_groups
    from trainer.model import MPT

    config = TrainConfig(**dict(BASE, weight_decay=1e-5, lr=1e-4))
    model = MPT(config.model_config())
    decay, plain = param_groups(model, config)
    assert decay["weight_decay"] == pytest.approx(0.1) and plain["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("norm" in names[id(p)] for p in plain["params"])
    assert all(p.dim() == 2 for p in decay["params"])
    assert len(decay["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_a_two_rank_zero3_run_loads_for_generation(runs, data):
    """load_model consolidates the partitioned checkpoint: its validation loss is the run's,
    and cached decoding of it equals recomputing (trainer.generate)."""
    import torch
    import torch.nn.functional as F

    from trainer.data import validation_windows
    from trainer.generate import SamplingConfig, generate
    from trainer.loading import load_model

    results, configs = runs
    loaded = load_model(configs["zero3"].run_dir)
    assert loaded.step == STEPS and loaded.seq_len == SEQ_LEN
    _, validation = data
    total = count = 0.0
    with torch.no_grad():
        for windows in validation_windows(validation, SEQ_LEN, BASE["eval_windows"]).values():
            x = torch.from_numpy(windows)
            logits, _ = loaded.model(x[:, :-1])
            total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                           x[:, 1:].reshape(-1), reduction="sum"))  # fmt: skip
            count += x[:, 1:].numel()
    assert total / count == pytest.approx(results["zero3"].val_loss, rel=1e-5)
    prompt = [int(t) for t in validation_windows(validation, SEQ_LEN, 1)["python"][0][:10]]
    sampling = SamplingConfig(max_new_tokens=12, stop_at_eod=False)
    cached = generate(loaded.model, [prompt], sampling)[0].ids
    assert cached == generate(loaded.model, [prompt], sampling, use_cache=False)[0].ids
