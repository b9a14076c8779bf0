"""Sweep config and grid: the modes' arithmetic exactly, stable trial ids, clear errors."""

from dataclasses import replace

import pytest

from corpus.core.errors import ConfigError
from trainer.model_config import ModelConfig
from trainer.sweep_config import FitSettings, SweepConfig
from trainer.sweep_grid import MixtureInfo, SweepError, build_grid

MIXTURE = MixtureInfo(
    name="ds@v1/abc {python: 3, c: 1}",
    weights={"python": 3.0, "c": 1.0},
    unique={"python": 200_000, "c": 100_000},
    token_budget=240_000,
    vocab_size=512,
)
TINY = ModelConfig.named("tiny", vocab_size=512).n_params()


def test_fixed_tokens_grid_is_exact() -> None:
    config = SweepConfig(models=("tiny",), tokens=(120_000,), epochs=(1, 2, 4))
    trials = build_grid(config, MIXTURE)
    assert [(t.tokens, t.unique, t.epochs) for t in trials] == [
        (120_000, 120_000, 1.0),
        (120_000, 60_000, 2.0),
        (120_000, 30_000, 4.0),
    ]
    assert [t.unique_by_language for t in trials] == [
        {"python": 90_000, "c": 30_000},
        {"python": 45_000, "c": 15_000},
        {"python": 22_500, "c": 7_500},
    ]
    assert all(t.params == TINY and t.compute == 6 * TINY * 120_000 for t in trials)


def test_fixed_tokens_defaults_to_the_mixture_budget_and_crosses_models_and_tokens() -> None:
    config = SweepConfig(models=("tiny", "125m"), epochs=(1, 3))
    trials = build_grid(config, MIXTURE)
    assert [(t.model, t.tokens, t.unique) for t in trials] == [
        ("tiny", 240_000, 240_000),
        ("tiny", 240_000, 80_000),
        ("125m", 240_000, 240_000),
        ("125m", 240_000, 80_000),
    ]
    assert trials[2].params == ModelConfig.named("125m", vocab_size=512).n_params()
    two = SweepConfig(models=("tiny",), tokens=(100_000, 200_000), epochs=(2,))
    assert [(t.tokens, t.unique) for t in build_grid(two, MIXTURE)] == [
        (100_000, 50_000),
        (200_000, 100_000),
    ]


def test_fixed_compute_grid_is_exact() -> None:
    config = SweepConfig(
        models=("tiny",),
        mode="fixed_compute",
        compute=(6.0 * TINY * 100_000, 6.0 * TINY * 200_000),
        unique_tokens=(25_000, 50_000),
    )
    trials = build_grid(config, MIXTURE)
    assert [(t.tokens, t.unique, t.epochs) for t in trials] == [
        (100_000, 25_000, 4.0),
        (100_000, 50_000, 2.0),
        (200_000, 25_000, 8.0),
        (200_000, 50_000, 4.0),
    ]
    assert trials[0].unique_by_language == {"python": 18_750, "c": 6_250}
    assert [t.compute for t in trials] == [6.0 * TINY * d for d in (1e5, 1e5, 2e5, 2e5)]


def test_trial_ids_are_stable_and_track_what_fixes_a_run() -> None:
    config = SweepConfig(models=("tiny",), tokens=(120_000,), epochs=(1, 2), train={"lr": 1e-3})
    ids = [t.id for t in build_grid(config, MIXTURE)]
    assert ids == [t.id for t in build_grid(SweepConfig.from_dict(config.to_dict()), MIXTURE)]
    assert len(set(ids)) == 2 and all(len(i) == 12 for i in ids)
    # The same (model, D, U) in a bigger grid keeps its id: resuming after widening a grid works.
    wider = build_grid(replace(config, epochs=(1.0, 2.0, 8.0)), MIXTURE)
    assert [t.id for t in wider][:2] == ids
    for changed in (
        replace(config, seed=1),
        replace(config, train={"lr": 2e-3}),
        replace(config, models=("125m",)),
    ):
        assert not set(ids) & {t.id for t in build_grid(changed, MIXTURE)}
    other_data = replace(MIXTURE, name="ds@v2/abc {python: 3, c: 1}")
    assert not set(ids) & {t.id for t in build_grid(config, other_data)}


def test_yaml_round_trip(tmp_path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "models: [tiny]\ntokens: [2e5]\nepochs: [1, 2.5]\nseed: 3\n"
        "train: {lr: 0.003}\nfit: {free: [e, b, rd_star]}\n"
    )
    config = SweepConfig.from_file(path)
    assert config.tokens == (200_000,) and config.epochs == (1.0, 2.5) and config.seed == 3
    assert config.fit == FitSettings(free=("e", "b", "rd_star"))
    assert config.train == {"lr": 0.003}
    assert SweepConfig.from_dict(config.to_dict()) == config
    assert config.fingerprint() == SweepConfig.from_dict(config.to_dict()).fingerprint()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"models": ["tiny"], "epochs": [0]}, "epochs must be >= 1"),
        ({"models": ["tiny"], "epochs": [0.5]}, "epochs must be >= 1"),
        ({"models": ["tiny"], "epochs": []}, "needs `epochs`"),
        ({"models": ["huge"], "epochs": [1]}, "unknown model size"),
        ({"models": [], "epochs": [1]}, "models is empty"),
        ({"epochs": [1]}, "needs field"),
        ({"models": ["tiny"], "epochs": [1], "mode": "fixed_data"}, "mode must be one of"),
        ({"models": ["tiny"], "epochs": [1], "unique_tokens": [5]}, "derives `unique_tokens`"),
        ({"models": ["tiny"], "mode": "fixed_compute", "compute": [1e12]}, "needs `unique"),
        (
            {
                "models": ["tiny"],
                "mode": "fixed_compute",
                "compute": [1e12],
                "unique_tokens": [5],
                "epochs": [2],
            },
            "derives `epochs`",
        ),
        ({"models": ["tiny"], "epochs": [1, 1]}, "lists a value twice"),
        ({"models": ["tiny"], "epochs": ["many"]}, r"sweep\.epochs\[0\] must be a number"),
        ({"models": ["tiny"], "epochs": [1], "tokens": [1.5]}, r"tokens\[0\] must be an int"),
        ({"models": ["tiny"], "epochs": [1], "tokens": [-5]}, "tokens must be positive"),
        ({"models": ["tiny"], "epochs": [1], "train": {"seed": 1}}, "sets per trial"),
        ({"models": ["tiny"], "epochs": [1], "train": {"lr": 0}}, "lr must be"),
        ({"models": ["tiny"], "epochs": [1], "train": {"zero": 1}}, "unknown field"),
        ({"models": ["tiny"], "epochs": [1], "fit": {"free": ["zeta"]}}, "fit.free"),
        ({"models": ["tiny"], "epochs": [1], "fit": {"free": "some"}}, "fit.free"),
        ({"models": ["tiny"], "epochs": [1], "bogus": 1}, "unknown field"),
    ],
)
def test_bad_configs_are_refused(data, message) -> None:
    with pytest.raises(ConfigError, match=message):
        SweepConfig.from_dict(data)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # 300k unique tokens in the mixture; 400k/1 epoch needs more.
        (SweepConfig(models=("tiny",), tokens=(400_000,), epochs=(1,)), "exceeds the mixture"),
        # python holds 200k: 3/4 of a 280k budget is 210k.
        (SweepConfig(models=("tiny",), tokens=(280_000,), epochs=(1,)), "of 'python'"),
        (
            SweepConfig(
                models=("tiny",),
                mode="fixed_compute",
                compute=(6.0 * TINY * 1000,),
                unique_tokens=(5000,),
            ),
            "under one epoch",
        ),
        (SweepConfig(models=("tiny",), tokens=(10,), epochs=(4,)), "no tokens"),
        (SweepConfig(models=("tiny",), tokens=(100_000,), epochs=(2, 2.00001)), "same run"),
    ],
)
def test_bad_grids_are_refused(config, message) -> None:
    with pytest.raises(SweepError, match=message):
        build_grid(config, MIXTURE)


def test_trial_train_config_and_spec(tmp_path) -> None:
    from trainer.data import ComponentSpec, MixtureSpec
    from trainer.sweep import trial_spec, trial_train_config

    config = SweepConfig(
        models=("tiny",),
        tokens=(120_000,),
        epochs=(2,),
        seed=7,
        train={"lr": 1e-3, "seq_len": 32, "model_overrides": {"n_layers": 1}},
    )
    (trial,) = build_grid(config, MIXTURE)
    assert trial.params == ModelConfig.named("tiny", vocab_size=512, n_layers=1).n_params()
    train = trial_train_config(config, trial, 512, tmp_path / trial.id)
    assert (train.model, train.seed, train.lr, train.seq_len) == ("tiny", 7, 1e-3, 32)
    assert train.model_overrides == {"vocab_size": 512, "n_layers": 1}
    assert train.model_config().n_params() == trial.params
    assert train.run_dir is None and train.checkpoint_path() is None and not train.progress
    kept = trial_train_config(replace(config, checkpoints=True), trial, 512, tmp_path / trial.id)
    assert kept.run_dir == tmp_path / trial.id and kept.resume
    base = MixtureSpec(
        (ComponentSpec("python", 3.0, ("a",)), ComponentSpec("c", 1.0, ("b",))), 10, 32, 0
    )
    spec = trial_spec(base, trial, config.seed)
    assert (spec.tokens, spec.seq_len, spec.seed) == (120_000, 32, 7)
    assert [(c.language, c.unique_budget) for c in spec.components] == [
        ("python", 45_000),
        ("c", 15_000),
    ]
    assert spec.token_targets() == {"python": 90_000, "c": 30_000}  # 2 epochs of each
