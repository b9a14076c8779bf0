"""Bits per byte: the model's code length of a text divided by the text's UTF-8 bytes.

Loss per token depends on the vocabulary (a bigger vocabulary has fewer, harder tokens), so
runs with different tokenizers do not compare by it; bits per byte do: sum over a document's
tokens of -log2 p(token | preceding tokens), over the document's bytes. Each document is
scored on its own, after the end-of-document id (what precedes it in training), in
consecutive windows of `seq_len` inputs (the model's training context); its trailing
end-of-document token is not scored, so the numerator is the cost of the bytes alone.

Sources: the validation shards of the run's version, per language, and HumanEval's prompt +
canonical solution as a fixed probe of clean Python that no version's data changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus.core.errors import ConfigError


def document_bits(model: Any, documents: Sequence[Sequence[int]], eod_id: int, seq_len: int,
                  batch_size: int = 16) -> list[float]:  # fmt: skip
    """-log2 likelihood of each document's tokens (its EOD excluded) under `model`."""
    import torch
    import torch.nn.functional as F

    windows, owners = [], []
    for d, doc in enumerate(documents):
        seq = [eod_id, *[int(t) for t in doc]]
        for start in range(0, len(seq) - 1, seq_len):
            chunk = seq[start : start + seq_len + 1]
            windows.append(chunk)
            owners.append(d)
    bits = [0.0] * len(documents)
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for b in range(0, len(windows), batch_size):
            group = windows[b : b + batch_size]
            width = max(len(w) for w in group)
            x = torch.zeros(len(group), width - 1, dtype=torch.long)
            y = torch.full((len(group), width - 1), -1, dtype=torch.long)
            for r, w in enumerate(group):
                x[r, : len(w) - 1] = torch.tensor(w[:-1])
                y[r, : len(w) - 1] = torch.tensor(w[1:])
            logits, _ = model(x.to(device))
            nll = F.cross_entropy(logits.float().transpose(1, 2), y.to(device),
                                  ignore_index=-1, reduction="none").sum(dim=1)  # fmt: skip
            for r, value in enumerate(nll.tolist()):
                bits[owners[b + r]] += value / math.log(2)
    return bits


def bits_per_byte(model: Any, tokenizer: Any, texts: Mapping[str, Sequence[Sequence[int]]],
                  seq_len: int) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per source: bits per byte over its documents (token-id sequences, EOD stripped)."""
    out = {}
    for name, docs in texts.items():
        docs = [d for d in docs if len(d)]
        if not docs:
            continue
        n_bytes = sum(len(tokenizer.decode(d).encode()) for d in docs)
        bits = sum(document_bits(model, docs, tokenizer.eod_id, seq_len))
        out[name] = {"bits_per_byte": bits / n_bytes, "bytes": n_bytes,
                     "tokens": sum(len(d) for d in docs), "documents": len(docs)}  # fmt: skip
    return out


def validation_documents(
    prefixes: Mapping[str, Sequence[str | Path]], eod_id: int, max_documents: int | None = 200
) -> dict[str, list[np.ndarray]]:
    """The documents of each language's validation shards, trailing EOD stripped; at most
    `max_documents` per language, spread evenly over them."""
    from tokenizer.shards import ShardReader

    out = {}
    for language, paths in prefixes.items():
        docs = [doc for p in paths for doc in ShardReader(p)]
        if max_documents is not None and len(docs) > max_documents:
            picks = np.arange(max_documents) * len(docs) // max_documents
            docs = [docs[i] for i in picks]
        out[language] = [d[:-1] if len(d) and d[-1] == eod_id else d for d in docs]
    return out


def humaneval_documents(tokenizer: Any) -> list[list[int]]:
    from trainer.evaluation.humaneval import load_problems

    return tokenizer.encode_batch([p.prompt + p.canonical_solution for p in load_problems()])


def evaluate_bpb(
    loaded: Any, validation: Mapping[str, Sequence[str]] | None,
    max_documents: int | None = 200, humaneval: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Bits per byte of a loaded run on its validation shards and the HumanEval probe."""
    tok = loaded.tokenizer
    if tok is None:
        raise ConfigError(f"{loaded.source} keeps no tokenizer.model: bits per byte need the "
                          "tokenizer to count bytes")  # fmt: skip
    if tok.vocab_size != loaded.config.vocab_size:
        raise ConfigError(f"the tokenizer has {tok.vocab_size} pieces, the model "
                          f"{loaded.config.vocab_size}: not the run's tokenizer")  # fmt: skip
    texts: dict[str, Sequence[Sequence[int]]] = {}
    if validation:
        texts.update(validation_documents(validation, tok.eod_id, max_documents))
    seq_len = loaded.seq_len or loaded.config.max_seq_len
    by_language = bits_per_byte(loaded.model, tok, texts, seq_len)
    result: dict[str, Any] = {"bits_per_byte_by_language": by_language}
    if by_language:
        bits = sum(v["bits_per_byte"] * v["bytes"] for v in by_language.values())
        result["bits_per_byte"] = bits / sum(v["bytes"] for v in by_language.values())
    if humaneval:
        probe = bits_per_byte(loaded.model, tok, {"humaneval": humaneval_documents(tok)}, seq_len)
        result["humaneval_bits_per_byte"] = probe["humaneval"]["bits_per_byte"]
    return result
