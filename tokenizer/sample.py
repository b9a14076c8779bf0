"""The training sample: which files, drawn deterministically, and how long ones are cut.

Selection is by a seeded hash of each file's id, never by position or random order, so
the same files are drawn whatever the order or partitioning of the input. A language's
rate is its target bytes over its available bytes; files whose hash falls below the
rate are candidates, and the candidates are taken in hash order until the target is
met. The sample (bounded by `sample_bytes`, and held by SentencePiece in memory anyway)
is the only thing collected; the corpus itself streams through.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from tokenizer.config import TokenizerConfig
from tokenizer.errors import InvalidTextError

#: Column names of the record schema (corpus/core/schema.py) that sampling reads.
ID, LANG, CONTENT = "file_id", "lang", "content"
#: Language of rows whose `lang` is null.
UNKNOWN = "unknown"

Batches = pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch]


def language_bytes(batches: Batches) -> dict[str, int]:
    """UTF-8 bytes of content per language (null content ignored), e.g. for a stream."""
    totals: dict[str, int] = defaultdict(int)
    for batch in _batches(batches):
        table = pa.table({LANG: _langs(batch), "n": pc.binary_length(batch[CONTENT])})
        for row in table.group_by(LANG).aggregate([("n", "sum")]).to_pylist():
            totals[row[LANG]] += row["n_sum"] or 0
    return dict(sorted(totals.items()))


def language_targets(available: Mapping[str, int], config: TokenizerConfig) -> dict[str, int]:
    """Bytes to draw per language: `language_weights` shares, or shares proportional to
    bytes where no language exceeds `max_language_share` (water-filling: what a capped
    language leaves goes to the others by their bytes), never more than is available."""
    budget = min(config.sample_bytes, sum(available.values()))
    if config.language_weights is not None:
        weights = {k: w for k, w in config.language_weights.items() if available.get(k, 0) > 0}
        total = sum(weights.values()) or 1.0
        return {k: min(available[k], int(budget * w / total)) for k, w in sorted(weights.items())}
    targets: dict[str, int] = {}
    open_langs = {k: v for k, v in available.items() if v > 0}
    remaining = budget
    while open_langs and remaining > 0:
        cap = config.max_language_share * budget
        total = sum(open_langs.values())
        shares = {k: remaining * v / total for k, v in open_langs.items()}
        limited = {k for k, s in shares.items() if s >= min(cap, open_langs[k])}
        if not limited:
            targets.update({k: int(s) for k, s in shares.items()})
            break
        for k in sorted(limited):
            targets[k] = int(min(cap, open_langs[k]))
            remaining -= targets[k]
            del open_langs[k]
    return dict(sorted(targets.items()))


def sample_documents(
    batches: Batches,
    config: TokenizerConfig,
    available: Mapping[str, int] | None = None,
) -> list[tuple[str, str]]:
    """(lang, text) of the sampled files, ordered by language then selection hash.

    `available` is the bytes per language (`language_bytes`); it is computed from
    `batches` when they are a table, and must be given for a one-pass stream (a
    version's stats hold it). Rows with null content are skipped, empty texts too.
    """
    if available is None:
        if not isinstance(batches, pa.Table | pa.RecordBatch):
            raise InvalidTextError(
                "sampling a stream of batches needs `available` (bytes per language, e.g. "
                "from language_bytes() or the version's stats): the stream is read once"
            )
        available = language_bytes(batches)
    targets = language_targets(available, config)
    rates = {k: min(1.0, 1.05 * t / available[k]) for k, t in targets.items() if t > 0}
    chosen: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for batch in _batches(batches):
        langs = _langs(batch).to_pylist()
        ids = batch[ID].to_pylist()
        contents = batch[CONTENT]
        for i, (lang, file_id) in enumerate(zip(langs, ids, strict=True)):
            rate = rates.get(lang)
            if rate is None:
                continue
            key = selection_key(file_id, config.seed)
            if key < rate * 2**64:
                text = contents[i].as_py()
                if text:
                    chosen[lang].append((key, text))
    sample: list[tuple[str, str]] = []
    for lang in sorted(chosen):
        used = 0
        for _, text in sorted(chosen[lang]):
            size = len(text.encode())
            if used + size > targets[lang]:
                continue  # the target is a bound: a file that would cross it is skipped
            sample.append((lang, text))
            used += size
    return sample


def selection_key(file_id: str, seed: int) -> int:
    """A uniform 64-bit key of a file for this seed."""
    digest = hashlib.blake2b(file_id.encode(), digest_size=8, key=seed.to_bytes(8, "little"))
    return int.from_bytes(digest.digest(), "little")


def split_long(text: str, max_bytes: int) -> Iterator[str]:
    """`text` in pieces of at most `max_bytes` UTF-8 bytes, cut after a newline where one
    falls in the window (a line longer than the window is cut between characters).
    The pieces concatenate back to `text`."""
    if len(text) * 4 <= max_bytes or len(text.encode()) <= max_bytes:
        yield text
        return
    data = text.encode()
    start = 0
    while len(data) - start > max_bytes:
        end = data.rfind(b"\n", start, start + max_bytes) + 1
        if end <= start:  # no newline in the window: cut at a character boundary
            end = start + max_bytes
            while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
                end -= 1
        yield data[start:end].decode()
        start = end
    if start < len(data):
        yield data[start:].decode()


def _batches(batches: Batches) -> Iterator[pa.Table | pa.RecordBatch]:
    if isinstance(batches, pa.Table | pa.RecordBatch):
        yield batches
    else:
        yield from batches


def _langs(batch: pa.Table | pa.RecordBatch) -> pa.Array:
    return pc.fill_null(batch[LANG], UNKNOWN)
