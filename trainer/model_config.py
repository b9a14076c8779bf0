"""Model configurations: one frozen dataclass, validated on construction, and named sizes.

The sizes follow LLM Foundry's MPT pretraining YAMLs (`scripts/train/yamls/pretrain/mpt-*.yaml`:
d_model, n_layers, n_heads, expansion ratio 4) with our 32k code vocabulary instead of their
50k GPT-NeoX one, and replit-code-v1-3b for the reference "2.7b". The names are LLM Foundry's,
so they are nominal: with the 32k vocabulary "125m" has 110M parameters, and "1b" has 1.28B
(MPT-1B itself has 1.3B).

Importing this module does not import torch: the planner and the API read sizes and FLOPs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any, Literal, Self

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError

AttentionImpl = Literal["flex", "sdpa"]
ATTENTION_IMPLS: tuple[str, ...] = ("flex", "sdpa")


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """An MPT-style decoder: ALiBi, no biases, pre-LayerNorm, GELU MLP, tied embeddings."""

    section = "model"

    d_model: int
    """Width of the residual stream."""
    n_layers: int
    """Number of transformer blocks."""
    n_heads: int
    """Attention heads; must divide d_model. Each head gets its own ALiBi slope."""
    vocab_size: int = 32768
    """Tokens in the vocabulary (the SentencePiece model's size; 32k as in replit-code-v1-3b)."""
    max_seq_len: int = 2048
    """Longest training sequence. ALiBi has no position table, so this bounds only the
    FLOP estimate and the masks built; longer inputs still run (ALiBi extrapolates)."""
    alibi_bias_max: float = 8.0
    """ALiBi's largest exponent: head slopes are 2^(-alibi_bias_max * h / n_heads) (MPT: 8)."""
    expansion_ratio: int = 4
    """MLP hidden width = expansion_ratio * d_model."""
    norm_eps: float = 1e-5
    """LayerNorm epsilon."""
    dropout: float = 0.0
    """Dropout on the embeddings and on each residual branch (none on attention weights:
    FlexAttention has no dropout). 0 for pretraining, as MPT."""
    init_std: float = 0.02
    """Standard deviation of the normal initialisation; residual output projections get
    init_std / sqrt(2 * n_layers) so the residual stream's variance does not grow with depth."""
    tie_embeddings: bool = True
    """Use the token embedding as the output head (MPT and replit-code-v1-3b do)."""
    attention: AttentionImpl = "flex"
    """"flex": FlexAttention with ALiBi as a score_mod and a causal block mask (fused kernel
    on GPU); "sdpa": scaled_dot_product_attention with an additive ALiBi + causal mask.
    "flex" falls back to "sdpa" with a warning where FlexAttention cannot run."""

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "vocab_size", "max_seq_len",
                     "expansion_ratio"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"model.n_heads ({self.n_heads}) must divide model.d_model ({self.d_model})"
            )
        if not self.alibi_bias_max > 0:
            raise ConfigError(f"model.alibi_bias_max must be positive, got {self.alibi_bias_max}")
        if not self.norm_eps > 0:
            raise ConfigError(f"model.norm_eps must be positive, got {self.norm_eps}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if not self.init_std > 0:
            raise ConfigError(f"model.init_std must be positive, got {self.init_std}")
        if self.attention not in ATTENTION_IMPLS:
            raise ConfigError(
                f"model.attention must be one of {list(ATTENTION_IMPLS)}, got {self.attention!r}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def n_params(self) -> int:
        """Exact number of parameters of `trainer.model.MPT` built from this config."""
        d = self.d_model
        per_block = (
            2 * d  # two LayerNorm weights (no biases)
            + 3 * d * d  # Wqkv
            + d * d  # out_proj
            + 2 * self.expansion_ratio * d * d  # up_proj and down_proj
        )
        embedding = self.vocab_size * d
        head = 0 if self.tie_embeddings else self.vocab_size * d
        return embedding + self.n_layers * per_block + d + head  # + d: the final LayerNorm

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward) at `seq_len` (default max_seq_len).

        6 N + 12 L d T, the formula behind PaLM's (appendix B) and LLM Foundry's MFU
        (`ComposerMPTCausalLM.flops_per_batch`): every parameter is one multiply-add
        (2 FLOPs) per token forward and twice that backward, so 6 N; attention adds
        Q K^T and A V, 2 * 2 * d * T per token and layer forward, times 3 with backward.
        N counts all parameters, embeddings included (as LLM Foundry's n_active_params),
        and the attention term is not halved for causality, so MFU numbers compare
        with LLM Foundry's published ones.
        """
        t = self.max_seq_len if seq_len is None else seq_len
        if t <= 0:
            raise ConfigError(f"seq_len must be positive, got {t}")
        return 6.0 * self.n_params() + 12.0 * self.n_layers * self.d_model * t

    def fingerprint(self) -> str:
        """Stable short hash of every field (changes whenever the architecture does)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a mapping; `name` picks a named config whose fields the rest override."""
        if not isinstance(data, dict):
            raise ConfigError(f"a model config must be a mapping, got {type(data).__name__}")
        data = dict(data)
        base = named_config(data.pop("name")).to_dict() if "name" in data else {}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown model field(s) {sorted(unknown)}; known: {sorted(known)}")
        return super().from_dict({**base, **data})

    @classmethod
    def named(cls, name: str, **overrides: Any) -> Self:
        """A named config (see `MODEL_CONFIGS`), optionally with fields overridden."""
        return cls.from_dict({"name": name, **overrides})


#: Named sizes. "tiny" is for CPU tests; the others are LLM Foundry's MPT shapes.
MODEL_CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(d_model=64, n_layers=2, n_heads=4, vocab_size=512, max_seq_len=128),
    "125m": ModelConfig(d_model=768, n_layers=12, n_heads=12),
    "350m": ModelConfig(d_model=1024, n_layers=24, n_heads=16),
    # LLM Foundry's mpt-1b uses 16 heads (not 24) so that head_dim is 128 for flash kernels.
    "1b": ModelConfig(d_model=2048, n_layers=24, n_heads=16),
    # replit-code-v1-3b.
    "2.7b": ModelConfig(d_model=2560, n_layers=32, n_heads=32),
}


def named_config(name: str) -> ModelConfig:
    try:
        return MODEL_CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model config {name!r}; choose one of {sorted(MODEL_CONFIGS)}"
        ) from None
