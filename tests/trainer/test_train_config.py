"""TrainConfig validation, YAML loading and fingerprints; the DeepSpeed config it implies."""

import pytest

from corpus.core.errors import ConfigError
from trainer.distributed import World, deepspeed_config
from trainer.schedules import ScheduleConfig
from trainer.train_config import TrainConfig

CPU = World(rank=0, size=2, local_rank=0, cuda=False)
GPU = World(rank=0, size=8, local_rank=0, cuda=True)


def test_defaults_and_yaml(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(
        "model: tiny\nzero_stage: 3\noptimizer: lionw\nlr: 1.0e-4\nweight_decay: 1.0e-5\n"
        "schedule: {name: wsd, warmup_steps: 10, decay_fraction: 0.1}\n"
        "model_overrides: {vocab_size: 3000}\nmicro_batch: 4\ngrad_accum: 8\n"
    )
    config = TrainConfig.from_file(path)
    assert config.schedule == ScheduleConfig("wsd", warmup_steps=10, decay_fraction=0.1)
    assert config.betas_or_default() == (0.9, 0.99)  # Lion's default
    assert config.model_config().vocab_size == 3000
    assert config.model_config().max_seq_len == config.seq_len == 128
    assert TrainConfig.from_dict(config.to_dict()) == config  # round trip


def test_fingerprint_ignores_runtime_fields(tmp_path):
    config = TrainConfig()
    same = TrainConfig(run_dir=tmp_path, resume=True, stop_at=5, progress=False, peak_flops=1e12)
    assert same.fingerprint() == config.fingerprint()
    assert TrainConfig(lr=1e-3).fingerprint() != config.fingerprint()
    assert TrainConfig(schedule={"warmup_steps": 3}).fingerprint() != config.fingerprint()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "13b"}, "unknown model config '13b'"),
        ({"model_overrides": {"d_model": 65}}, "must divide model.d_model"),
        ({"model_overrides": {"heads": 2}}, "unknown model field"),
        ({"zero_stage": 0}, "zero_stage must be 1, 2 or 3"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"weight_decay": -0.1}, "weight_decay must be a non-negative"),
        ({"grad_clip": "1"}, "grad_clip must be a non-negative"),
        ({"grad_clip_schedule": "cosine"}, "grad_clip_schedule must be one of"),
        ({"betas": (0.9, 1.0)}, "betas must be two numbers"),
        ({"betas": (0.9,)}, "betas must be two numbers"),
        ({"micro_batch": 0}, "micro_batch must be an integer >= 1"),
        ({"grad_accum": 2.0}, "grad_accum must be an integer >= 1"),
        ({"seq_len": 1}, "seq_len must be an integer >= 2"),
        ({"max_steps": 0}, "max_steps must be an integer >= 1"),
        ({"device": "tpu"}, "device must be auto, cpu or cuda"),
        ({"schedule": {"name": "linear"}}, "schedule.name"),
        ({"schedule": {"warmup": 3}}, r"unknown field\(s\) \['warmup'\] in schedule"),
        ({"stop_at": 3}, "stop_at needs a checkpoint_dir"),
        ({"resume": True}, "resume needs a checkpoint_dir"),
    ],
)
def test_bad_configs_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown field"):
        TrainConfig.from_dict({"zero": 2})
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1\n")
    with pytest.raises(ConfigError, match="cannot read train config"):
        TrainConfig.from_file(bad)
    with pytest.raises(ConfigError, match="cannot read train config"):
        TrainConfig.from_file(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- lr\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        TrainConfig.from_file(listed)


def test_deepspeed_config_cpu_and_gpu():
    adamw = deepspeed_config(TrainConfig(zero_stage=2, micro_batch=4, grad_accum=3), CPU)
    assert adamw["zero_optimization"] == {"stage": 2}
    assert adamw["train_micro_batch_size_per_gpu"] == 4
    assert adamw["gradient_accumulation_steps"] == 3
    assert adamw["bf16"] == {"enabled": False}  # fp32 on CPU
    assert adamw["optimizer"]["type"] == "AdamW"
    assert adamw["optimizer"]["params"]["betas"] == [0.9, 0.95]
    lion_cpu = deepspeed_config(TrainConfig(optimizer="lionw", zero_stage=1), CPU)
    assert lion_cpu["optimizer"]["type"] == "Lion"
    assert lion_cpu["zero_optimization"]["offload_optimizer"] == {"device": "cpu"}
    lion_gpu = deepspeed_config(TrainConfig(optimizer="lionw", zero_stage=3), GPU)
    assert lion_gpu["zero_optimization"] == {"stage": 3}  # FusedLion on the GPU
    assert lion_gpu["bf16"] == {"enabled": True}


def test_importing_the_trainer_does_not_import_torch():
    """The CLI and the sweep read configs without paying for torch and DeepSpeed."""
    import subprocess
    import sys

    code = (
        "import sys, trainer.train, trainer.launch, trainer.train_main, corpus.cli.main; "
        "print(sorted(m for m in ('torch', 'deepspeed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
