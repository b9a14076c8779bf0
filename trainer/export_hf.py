"""Export a trained model in the Hugging Face MPT layout, and load such an export back.

`transformers` loads the folder as `MptForCausalLM`: config.json (ALiBi on, no learned
positions, no biases), model.safetensors, generation_config.json. Weight names are ours
under `transformer.`; the LayerNorms have no bias in either. Beside them: `tokenizer.model`
(the run's SentencePiece model, loaded by `trainer.loading.load_tokenizer`, or
`transformers`' tokenizer classes where the conversion is exact; see tokenizer_hf) and
`codecorpus.json` (our ModelConfig, training context, lineage), from which
`trainer.loading.load_model` rebuilds our model.

Settings HF's MPT cannot express, refused with a clear error: an MLP expansion other than 4
(it hard-codes 4 * d_model) and alibi_bias_max other than 8 (its forward builds the ALiBi
tensor with the default 8, whatever the config says). HF builds its ALiBi tensor for
`max_seq_len` positions and cannot attend further, while ours extrapolates: the export sets
max_seq_len to at least 4096.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from corpus.core.errors import ConfigError
from trainer.loading import OURS, TOKENIZER, LoadedModel
from trainer.model_config import ModelConfig

HF_MIN_SEQ_LEN = 4096


def hf_config(config: ModelConfig, eod_id: int | None) -> Any:
    from transformers import MptConfig

    if config.expansion_ratio != 4:
        raise ConfigError(f"HF MPT hard-codes an MLP of 4 * d_model; this model has expansion "
                          f"{config.expansion_ratio}: export it as GGUF instead")  # fmt: skip
    if config.alibi_bias_max != 8:
        raise ConfigError(f"HF MPT always builds ALiBi with alibi_bias_max 8; this model has "
                          f"{config.alibi_bias_max}: export it as GGUF instead")  # fmt: skip
    return MptConfig(
        d_model=config.d_model, n_heads=config.n_heads, n_layers=config.n_layers,
        expansion_ratio=4, max_seq_len=max(config.max_seq_len, HF_MIN_SEQ_LEN),
        vocab_size=config.vocab_size, layer_norm_epsilon=config.norm_eps,
        attn_config={"alibi": True, "alibi_bias_max": int(config.alibi_bias_max),
                     "attn_impl": "torch"},
        no_bias=True, learned_pos_emb=False, tie_word_embeddings=config.tie_embeddings,
        resid_pdrop=0.0, emb_pdrop=0.0, initializer_range=config.init_std,
        eos_token_id=eod_id, pad_token_id=eod_id, bos_token_id=eod_id, use_cache=True,
        architectures=["MptForCausalLM"],
    )  # fmt: skip


def to_hf_names(state: dict[str, Any]) -> dict[str, Any]:
    return {("lm_head.weight" if k == "lm_head.weight" else f"transformer.{k}"): v
            for k, v in state.items()}  # fmt: skip


def export_hf(loaded: LoadedModel, out: Path) -> Path:
    """Write the HF folder for `loaded` into `out` (created; must be empty or absent)."""
    import torch
    from transformers import GenerationConfig, MptForCausalLM

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out} is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    eod = loaded.tokenizer.eod_id if loaded.tokenizer else None
    config = hf_config(loaded.config, eod)
    with torch.device("meta"):
        hf = MptForCausalLM(config)
    state = to_hf_names({k: v.detach().to(torch.float32).contiguous()
                         for k, v in loaded.model.state_dict().items()})  # fmt: skip
    hf.load_state_dict(state, strict=False, assign=True)
    hf.tie_weights()
    missing = [n for n, p in hf.named_parameters() if p.is_meta]
    if missing:
        raise ConfigError(f"the export left HF parameters unset: {missing}")
    hf.save_pretrained(out, safe_serialization=True)
    GenerationConfig(eos_token_id=eod, pad_token_id=eod, bos_token_id=eod,
                     do_sample=False).save_pretrained(out)  # fmt: skip
    ours = {
        "model_config": asdict(loaded.config),
        "seq_len": loaded.seq_len,
        "lineage": loaded.lineage,
        "step": loaded.step,
        "source": str(loaded.source),
    }
    (out / OURS).write_text(json.dumps(ours, indent=2, sort_keys=True))
    if loaded.tokenizer is not None:
        (out / TOKENIZER).write_bytes(loaded.tokenizer.model_bytes)
        from trainer.tokenizer_hf import write_hf_tokenizer

        write_hf_tokenizer(loaded.tokenizer, out)
    return out
