"""The MPT-style model: sizes, ALiBi, causality, flex == sdpa, training and determinism (CPU)."""

import math

import pytest

from corpus.core.errors import ConfigError
from trainer.model_config import MODEL_CONFIGS, ModelConfig, named_config

torch = pytest.importorskip("torch")

from trainer.model import (  # noqa: E402  (after the torch check)
    MPT,
    alibi_causal_mask,
    alibi_slopes,
    flex_attention_works,
)

TINY = named_config("tiny")

# Training on CPU falls back from flex to SDPA (no flex backward there): expected, not news.
pytestmark = pytest.mark.filterwarnings("ignore:FlexAttention backward:RuntimeWarning")


def build(config: ModelConfig, seed: int = 0) -> MPT:
    torch.manual_seed(seed)
    return MPT(config)


def tokens(config: ModelConfig, batch: int = 2, seq: int | None = None, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (batch, seq or config.max_seq_len), generator=gen)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("tie", [True, False])
def test_n_params_is_exact(tie):
    config = ModelConfig.named("tiny", tie_embeddings=tie)
    model = MPT(config)
    assert sum(p.numel() for p in model.parameters()) == config.n_params()
    assert all(p.dim() == 2 or name.endswith("weight") for name, p in model.named_parameters())
    assert not any("bias" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize(
    ("name", "vocab", "nominal", "tolerance"),
    [
        # LLM Foundry's sizes with their 50368 GPT-NeoX vocabulary match the names.
        ("125m", 50368, 125e6, 0.10),
        ("350m", 50368, 350e6, 0.10),
        ("1b", 50368, 1.3e9, 0.05),  # MPT-1B is 1.3B parameters
        # With our 32k vocabulary: replit-code-v1-3b is "2.7B" (2.6B counted exactly).
        ("2.7b", 32768, 2.7e9, 0.05),
        ("350m", 32768, 350e6, 0.10),
    ],
)
def test_named_configs_match_their_names(name, vocab, nominal, tolerance):
    config = ModelConfig.named(name, vocab_size=vocab)
    assert abs(config.n_params() / nominal - 1) <= tolerance, config.n_params()


def test_named_config_shapes_and_hand_counts():
    replit = named_config("2.7b")
    assert (replit.d_model, replit.n_layers, replit.n_heads) == (2560, 32, 32)
    assert (replit.vocab_size, replit.max_seq_len, replit.alibi_bias_max) == (32768, 2048, 8)
    d, layers, v = 2560, 32, 32768
    assert replit.n_params() == v * d + layers * (12 * d * d + 2 * d) + d  # tied head
    assert named_config("125m").n_params() == 110_119_680
    assert named_config("1b").n_params() == 1_275_168_768


def test_flops_per_token_is_6n_plus_attention():
    config = named_config("1b")
    expected = 6 * config.n_params() + 12 * 24 * 2048 * 2048
    assert config.flops_per_token() == expected
    assert config.flops_per_token(1024) == expected - 12 * 24 * 2048 * 1024


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"n_heads": 5}, "n_heads"),
        ({"d_model": 0}, "d_model"),
        ({"attention": "flash"}, "attention"),
        ({"dropout": 1.0}, "dropout"),
        ({"init_std": 0.0}, "init_std"),
        ({"vocab_size": 3.5}, "vocab_size"),
    ],
)
def test_invalid_config_names_the_field(fields, field):
    with pytest.raises(ConfigError, match=rf"model\.{field}"):
        ModelConfig.named("tiny", **fields)


def test_unknown_names_and_fields_are_config_errors():
    with pytest.raises(ConfigError, match="choose one of"):
        named_config("7b")
    with pytest.raises(ConfigError, match="unknown model field"):
        ModelConfig.from_dict({"name": "tiny", "n_embd": 3})
    assert ModelConfig.from_dict({"name": "tiny", "n_layers": 3}).n_layers == 3
    assert set(MODEL_CONFIGS) == {"tiny", "125m", "350m", "1b", "2.7b"}
    assert TINY.fingerprint() == ModelConfig(**TINY.to_dict()).fingerprint()
    assert TINY.fingerprint() != ModelConfig.named("tiny", n_layers=3).fingerprint()


# ----------------------------------------------------------------------------- ALiBi


def test_alibi_slopes_power_of_two():
    assert alibi_slopes(8).tolist() == [2.0**-h for h in range(1, 9)]


def test_alibi_slopes_12_heads_interleave_the_16_head_sequence():
    # 16 heads: 2^(-0.5 h), h = 1..16; MPT takes h = 2, 4, ..., 16, then h = 1, 3, 5, 7.
    expected = [2.0**-h for h in range(1, 9)] + [2.0 ** -(h / 2) for h in (1, 3, 5, 7)]
    assert alibi_slopes(12).tolist() == pytest.approx(expected, rel=1e-7)


def test_alibi_mask_is_slope_times_distance_below_the_diagonal():
    slopes = alibi_slopes(4)
    mask = alibi_causal_mask(slopes, 5, torch.float32)
    assert mask.shape == (1, 4, 5, 5)
    assert mask[0, 1, 4, 1].item() == pytest.approx(-0.0625 * 3)  # head 1 slope 2^-4, i-j = 3
    assert mask[0, 0, 3, 3].item() == 0.0
    assert math.isinf(mask[0, 2, 1, 2].item())  # the future is masked


# ----------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("attention", ["flex", "sdpa"])
def test_future_tokens_do_not_change_earlier_logits(attention):
    model = build(ModelConfig.named("tiny", attention=attention)).eval()
    idx = tokens(TINY, batch=1, seq=64)
    changed = idx.clone()
    changed[0, 40:] = (changed[0, 40:] + 1) % TINY.vocab_size
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(changed)
    torch.testing.assert_close(a[:, :40], b[:, :40], rtol=0, atol=0)
    assert not torch.allclose(a[:, 40:], b[:, 40:])


@pytest.mark.skipif(
    not flex_attention_works("cpu", False), reason="FlexAttention does not run on CPU here"
)
def test_flex_and_sdpa_give_the_same_logits():
    flex = build(ModelConfig.named("tiny", attention="flex")).eval()
    sdpa = build(ModelConfig.named("tiny", attention="sdpa")).eval()
    idx = tokens(TINY, batch=2)
    with torch.no_grad():
        assert flex.causal_alibi(idx.shape[1], idx.device, torch.float32).impl == "flex"
        a, _ = flex(idx)
        b, _ = sdpa(idx)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("tie", [True, False])
def test_loss_decreases_on_a_repeated_batch(tie):
    config = ModelConfig.named("tiny", tie_embeddings=tie)
    model = build(config)
    idx = tokens(config, batch=4, seq=64)
    inputs, targets = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(config.vocab_size), rel=0.1)  # near uniform
    assert losses[-1] < 0.5 * losses[0]


def test_padding_targets_are_ignored():
    model = build(TINY)
    idx = tokens(TINY, batch=1, seq=16)
    targets = idx.clone()
    targets[0, 8:] = -1
    logits, loss = model(idx, targets)
    expected = torch.nn.functional.cross_entropy(logits[0, :8], idx[0, :8])
    torch.testing.assert_close(loss, expected)


def test_same_seed_same_model_and_loss():
    idx = tokens(TINY, batch=2, seq=32)
    a, b = build(TINY, seed=7), build(TINY, seed=7)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), name
    assert torch.equal(a(idx, idx)[1], b(idx, idx)[1])
    assert not torch.equal(build(TINY, seed=8).wte.weight, a.wte.weight)


def test_init_scales_residual_projections():
    config = ModelConfig.named("tiny", d_model=256, n_layers=8, n_heads=4)
    model = build(config)
    block = model.blocks[0]
    assert block.attn.Wqkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    residual = 0.02 / math.sqrt(2 * 8)
    assert block.attn.out_proj.weight.std().item() == pytest.approx(residual, rel=0.05)
    assert block.ffn.down_proj.weight.std().item() == pytest.approx(residual, rel=0.05)
    assert torch.equal(block.norm_1.weight, torch.ones(256))
