"""An MPT-style decoder-only transformer, as replit-code-v1-3b: read top to bottom.

- No positional embedding: ALiBi adds -slope_h * (i - j) to head h's score of query i on key j,
  which biases towards recent tokens and lets the model run past its training length.
- No biases anywhere (Linear and LayerNorm), pre-LayerNorm blocks, a GELU MLP of width 4d,
  the output head tied to the token embedding (or not, by config).
- Attention through FlexAttention: ALiBi is a `score_mod` and causality a `block_mask`, so on
  GPU (compiled) it runs one fused flash-style kernel that also skips the masked blocks.
  The fallback is `scaled_dot_product_attention` with an additive float mask holding ALiBi and
  causality; an explicit mask rules out SDPA's flash backend (it takes no arbitrary bias), so
  SDPA then runs the memory-efficient or the math kernel: slower, which is why flex is the
  default. Both give the same numbers (tested on CPU). Where flex cannot run (old torch; or
  the backward pass on CPU, which torch 2.13 lacks) the model falls back to SDPA with a
  warning, so CPU training and tests work; CPU inference still uses flex.
- Initialisation as MPT: normal(0, init_std) everywhere, residual output projections scaled by
  1 / sqrt(2 * n_layers), LayerNorm weights 1.

Torch is imported here; `trainer.model_config` stays importable without it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainer.model_config import ModelConfig

# ----------------------------------------------------------------------------- ALiBi


def alibi_slopes(n_heads: int, bias_max: float = 8.0) -> Tensor:
    """MPT's per-head ALiBi slopes, shape (n_heads,).

    For a power of two n the slopes are 2^(-bias_max * h / n), h = 1..n. Otherwise they are
    taken from the next power of two N, odd positions first and then even ones
    (h = 2, 4, ..., then 1, 3, ...), and cut to n: the geometric sequence stays as even as
    it can while keeping the gentlest and the steepest slopes.
    """
    n = 2 ** math.ceil(math.log2(n_heads))
    exponents = torch.arange(1, n + 1, dtype=torch.float64) * (bias_max / n)
    slopes = torch.pow(2.0, -exponents)
    if n != n_heads:
        slopes = torch.cat([slopes[1::2], slopes[::2]])[:n_heads]
    return slopes.to(torch.float32)


def alibi_causal_mask(slopes: Tensor, seq_len: int, dtype: torch.dtype) -> Tensor:
    """Additive SDPA mask, shape (1, n_heads, seq_len, seq_len): the ALiBi bias on and below
    the diagonal, -inf above it."""
    pos = torch.arange(seq_len, device=slopes.device)
    distance = (pos[None, :] - pos[:, None]).to(torch.float32)  # j - i, <= 0 where allowed
    bias = slopes[:, None, None] * distance
    bias = bias.masked_fill(distance > 0, float("-inf"))
    return bias.to(dtype).unsqueeze(0)


def alibi_score_mod(slopes: Tensor) -> Callable:
    """FlexAttention score_mod adding head h's ALiBi bias slope_h * (j - i)."""

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    return score_mod


def causal_mask_mod(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


@functools.cache
def flex_attention_works(device_type: str, backward: bool) -> bool:
    """Whether FlexAttention imports and runs a small causal ALiBi call on this device type,
    with its backward pass if `backward` (checked once per process). Older torch builds say
    no; so does torch 2.13 on CPU for the backward (forward only there)."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        q = torch.randn(1, 2, 16, 16, device=device_type, requires_grad=backward)
        mask = create_block_mask(causal_mask_mod, None, None, 16, 16, device=device_type)
        score_mod = alibi_score_mod(alibi_slopes(2).to(device_type))
        with warnings.catch_warnings(), torch.set_grad_enabled(backward):
            warnings.simplefilter("ignore")  # "called without torch.compile()": expected here
            y = flex_attention(q, q, q, score_mod=score_mod, block_mask=mask)
            if backward:
                y.sum().backward()
        return True
    except Exception:  # any failure means: use SDPA instead
        return False


@functools.cache
def _flex_kernel(device_type: str) -> Callable:
    """flex_attention, compiled on GPU (fused Triton kernel; eager flex materialises the whole
    score matrix); eager elsewhere, where compiling costs more than it saves in tests."""
    from torch.nn.attention.flex_attention import flex_attention

    if device_type == "cuda":
        return torch.compile(flex_attention, dynamic=False)

    def eager(q, k, v, score_mod, block_mask):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)

    return eager


@dataclass(frozen=True, eq=False)
class CausalAlibi:
    """Everything the layers need to attend causally with ALiBi at one sequence length on one
    device: built once per (length, device, dtype) and shared by every layer."""

    impl: str
    """"flex" or "sdpa": the implementation actually used (after any fallback)."""
    mask: Tensor | None = None
    """sdpa: the additive ALiBi + causal mask."""
    block_mask: object | None = None
    """flex: the causal BlockMask."""
    score_mod: Callable | None = None
    """flex: the ALiBi score_mod."""
    kernel: Callable | None = None
    """flex: flex_attention, compiled on GPU."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if self.impl == "flex":
            return self.kernel(q, k, v, score_mod=self.score_mod, block_mask=self.block_mask)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask)


# ----------------------------------------------------------------------------- modules


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.Wqkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out_proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x: Tensor, alibi: CausalAlibi) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.Wqkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_heads, T, head_dim), the layout both kernels take
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))
        y = alibi.attend(q, k, v)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        hidden = config.expansion_ratio * config.d_model
        self.up_proj = nn.Linear(config.d_model, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, config.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.gelu(self.up_proj(x)))


class Block(nn.Module):
    """Pre-LayerNorm: x + attn(ln(x)), then x + mlp(ln(x)); the residual stream itself is
    never normalised, which keeps deep stacks trainable without warmup tricks."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm_1 = nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=False)
        self.attn = CausalSelfAttention(config)
        self.norm_2 = nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=False)
        self.ffn = MLP(config)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, alibi: CausalAlibi) -> Tensor:
        x = x + self.resid_dropout(self.attn(self.norm_1(x), alibi))
        return x + self.resid_dropout(self.ffn(self.norm_2(x)))


#: Parameters that write into the residual stream: scaled down at init (see ModelConfig.init_std).
RESIDUAL_PROJECTIONS = ("attn.out_proj.weight", "ffn.down_proj.weight")


class MPT(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.emb_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm_f = nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=False)
        self.lm_head = (
            None if config.tie_embeddings
            else nn.Linear(config.d_model, config.vocab_size, bias=False)
        )  # fmt: skip
        # Masks depend only on (length, device, dtype): built on first use, shared by layers.
        self._alibi_cache: dict[tuple, CausalAlibi] = {}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.config.init_std
        for name, p in self.named_parameters():
            if name.endswith(RESIDUAL_PROJECTIONS):
                nn.init.normal_(p, mean=0.0, std=std / math.sqrt(2 * self.config.n_layers))
            elif p.dim() == 1:  # LayerNorm weights
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, vocab) for token ids `idx` (B, T), and, given `targets` (B, T), the
        mean next-token cross-entropy over targets that are not -1 (padding)."""
        _, T = idx.shape
        x = self.emb_dropout(self.wte(idx))
        alibi = self.causal_alibi(T, idx.device, self._compute_dtype(idx.device))
        for block in self.blocks:
            x = block(x, alibi)
        x = self.norm_f(x)
        logits = F.linear(x, self.wte.weight) if self.lm_head is None else self.lm_head(x)
        if targets is None:
            return logits, None
        # fp32 loss: a bf16 log-softmax over 32k classes loses the small probabilities
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1
        )
        return logits, loss

    def _compute_dtype(self, device: torch.device) -> torch.dtype:
        """The dtype q and k have in attention: autocast's if it is on, else the weights'."""
        if torch.is_autocast_enabled(device.type):
            return torch.get_autocast_dtype(device.type)
        return self.wte.weight.dtype

    # Kept out of torch.compile graphs: a cache lookup (and, once, mask construction) that
    # compiled code would otherwise guard on; the returned masks are plain graph inputs.
    @torch.compiler.disable
    def causal_alibi(self, seq_len: int, device: torch.device, dtype: torch.dtype) -> CausalAlibi:
        """The shared attention inputs for sequences of `seq_len` tokens."""
        # Whether gradients will flow decides the kernel where flex has no backward (CPU).
        backward = torch.is_grad_enabled()
        key = (seq_len, str(device), dtype, backward)
        if key not in self._alibi_cache:
            self._alibi_cache[key] = self._build_causal_alibi(seq_len, device, dtype, backward)
        return self._alibi_cache[key]

    def _build_causal_alibi(
        self, seq_len: int, device: torch.device, dtype: torch.dtype, backward: bool
    ) -> CausalAlibi:
        slopes = alibi_slopes(self.config.n_heads, self.config.alibi_bias_max).to(device)
        if self.config.attention == "flex":
            if flex_attention_works(device.type, backward):
                from torch.nn.attention.flex_attention import create_block_mask

                block_mask = create_block_mask(
                    causal_mask_mod, None, None, seq_len, seq_len, device=device
                )
                return CausalAlibi(
                    "flex", block_mask=block_mask, score_mod=alibi_score_mod(slopes),
                    kernel=_flex_kernel(device.type),
                )  # fmt: skip
            warnings.warn(
                f"FlexAttention{' backward' if backward else ''} does not run on "
                f"{device.type} with torch {torch.__version__}; using "
                "scaled_dot_product_attention with an ALiBi mask instead",
                RuntimeWarning,
                stacklevel=2,
            )
        return CausalAlibi("sdpa", mask=alibi_causal_mask(slopes, seq_len, dtype))
