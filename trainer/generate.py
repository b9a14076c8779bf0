"""Autoregressive decoding for the MPT model with a KV cache: batched, greedy or sampled.

The prompt is run once, each layer's keys and values are kept, and each new token then costs
one position of attention against the cache instead of a forward pass over the whole text.

Batches are left-padded: ALiBi depends only on the distance j - i between a query and a key,
so shifting a prompt right by its padding changes none of its scores, and masking the pad
keys leaves each row's numbers those of the row run alone (tested: a batch gives the same
tokens as one prompt at a time). Sampling draws from one generator per row, seeded
`seed + row`, so a row's sample does not depend on its batch either.

Attention here is SDPA with an explicit additive mask (ALiBi + causality + padding), built
for the shapes decoding has (a few queries against a long cache); the weights are the
model's own modules, so any MPT checkpoint or exported model decodes as it trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corpus.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from trainer.model import MPT


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick each next token and when to stop."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    """0: greedy (argmax). Otherwise logits are divided by it before the softmax."""
    top_p: float = 1.0
    """Nucleus sampling: draw from the smallest set of tokens whose probability is >= top_p."""
    seed: int = 0
    """Row r of a batch samples with a generator seeded seed + r."""
    stop: tuple[str, ...] = ()
    """Stop a row once its decoded completion contains one of these (cut before it)."""
    stop_at_eod: bool = True
    """Stop a row at the end-of-document token (not included in the completion)."""

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be a positive integer, got "
                              f"{self.max_new_tokens!r}")  # fmt: skip
        if not self.temperature >= 0:
            raise ConfigError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ConfigError(f"stop sequences must be non-empty strings, got {self.stop!r}")


@dataclass
class Completion:
    ids: list[int]
    """Generated token ids (stop sequence and end-of-document excluded)."""
    text: str | None = None
    """Decoded completion, when a decoder was given (cut before any stop sequence)."""
    finish: str = "length"
    """"length", "eod" or "stop"."""
    stopped_by: str | None = None


@dataclass
class KVCache:
    """Per layer keys and values, (B, H, capacity, head_dim), filled up to `length`."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int = 0
    pad: torch.Tensor | None = field(default=None)
    """(B, capacity) bool: True where the position is left padding."""


class Decoder:
    """Runs an `MPT` for decoding. `forward` with a cache appends to it; without one it
    computes the whole sequence (the uncached reference)."""

    def __init__(self, model: MPT) -> None:
        from trainer.model import alibi_slopes

        self.model = model.eval()
        config = model.config
        self.config = config
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.slopes = alibi_slopes(config.n_heads, config.alibi_bias_max).to(self.device)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        import torch

        shape = (batch, self.config.n_heads, capacity, self.config.head_dim)
        layers = len(self.model.blocks)
        make = lambda: torch.empty(shape, device=self.device, dtype=self.dtype)  # noqa: E731
        pad = torch.zeros(batch, capacity, dtype=torch.bool, device=self.device)
        return KVCache([make() for _ in range(layers)], [make() for _ in range(layers)], 0, pad)

    def forward(self, ids: torch.Tensor, pad: torch.Tensor, cache: KVCache | None = None):
        """Logits (B, t, vocab) of `ids` (B, t) following the cache's positions; `pad` (B, t)
        marks left padding."""
        import torch
        import torch.nn.functional as F

        model = self.model
        B, t = ids.shape
        start = cache.length if cache is not None else 0
        total = start + t
        if cache is not None:
            if total > cache.keys[0].size(2):
                raise ConfigError(f"the KV cache holds {cache.keys[0].size(2)} positions; "
                                  f"{total} are needed")  # fmt: skip
            cache.pad[:, start:total] = pad
            key_pad = cache.pad[:, :total]
        else:
            key_pad = pad
        mask = self._mask(start, t, key_pad)
        x = model.wte(ids)
        C, H = self.config.d_model, self.config.n_heads
        with torch.no_grad():
            for layer, block in enumerate(model.blocks):
                attn = block.attn
                q, k, v = attn.Wqkv(block.norm_1(x)).split(C, dim=2)
                q, k, v = (z.view(B, t, H, C // H).transpose(1, 2) for z in (q, k, v))
                if cache is not None:
                    cache.keys[layer][:, :, start:total] = k
                    cache.values[layer][:, :, start:total] = v
                    k, v = cache.keys[layer][:, :, :total], cache.values[layer][:, :, :total]
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                x = x + attn.out_proj(y.transpose(1, 2).reshape(B, t, C))
                x = x + block.ffn(block.norm_2(x))
            x = model.norm_f(x)
            logits = F.linear(x, model.wte.weight) if model.lm_head is None else model.lm_head(x)
        if cache is not None:
            cache.length = total
        return logits

    def _mask(self, start: int, t: int, key_pad: torch.Tensor) -> torch.Tensor:
        """(B, H, t, start + t): ALiBi slope_h * (j - i), -inf for future keys and pad keys
        (a pad query still sees itself, so its softmax has a finite entry)."""
        import torch

        total = start + t
        q_pos = torch.arange(start, total, device=self.device)
        k_pos = torch.arange(total, device=self.device)
        distance = (k_pos[None, :] - q_pos[:, None]).to(torch.float32)  # (t, total)
        bias = self.slopes[:, None, None] * distance  # (H, t, total)
        blocked = (distance > 0)[None] | key_pad[:, None, :]  # (B, t, total)
        blocked = blocked & ~(distance == 0)[None]
        mask = bias[None].masked_fill(blocked[:, None], float("-inf"))
        return mask.to(self.dtype)


def generate(
    model: MPT,
    prompts: Sequence[Sequence[int]],
    sampling: SamplingConfig | None = None,
    *,
    eod_id: int | None = None,
    decode: Callable[[list[int]], str] | None = None,
    use_cache: bool = True,
    decoder: Decoder | None = None,
) -> list[Completion]:
    """Completions of token-id `prompts`, decoded in one left-padded batch.

    `decode` (ids -> text) is needed for stop sequences and gives each completion its text.
    `use_cache=False` recomputes the whole sequence for every token (the reference the
    cached path is tested against, and the benchmark's baseline).
    """
    import torch

    sampling = sampling or SamplingConfig()
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ConfigError("every prompt needs at least one token")
    if sampling.stop and decode is None:
        raise ConfigError("stop sequences need a tokenizer to decode the completions")
    decoder = decoder or Decoder(model)
    vocab = model.config.vocab_size
    for p in prompts:
        if min(p) < 0 or max(p) >= vocab:
            raise ConfigError(f"prompt token ids must be in [0, {vocab}); got {min(p)}..{max(p)}")
    B, longest = len(prompts), max(len(p) for p in prompts)
    device = decoder.device
    ids = torch.zeros(B, longest, dtype=torch.long, device=device)
    pad = torch.ones(B, longest, dtype=torch.bool, device=device)
    for r, p in enumerate(prompts):
        ids[r, longest - len(p):] = torch.tensor(list(p), dtype=torch.long)
        pad[r, longest - len(p):] = False
    generators = [torch.Generator(device=device).manual_seed(sampling.seed + r) for r in range(B)]
    out: list[list[int]] = [[] for _ in range(B)]
    done: list[Completion | None] = [None] * B
    cache = decoder.new_cache(B, longest + sampling.max_new_tokens) if use_cache else None
    logits = decoder.forward(ids, pad, cache)[:, -1]
    seq, seq_pad = ids, pad
    no_pad = torch.zeros(B, 1, dtype=torch.bool, device=device)
    for step in range(sampling.max_new_tokens):
        nxt = _pick(logits, sampling, generators)
        for r in range(B):
            if done[r] is None:
                done[r] = _advance(out[r], int(nxt[r]), sampling, eod_id, decode)
        if all(d is not None for d in done) or step == sampling.max_new_tokens - 1:
            break
        step_ids = nxt[:, None]
        if use_cache:
            logits = decoder.forward(step_ids, no_pad, cache)[:, -1]
        else:
            seq = torch.cat([seq, step_ids], dim=1)
            seq_pad = torch.cat([seq_pad, no_pad], dim=1)
            logits = decoder.forward(seq, seq_pad)[:, -1]
    results = []
    for r in range(B):
        completion = done[r] or Completion(out[r], finish="length")
        if decode is not None and completion.text is None:
            completion.text = decode(completion.ids)
        results.append(completion)
    return results


def _pick(logits: torch.Tensor, sampling: SamplingConfig, generators: list) -> torch.Tensor:
    import torch

    logits = logits.float()
    if sampling.temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        keep = (sorted_p.cumsum(dim=-1) - sorted_p) < sampling.top_p  # the first always stays
        sorted_p = sorted_p * keep
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    picks = [torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(generators)]
    return torch.cat(picks)


def _advance(ids: list[int], token: int, sampling: SamplingConfig, eod_id: int | None,
             decode: Callable[[list[int]], str] | None) -> Completion | None:  # fmt: skip
    """Append `token` to a row; the finished Completion when the row stops here."""
    if sampling.stop_at_eod and eod_id is not None and token == eod_id:
        return Completion(list(ids), decode(ids) if decode else None, "eod")
    ids.append(token)
    if sampling.stop:
        text = decode(ids)
        hits = [(text.find(s), s) for s in sampling.stop if s in text]
        if hits:
            at, which = min(hits)
            return Completion(list(ids), text[:at], "stop", which)
    return None
