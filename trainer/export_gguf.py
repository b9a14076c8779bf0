"""Export a trained model as GGUF (the `gguf` package's writer), for llama.cpp's MPT.

Architecture "mpt": llama.cpp's names for the tensors (token_embd, blk.N.attn_norm,
attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down, output_norm; `output` only when the head
is not tied), fp32, and the keys its MPT loader reads: context length, width, depth, heads,
feed-forward width, LayerNorm epsilon and `mpt.attention.max_alibi_bias` (ALiBi's
alibi_bias_max; llama.cpp derives the slopes from it and the head count as MPT does).
MPT's usual vocabulary is GPT-2 BPE; ours is SentencePiece, so the vocabulary goes in as
tokenizer model "llama" (the SentencePiece one): pieces, scores, piece types (SentencePiece's
numbering, which GGUF shares), the unk/bos/eos ids, and no BOS or space prefix added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from corpus.core.errors import ConfigError
from trainer.loading import LoadedModel

#: Our parameter name (after "blocks.N.") -> llama.cpp's (after "blk.N.").
BLOCK_NAMES = {
    "norm_1.weight": "attn_norm.weight",
    "attn.Wqkv.weight": "attn_qkv.weight",
    "attn.out_proj.weight": "attn_output.weight",
    "norm_2.weight": "ffn_norm.weight",
    "ffn.up_proj.weight": "ffn_up.weight",
    "ffn.down_proj.weight": "ffn_down.weight",
}
TOP_NAMES = {"wte.weight": "token_embd.weight", "norm_f.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}  # fmt: skip


def gguf_name(ours: str) -> str:
    if ours in TOP_NAMES:
        return TOP_NAMES[ours]
    _, layer, rest = ours.split(".", 2)
    return f"blk.{layer}.{BLOCK_NAMES[rest]}"


def gguf_tensors(model: Any) -> dict[str, np.ndarray]:
    """llama.cpp name -> fp32 array, in the model's order."""
    return {gguf_name(k): v.detach().float().cpu().numpy()
            for k, v in model.state_dict().items()}  # fmt: skip


def gguf_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """Every key the export writes, with its value (tested against the file read back)."""
    c = loaded.config
    meta: dict[str, Any] = {
        "general.architecture": "mpt",
        "general.name": f"codecorpus-{loaded.source.name}",
        "general.file_type": 0,  # ALL_F32
        "mpt.context_length": c.max_seq_len,
        "mpt.embedding_length": c.d_model,
        "mpt.block_count": c.n_layers,
        "mpt.feed_forward_length": c.expansion_ratio * c.d_model,
        "mpt.attention.head_count": c.n_heads,
        "mpt.attention.layer_norm_epsilon": c.norm_eps,
        "mpt.attention.max_alibi_bias": c.alibi_bias_max,
    }
    tok = loaded.tokenizer
    if tok is not None:
        sp = tok.processor
        n = sp.get_piece_size()
        meta.update({
            "tokenizer.ggml.model": "llama",
            "tokenizer.ggml.tokens": [sp.id_to_piece(i) for i in range(n)],
            "tokenizer.ggml.scores": [float(sp.get_score(i)) for i in range(n)],
            "tokenizer.ggml.token_type": [_piece_type(sp, i) for i in range(n)],
            "tokenizer.ggml.unknown_token_id": sp.unk_id(),
            "tokenizer.ggml.bos_token_id": tok.eod_id,
            "tokenizer.ggml.eos_token_id": tok.eod_id,
            "tokenizer.ggml.add_bos_token": False,
            "tokenizer.ggml.add_space_prefix": False,
        })  # fmt: skip
    return meta


def _piece_type(sp: Any, i: int) -> int:
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_byte(i):
        return 6
    if sp.is_unused(i):
        return 5

    return 4 if i in _user_defined(sp) else 1  # user-defined: only the proto says


_USER: dict[int, set[int]] = {}


def _user_defined(sp: Any) -> set[int]:
    key = id(sp)
    if key not in _USER:
        from sentencepiece import sentencepiece_model_pb2

        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(sp.serialized_model_proto())
        _USER[key] = {i for i, p in enumerate(proto.pieces) if p.type == 4}
    return _USER[key]


def export_gguf(loaded: LoadedModel, out: Path) -> Path:
    """Write `out`/model.gguf; `out` is created and must be empty or absent."""
    import gguf

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out} is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.gguf"
    meta = gguf_metadata(loaded)
    writer = gguf.GGUFWriter(str(path), arch="mpt")  # writes general.architecture
    c = loaded.config
    writer.add_name(meta["general.name"])
    writer.add_file_type(meta["general.file_type"])
    writer.add_context_length(c.max_seq_len)
    writer.add_embedding_length(c.d_model)
    writer.add_block_count(c.n_layers)
    writer.add_feed_forward_length(c.expansion_ratio * c.d_model)
    writer.add_head_count(c.n_heads)
    writer.add_layer_norm_eps(c.norm_eps)
    writer.add_max_alibi_bias(c.alibi_bias_max)
    if loaded.tokenizer is not None:
        writer.add_tokenizer_model("llama")
        writer.add_token_list(meta["tokenizer.ggml.tokens"])
        writer.add_token_scores(meta["tokenizer.ggml.scores"])
        writer.add_token_types(meta["tokenizer.ggml.token_type"])
        writer.add_unk_token_id(meta["tokenizer.ggml.unknown_token_id"])
        writer.add_bos_token_id(meta["tokenizer.ggml.bos_token_id"])
        writer.add_eos_token_id(meta["tokenizer.ggml.eos_token_id"])
        writer.add_add_bos_token(False)
        writer.add_add_space_prefix(False)
    for name, array in gguf_tensors(loaded.model).items():
        writer.add_tensor(name, np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def read_gguf(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, tensors) of a GGUF file as `gguf.GGUFReader` parses it."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    meta = {}
    for key, f in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        meta[key] = f.contents()
    tensors = {}
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # GGUF lists dims inner first
        tensors[t.name] = np.asarray(t.data).reshape(shape)
    return meta, tensors


def load_gguf(path: Path) -> Any:
    """Our MPT rebuilt from a GGUF file this module wrote (weights and shape only)."""
    import torch

    from trainer.model import MPT
    from trainer.model_config import ModelConfig

    meta, tensors = read_gguf(path)
    if meta.get("general.architecture") != "mpt":
        raise ConfigError(f"{path} is not an MPT GGUF (architecture "
                          f"{meta.get('general.architecture')!r})")  # fmt: skip
    d = int(meta["mpt.embedding_length"])
    config = ModelConfig(
        d_model=d, n_layers=int(meta["mpt.block_count"]),
        n_heads=int(meta["mpt.attention.head_count"]),
        vocab_size=int(tensors["token_embd.weight"].shape[0]),
        max_seq_len=int(meta["mpt.context_length"]),
        alibi_bias_max=float(meta["mpt.attention.max_alibi_bias"]),
        expansion_ratio=int(meta["mpt.feed_forward_length"]) // d,
        norm_eps=float(np.float32(meta["mpt.attention.layer_norm_epsilon"])),
        tie_embeddings="output.weight" not in tensors, attention="sdpa",
    )  # fmt: skip
    model = MPT(config)
    names = {gguf_name(k): k for k in model.state_dict()}
    model.load_state_dict({names[k]: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
    return model.eval()
