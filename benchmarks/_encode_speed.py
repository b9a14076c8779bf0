"""Part (d) of benchmarks/tokenizer.py: encoders on the same model, MB per CPU-second.

Contenders, each on the same texts, one process, CPU time (`time.process_time`, every
thread of the process counted) around the encode alone, median of the repeats:

- `sentencepiece`: SentencePiece's own `encode(texts, num_threads=1)` (the reference ids).
- `pieces, cold`: `tokenizer.fast_encode.PieceEncoder` with an empty cache, fed batches of
  `--batch-mb` (a worker's first partitions); `pieces, warm`: the same texts again.
- `pieces, counts only`: `CodeTokenizer.count` (no ids kept), warm.
- assembly of the ids from the warm cache, three ways: `b"".join` of cached bytes (what
  `PieceEncoder` does), numpy gather (piece -> key, one flat table with offsets, built
  before timing; `np.repeat` + fancy indexing), `np.concatenate` of cached arrays.
- `HF tokenizers`: a `tokenizers` BPE built from the model's pieces and scores (merges
  ordered by score, byte fallback, indent pieces as added tokens, the same whitespace
  split), `encode_batch` (its own threads, all counted); reported with the number of
  files whose ids differ from SentencePiece's.

Every contender's ids are checked against SentencePiece's on every text (texts holding a
literal "▁" are left out: `CodeTokenizer` encodes those specially, tested elsewhere).
"""

import time
from collections.abc import Callable
from itertools import chain

import numpy as np

from benchmarks._common import MB, markdown_table, median, settle


def _cpu(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def _batches(texts: list[str], batch_bytes: int) -> list[list[str]]:
    out, current, size = [], [], 0
    for text in texts:
        current.append(text)
        size += len(text)
        if size >= batch_bytes:
            out.append(current)
            current, size = [], 0
    return [*out, current] if current else out


def hf_tokenizer(model_bytes: bytes):
    """A `tokenizers` BPE with SentencePiece's pieces, scores and whitespace split."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers

    proto = model_pb2.ModelProto()
    proto.ParseFromString(model_bytes)
    normal = {model_pb2.ModelProto.SentencePiece.NORMAL,
              model_pb2.ModelProto.SentencePiece.USER_DEFINED}  # fmt: skip
    vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
    scores = {p.piece: p.score for p in proto.pieces if p.type in normal}
    merges = []
    for piece, score in scores.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in scores and right in scores:
                merges.append((-score, vocab[piece], left, right))
    merges.sort()
    model = models.BPE(vocab, [(a, b) for _, _, a, b in merges], unk_token="<unk>",
                       byte_fallback=True, fuse_unk=True)  # fmt: skip
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Replace(" ", "\u2581")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex("\u2581+[^\u2581]*|[^\u2581]+"), behavior="isolated"
    )
    user = model_pb2.ModelProto.SentencePiece.USER_DEFINED
    users = [p.piece for p in proto.pieces if p.type == user]
    tokenizer.add_tokens([AddedToken(u, normalized=True, special=False) for u in users])
    return tokenizer


def _table(
    cached: dict[str, bytes], dtype
) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """The cache as one flat id array with per-piece starts and lengths (built untimed)."""
    arrays = [np.frombuffer(v, dtype) for v in cached.values()]
    lengths = np.fromiter(map(len, arrays), np.int64, len(arrays))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return {p: i for i, p in enumerate(cached)}, np.concatenate(arrays), starts, lengths


def _gather(table, split: list[list[str]]) -> list[np.ndarray]:
    """Ids by numpy: every piece a key into one flat table; one gather per batch."""
    keys, flat, starts, lengths = table
    get = keys.__getitem__
    per_doc = [len(p) for p in split]
    k = np.fromiter(chain.from_iterable(map(get, p) for p in split), np.int64, sum(per_doc))
    n = lengths[k]
    ends = np.cumsum(n)
    ids = flat[np.arange(int(ends[-1])) - np.repeat(ends - n - starts[k], n)]
    return np.split(ids, ends[np.cumsum(per_doc) - 1][:-1])


def _assembly(cached: dict[str, bytes], batches: list[list[str]], dtype, times) -> list:
    """Ids of every text from a warm cache, three ways; returns the numpy gather's."""
    from tokenizer.fast_encode import PIECES

    split = [[PIECES.findall(x) for x in b] for b in batches]
    arrays = {p: np.frombuffer(v, dtype) for p, v in cached.items()}
    get, aget, empty = cached.__getitem__, arrays.__getitem__, np.zeros(0, dtype)
    table = _table(cached, dtype)
    t, _ = _cpu(lambda: [[b"".join(map(get, p)) for p in s] for s in split])
    times.setdefault("assembly: bytes join", []).append(t)
    t, gathered = _cpu(lambda: [_gather(table, s) for s in split])
    times.setdefault("assembly: numpy gather", []).append(t)
    t, _ = _cpu(lambda: [[np.concatenate([*map(aget, p)] or [empty]) for p in s] for s in split])
    times.setdefault("assembly: np.concatenate", []).append(t)
    return gathered


def encode_speed(model_bytes: bytes, texts: list[str], repeats: int, batch_bytes: int) -> bool:
    import sentencepiece as spm

    from tokenizer.fast_encode import PieceEncoder, unsafe_settings
    from tokenizer.model import CodeTokenizer

    texts = [t for t in texts if "\u2581" not in t]
    size = sum(len(t.encode()) for t in texts) / MB
    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    code = CodeTokenizer(model_bytes)
    dtype, space = code.token_dtype, code._space_ids
    print(f"\n(d) encoding {len(texts)} texts ({size:.1f} MB) with the "
          f"{processor.get_piece_size()}-piece model; unsafe settings: "
          f"{unsafe_settings(processor) or 'none'}", flush=True)  # fmt: skip
    batches = _batches(texts, batch_bytes)
    times: dict[str, list[float]] = {}
    late: dict[str, list[float]] = {}
    late_texts = [t for b in batches[len(batches) // 2 :] for t in b]
    late_mb = sum(len(t.encode()) for t in late_texts) / MB
    reference: list[list[int]] = []
    hf = hf_tokenizer(model_bytes)
    full = PieceEncoder(processor, dtype, space, max_cached_bytes=1 << 40)  # every piece
    for batch in batches:
        full.encode(batch)
    hf_diff = 0
    for repeat in range(repeats):
        settle(max_wait=10)  # CPU time is measured: a busy machine only slows the clock
        t, reference = _cpu(lambda: processor.encode(texts, num_threads=1))
        times.setdefault("sentencepiece", []).append(t)
        encoder = PieceEncoder(processor, dtype, space)
        cold, per_batch = [], []
        for batch in batches:
            t, out = _cpu(lambda e=encoder, b=batch: e.encode(b).docs)
            cold.extend(out)
            per_batch.append(t)
        times.setdefault("pieces, cold", []).append(sum(per_batch))
        # the second half of a cold pass: new files, a cache warmed by the first half
        t, _ = _cpu(lambda: processor.encode(late_texts, num_threads=1))
        late.setdefault("sentencepiece", []).append(t)
        late.setdefault("pieces", []).append(sum(per_batch[len(batches) // 2 :]))
        t, warm = _cpu(lambda e=encoder: [d for b in batches for d in e.encode(b).docs])
        times.setdefault("pieces, warm", []).append(t)
        t, _ = _cpu(lambda: [code.count(b) for b in batches])
        t, _ = _cpu(lambda: [code.count(b) for b in batches])
        times.setdefault("pieces, counts only (warm)", []).append(t)
        gathered = _assembly(full._cache, batches, dtype, times)
        t, hf_out = _cpu(lambda: hf.encode_batch(texts, add_special_tokens=False))
        times.setdefault("HF tokenizers encode_batch", []).append(t)
        if repeat == 0:
            expect = [np.array(r, dtype).tobytes() for r in reference]
            for name, got in (("cold", cold), ("warm", warm)):
                if got != expect:
                    bad = sum(a != b for a, b in zip(got, expect, strict=True))
                    raise SystemExit(f"pieces ({name}) differ from SentencePiece on {bad} texts")
            flat_gathered = [a.tobytes() for g in gathered for a in g]
            if flat_gathered != expect:
                raise SystemExit("numpy gather differs from SentencePiece")
            hf_diff = sum(h.ids != r for h, r in zip(hf_out, reference, strict=True))
    base = median(times["sentencepiece"])
    rows = []
    for name, values in times.items():
        t = median(values)
        rows.append([name, f"{t:.2f}", f"{size / t:.1f}", f"{base / t:.2f}x"])
    print(f"\n## (d) Encoders, {size:.1f} MB, median of {repeats}, CPU seconds\n")
    print(markdown_table(["contender", "CPU s", "MB per CPU-s", "vs sentencepiece"], rows))
    cold_ratio = base / median(times["pieces, cold"])
    warm_ratio = base / median(times["pieces, warm"])
    print(f"- pieces: the same ids as SentencePiece on all {len(texts)} texts; "
          f"{encoder.misses} distinct pieces encoded cold")  # fmt: skip
    late_ratio = median(late["sentencepiece"]) / median(late["pieces"])
    print(f"- second half of the cold pass ({late_mb:.1f} MB of files not seen before, cache "
          f"warmed by the first half): {late_mb / median(late['pieces']):.1f} MB per CPU-s, "
          f"{late_ratio:.2f}x SentencePiece on the same files")  # fmt: skip
    print(f"- HF tokenizers: ids differ from SentencePiece on {hf_diff} of {len(texts)} texts"
          f"{' (exact)' if hf_diff == 0 else ' (not exact: not a candidate)'}")  # fmt: skip
    print(
        f"- ratio vs SentencePiece: cold {cold_ratio:.2f}x, warm {warm_ratio:.2f}x "
        f"(target >= 4x) -> {'met' if min(cold_ratio, warm_ratio) >= 4 else 'NOT met'}"
    )
    return min(cold_ratio, warm_ratio) >= 4
