"""The run's SentencePiece model as a `transformers` fast tokenizer, id for id.

Our SentencePiece settings (tokenizer.config: BPE, identity normalization, no dummy prefix,
split by whitespace with whitespace-only pieces, indentation runs as user-defined symbols,
byte fallback) map onto `tokenizers` as:

- normalizer: every space becomes "▁" (nothing else changes: identity rule);
- the user-defined symbols as added tokens (normalized, longest match first), as
  SentencePiece's prefix matcher keeps them whole;
- pre-tokenizer: a word is a run of "▁" and the text up to the next "▁", as SentencePiece's
  word split with allow_whitespace_only_pieces cuts it;
- BPE with SentencePiece's vocabulary, merges in score order, byte fallback.

One input this cannot reproduce: a literal "▁" (U+2581) in the text. Our CodeTokenizer writes
it as its three byte pieces (so decode gives it back), while after the normalizer it is a space
to `tokenizers`. Texts holding U+2581 need `trainer.loading.load_tokenizer` (the SentencePiece
model shipped beside, tokenizer.model). Control pieces are special tokens, but the literal
text "</s>" is encoded as characters, as SentencePiece does (split_special_tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPACE = "\u2581"


def hf_tokenizer(tokenizer: Any) -> Any:
    """A `PreTrainedTokenizerFast` for a `tokenizer.model.CodeTokenizer`."""
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers as pre
    from transformers import PreTrainedTokenizerFast

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(tokenizer.model_bytes)
    vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
    # BPE merges: every split of a piece into two known pieces, ranked by the merged piece's
    # score (SentencePiece merges the highest-scored pair first).
    merges = []
    for piece, pid in vocab.items():
        if proto.pieces[pid].type != 1:  # NORMAL pieces only
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                merges.append((proto.pieces[pid].score, vocab[left], vocab[right], left, right))
    merges.sort(key=lambda m: (-m[0], m[1], m[2]))
    unk = proto.pieces[proto.trainer_spec.unk_id].piece
    model = models.BPE(vocab=vocab, merges=[(m[3], m[4]) for m in merges], unk_token=unk,
                       byte_fallback=True, fuse_unk=True)  # fmt: skip
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.pre_tokenizer = pre.Split(Regex(f"{SPACE}+[^{SPACE}]*"), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(),
                                     decoders.Fuse()])  # fmt: skip
    user = [p.piece for p in proto.pieces if p.type == 4]  # USER_DEFINED
    tok.add_tokens([AddedToken(s, normalized=True, single_word=False) for s in user])
    control = [p.piece for p in proto.pieces if p.type in (2, 3)]  # UNKNOWN, CONTROL
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in control])
    eos = proto.pieces[tokenizer.eod_id].piece
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token=unk, eos_token=eos, bos_token=eos, pad_token=eos,
        split_special_tokens=True, clean_up_tokenization_spaces=False,
        model_max_length=1 << 30,
    )  # fmt: skip


def write_hf_tokenizer(tokenizer: Any, out: Path) -> None:
    """tokenizer.json and its config into an export folder (AutoTokenizer loads them)."""
    hf_tokenizer(tokenizer).save_pretrained(out)
