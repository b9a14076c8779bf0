"""MinHash signatures of source files over word-token n-gram shingles (numba kernel).

Tokens are runs of word characters, where a word character is an ASCII letter,
digit or underscore, or ANY non-ASCII character (`TOKEN_PATTERN`). That is exactly
what a byte-level scanner over UTF-8 sees when it treats [A-Za-z0-9_] and every
byte >= 0x80 as word bytes: a non-ASCII character's UTF-8 bytes are all >= 0x80,
and no ASCII byte ever occurs inside one. So `café`, `λx` and `名前` are single
tokens, while punctuation, whitespace (tabs, CR, LF) and other ASCII symbols
separate tokens and are otherwise ignored.

A shingle is a window of `ngram` consecutive tokens; a file with fewer tokens has
none and gets the EMPTY signature (every position 0xFFFFFFFF), which callers
must not treat as a candidate (two EMPTY signatures estimate a Jaccard of 1).

Hashing (all 64-bit arithmetic wraps mod 2**64; identical in the numba kernel and
in the pure-Python slow path `MinHasher.signature_of_tokens`):

- token: FNV-1a-64 over its UTF-8 bytes, then the murmur3 fmix64 finaliser;
- shingle: ``fmix64(sum_q t_q * M_q)`` over the window's token hashes, oldest
  first, with a distinct odd multiplier `M_q` per position (order matters); its
  top 32 bits are the shingle key `x`;
- permutation k: ``h_k(x) = ((a_k * x + b_k) mod 2**64) >> 32`` with `a_k` odd and
  `b_k` random 64-bit words (multiply-add-shift, 2-universal for 32-bit keys),
  drawn from `np.random.PCG64(seed)`'s raw output, so they do not depend on how a
  NumPy version maps raw bits to `Generator.integers`;
- signature[k] = min over the file's shingles of h_k(x).

Deterministic: the same seed gives bitwise identical signatures in every process
(no Python `hash()`, no per-process salt).

Choices in `_signatures_kernel`, each kept because it measured faster
(`python -m benchmarks.dedup_speed_signatures`; figures in the README, "Measurements
behind design choices"): a branch-free token scan; 512-bit vectors for the permutation
loop instead of LLVM's default 256-bit preference; the minimum over the full 64-bit
products instead of their top halves (no narrowing per step); two shingle keys per sweep
over the permutations. Removing a file's repeated shingle keys first (sort + unique) is
NOT done: sorting costs more per key than the repeats it removes would save.
"""

import re

import numba
import numpy as np
import pyarrow as pa
from numba import types
from numba.extending import intrinsic

#: Word tokens: runs of ASCII word characters, where any non-ASCII character counts as
#: a word character (the byte-level view of UTF-8: bytes >= 0x80 are word bytes).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]+")

#: Signature value of a file without shingles (null, empty or fewer than `ngram` tokens).
EMPTY = np.uint32(0xFFFFFFFF)

_MASK64 = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_FMIX_C1 = 0xFF51AFD7ED558CCD
_FMIX_C2 = 0xC4CEB9FE1A85EC53
#: Seeds of the per-position shingle multipliers (made odd): splitmix64 of the position.
_GOLDEN = 0x9E3779B97F4A7C15


def _word_bytes() -> np.ndarray:
    table = np.zeros(256, dtype=np.bool_)
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_":
        table[c] = True
    table[0x80:] = True
    return table


_WORD = _word_bytes()


def _splitmix64(x: int) -> int:
    z = (x + _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _position_multipliers(ngram: int) -> np.ndarray:
    return np.array([_splitmix64(q) | 1 for q in range(ngram)], dtype=np.uint64)


def _fmix64_py(h: int) -> int:
    h ^= h >> 33
    h = (h * _FMIX_C1) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX_C2) & _MASK64
    return h ^ (h >> 33)


def _token_hash_py(token: str) -> int:
    h = _FNV_OFFSET
    for byte in token.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return _fmix64_py(h)


def _shingle_hashes64_py(tokens: list[str], multipliers: np.ndarray) -> list[int]:
    """The 64-bit shingle hashes (before taking the top 32 bits), in window order."""
    ngram = len(multipliers)
    mults = [int(m) for m in multipliers]
    hashes = [_token_hash_py(t) for t in tokens]
    out = []
    for start in range(len(hashes) - ngram + 1):
        s = 0
        for q in range(ngram):
            s = (s + hashes[start + q] * mults[q]) & _MASK64
        out.append(_fmix64_py(s))
    return out


def reference_shingles(text: str, ngram: int) -> set[bytes]:
    """The set of `ngram`-token windows of `text`, joined by one space, UTF-8 encoded
    (pure Python; what tests and the datasketch baselines feed `MinHash.update_batch`).
    Fewer than `ngram` tokens give the empty set."""
    tokens = TOKEN_PATTERN.findall(text)
    return {" ".join(tokens[i : i + ngram]).encode("utf-8") for i in range(len(tokens) - ngram + 1)}


# -- the numba kernel -------------------------------------------------------------------

_U64_33 = np.uint64(33)
_U64_32 = np.uint64(32)
_U64_FNV_OFFSET = np.uint64(_FNV_OFFSET)
_U64_FNV_PRIME = np.uint64(_FNV_PRIME)
_U64_FMIX_C1 = np.uint64(_FMIX_C1)
_U64_FMIX_C2 = np.uint64(_FMIX_C2)
_U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)

#: LLVM function attribute that lets the loop vectoriser use 512-bit registers: on
#: AVX-512 machines LLVM otherwise prefers 256 bits, and the permutation loop (64-bit
#: multiplies) then runs at half the speed. A hint only; ignored where there is no AVX-512.
_PREFER_512 = '"prefer-vector-width"="512"'


def _string_attributes_work() -> bool:
    """Whether this llvmlite renders a string function attribute that LLVM accepts
    (llvmlite's API only knows enum attributes, so we add it to the set directly)."""
    try:
        import llvmlite.binding as llvm
        import llvmlite.ir as llvm_ir

        module = llvm_ir.Module()
        function = llvm_ir.Function(module, llvm_ir.FunctionType(llvm_ir.VoidType(), []), "f")
        set.add(function.attributes, _PREFER_512)
        llvm_ir.IRBuilder(function.append_basic_block()).ret_void()
        text = str(module)
        llvm.parse_assembly(text).verify()
        return _PREFER_512 in text
    except Exception:  # any change in llvmlite: compile without the hint
        return False


_HINT_512 = _string_attributes_work()


@intrinsic
def _prefer_512_bit_vectors(typingctx):
    def codegen(context, builder, signature, args):
        if _HINT_512:
            set.add(builder.function.attributes, _PREFER_512)
        return context.get_dummy_value()

    return types.void(), codegen


@numba.njit(inline="always")
def _fmix64(h):
    h ^= h >> _U64_33
    h *= _U64_FMIX_C1
    h ^= h >> _U64_33
    h *= _U64_FMIX_C2
    h ^= h >> _U64_33
    return h


@numba.njit(cache=True, nogil=True)
def _signatures_kernel(data, offsets, valid, word, mults, a, b, sig, counts):
    """Fill `sig` [n, P] and `counts` [n] for the UTF-8 rows data[offsets[i]:offsets[i+1]].

    Per row, three passes over scratch arrays, each a tight loop: (1) a branch-free byte
    scan that records every token's FNV-1a state (a branchy scanner mispredicts at every
    token boundary and ran at half the speed); (2) fmix64 of the token hashes and one key
    per window of `ngram` of them; (3) the permutations, two keys per sweep over k, with
    the running minimum kept on the full 64-bit value (min commutes with >> 32), so the
    loop is multiply, add, min on 8-lane vectors.
    """
    _prefer_512_bit_vectors()
    n = offsets.shape[0] - 1
    perms = a.shape[0]
    ngram = mults.shape[0]
    longest = 0
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    # A token takes >= 1 byte plus a separator: a row has <= (len + 1) // 2 tokens; the
    # scan also writes one slot past the last token.
    toks = np.empty(longest // 2 + 2, dtype=np.uint64)
    keys = np.empty(longest // 2 + 2, dtype=np.uint64)
    acc = np.empty(perms, dtype=np.uint64)
    for i in range(n):
        acc[:] = _U64_MAX
        tokens = 0
        if valid[i]:
            h = _U64_FNV_OFFSET
            inside = False
            for j in range(offsets[i], offsets[i + 1]):
                c = data[j]
                is_word = word[c]
                toks[tokens] = h  # kept only when a token ends here
                tokens += inside and not is_word
                h = (h ^ np.uint64(c)) * _U64_FNV_PRIME if is_word else _U64_FNV_OFFSET
                inside = is_word
            toks[tokens] = h
            tokens += inside
        counts[i] = tokens
        shingles = tokens - ngram + 1
        if shingles > 0:
            for t in range(tokens):
                toks[t] = _fmix64(toks[t])
            keys[:shingles] = 0
            for q in range(ngram):
                mq = mults[q]
                for w in range(shingles):
                    keys[w] += toks[w + q] * mq
            for w in range(shingles):
                keys[w] = _fmix64(keys[w]) >> _U64_32
            m = 0
            while m + 1 < shingles:
                x0 = keys[m]
                x1 = keys[m + 1]
                for k in range(perms):
                    acc[k] = min(acc[k], min(a[k] * x0 + b[k], a[k] * x1 + b[k]))
                m += 2
            if m < shingles:
                x0 = keys[m]
                for k in range(perms):
                    acc[k] = min(acc[k], a[k] * x0 + b[k])
        for k in range(perms):
            sig[i, k] = np.uint32(acc[k] >> _U64_32)


def _row_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTF-8 data, int64 offsets [n + 1] into it, validity [n]) of a string array,
    honouring the array's offset (slices) and nulls."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    n = len(array)
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offset_buf, data_buf = array.buffers()
    if offset_buf is None:  # a zero-length array may come without buffers
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        offsets = np.frombuffer(offset_buf, dtype=width)[array.offset : array.offset + n + 1]
        offsets = offsets.astype(np.int64)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=np.bool_)
    return data, offsets, valid


class MinHasher:
    """MinHash signatures (`num_perm` uint32 per file) over `ngram`-token shingles."""

    def __init__(self, num_perm: int = 256, ngram: int = 5, seed: int = 42):
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        if ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {ngram}")
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        raw = np.random.Generator(np.random.PCG64(seed)).bit_generator.random_raw(2 * num_perm)
        raw = np.asarray(raw, dtype=np.uint64)
        self.a = raw[:num_perm] | np.uint64(1)
        self.b = raw[num_perm:].copy()
        self.multipliers = _position_multipliers(ngram)

    def signatures(
        self, texts: pa.Array | pa.ChunkedArray | list[str | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32 [n, num_perm], token counts int32 [n]) of `texts`.

        Null rows count 0 tokens; rows with fewer than `ngram` tokens keep their count and
        get the EMPTY signature (all 0xFFFFFFFF)."""
        if isinstance(texts, pa.ChunkedArray):
            chunks = texts.chunks
        elif isinstance(texts, pa.Array):
            chunks = [texts]
        else:
            chunks = [pa.array(texts, type=pa.large_string())]
        n = sum(len(c) for c in chunks)
        sig = np.empty((n, self.num_perm), dtype=np.uint32)
        counts = np.empty(n, dtype=np.int32)
        row = 0
        for chunk in chunks:
            rows = len(chunk)
            if rows:
                data, offsets, valid = _row_buffers(chunk)
                _signatures_kernel(
                    data, offsets, valid, _WORD, self.multipliers, self.a, self.b,
                    sig[row : row + rows], counts[row : row + rows],
                )  # fmt: skip
            row += rows
        return sig, counts

    def signature_of_tokens(self, tokens: list[str]) -> np.ndarray:
        """The signature of one file given its tokens (`TOKEN_PATTERN.findall(text)`):
        a pure-Python/NumPy slow path, bitwise equal to what `signatures` computes."""
        sig = np.full(self.num_perm, EMPTY, dtype=np.uint32)
        hashes = _shingle_hashes64_py(tokens, self.multipliers)
        if hashes:
            keys = np.array([h >> 32 for h in hashes], dtype=np.uint64)
            values = (keys[:, None] * self.a[None, :] + self.b[None, :]) >> np.uint64(32)
            sig = values.min(axis=0).astype(np.uint32)
        return sig

    def warm(self) -> None:
        """Compile (or load from numba's cache) the kernel on a tiny input."""
        self.signatures(["warm up the minhash kernel once", None])


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity: the fraction of equal signature positions, row-wise
    for [n, p] inputs (a float for 1-D inputs). Two EMPTY signatures estimate 1.0."""
    a = np.asarray(a)
    b = np.asarray(b)
    return np.mean(a == b, axis=-1)
