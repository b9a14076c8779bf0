"""The training data: a mixture of languages over Megatron shards, epochs, packing, resumption.

A run on D tokens draws D_i = round(w_i / sum(w) * D) of them from language i. Language i
reads its documents (all of them, or a seeded subset of about `unique_budget` tokens) in
floor(D_i / U_i) full passes, each in its own seeded shuffle, then a partial pass in the next
shuffle until exactly D_i tokens are drawn (the last document may be cut). Tokens are counted
as the stream holds them, end-of-document tokens included, so U_i is a little more than the
version's unique tokens (which exclude them) and the epochs a little fewer than the plan's.

The languages' streams are merged by the fraction of its own stream each document starts at
(ties: language order, then position), so every prefix of the run holds each language at its
weight to within one document. The merged stream is cut into windows of seq_len + 1 tokens
(inputs `w[:-1]`, targets `w[1:]`), window k of the run going to rank k % world_size.

Only the document order is kept in memory (a few integers per document read); tokens are
copied out of the memory-mapped shards as windows are asked for.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from corpus.core.errors import CodecorpusError, ConfigError
from tokenizer.shards import ShardReader

if TYPE_CHECKING:
    import torch


class MixtureComponent(Protocol):
    lang: str
    weight: float
    shards: Sequence[Mapping[str, Any]]


class Mixture(Protocol):
    """What the loader reads of a resolved `corpus.store.mixtures.Mixture` (the trainer does
    not import the store)."""

    components: Sequence[MixtureComponent]
    token_budget: int


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class DataError(CodecorpusError, ValueError):
    """The shards cannot serve the mixture as specified (missing, corrupt, too small)."""


class MissingShardError(DataError):
    """A shard's `.bin` or `.idx` file is not where the spec says."""


class ChecksumMismatch(DataError):
    """A shard file's sha256 differs from the one the version recorded."""


@dataclass(frozen=True)
class ShardRef:
    """One shard of a component: where it is and, optionally, what it must hash to."""

    prefix: str
    """Path without extension (`<prefix>.bin`, `<prefix>.idx`): local, or an object-store URI
    (s3://...) whose files are copied once into the shard cache, sha256 checked."""
    bin_sha256: str | None = None
    idx_sha256: str | None = None


@dataclass(frozen=True)
class ComponentSpec:
    """One language of the mixture."""

    language: str
    weight: float
    """Relative share of the training tokens (> 0; normalised over the components)."""
    shards: tuple[ShardRef, ...]
    """Train shards of the language, read in this order; plain paths are accepted."""
    unique_budget: int | None = None
    """Tokens of a seeded subset of documents to repeat instead of all (ablations)."""

    def __post_init__(self) -> None:
        refs = tuple(s if isinstance(s, ShardRef) else ShardRef(str(s)) for s in self.shards)
        object.__setattr__(self, "shards", refs)
        if not self.language:
            raise ConfigError("component language must be a non-empty name")
        if not _is_positive(self.weight):
            raise ConfigError(f"weight of {self.language!r} must be positive, got {self.weight}")
        if not refs:
            raise ConfigError(f"component {self.language!r} has no shards: give its train shards")
        budget = self.unique_budget
        if budget is not None and not (isinstance(budget, int | np.integer) and budget > 0):
            raise ConfigError(
                f"unique_budget of {self.language!r} must be a positive integer or None, got "
                f"{budget!r}"
            )


@dataclass(frozen=True)
class MixtureSpec:
    """Everything that fixes the token stream of a run (and so its exact resumption)."""

    components: tuple[ComponentSpec, ...]
    """The languages, in the order that breaks ties when merging their streams."""
    tokens: int
    """D, training tokens of the whole run (end-of-document tokens included)."""
    seq_len: int
    """Model context; windows hold seq_len + 1 tokens."""
    seed: int = 0
    """Seeds the document subsets and every pass's shuffle."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple(self.components))
        if not self.components:
            raise ConfigError("mixture is empty: give at least one component with a weight")
        names = [c.language for c in self.components]
        if len(set(names)) != len(names):
            raise ConfigError(f"languages must appear once in a mixture, got {names}")
        for name, low in (("tokens", 1), ("seq_len", 2), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def from_mixture(
        cls,
        mixture: Mixture,
        seq_len: int,
        seed: int = 0,
        unique_budget: Mapping[str, int] | None = None,
        *,
        shard_root: str | Path | None = None,
        verify: bool = False,
    ) -> MixtureSpec:
        """The spec of a resolved `corpus.store.mixtures.Mixture`: its weights, train shards and
        token budget. `shard_root`: a folder the shards were pulled into (prefixes are then
        looked up there by file name). `verify`: hash every shard file against the version."""
        budgets = dict(unique_budget or {})
        unknown = sorted(set(budgets) - {c.lang for c in mixture.components})
        if unknown:
            raise ConfigError(f"unique_budget names languages not in the mixture: {unknown}")
        components = []
        for c in mixture.components:
            shards = []
            for shard in c.shards:
                prefix = str(shard["prefix"])
                if shard_root is not None:
                    prefix = str(Path(shard_root) / Path(prefix).name)
                shards.append(ShardRef(prefix, shard.get("bin_sha256"), shard.get("idx_sha256")))
            components.append(ComponentSpec(c.lang, c.weight, tuple(shards), budgets.get(c.lang)))
        spec = cls(tuple(components), int(mixture.token_budget), seq_len, seed)
        if verify:
            spec.verify()
        return spec

    def token_targets(self) -> dict[str, int]:
        """D_i per language: round(D * w_i / sum(w)), as `corpus.store.mixtures` computes it."""
        total = sum(c.weight for c in self.components)
        return {c.language: round(self.tokens * c.weight / total) for c in self.components}

    def verify(self) -> None:
        """Hash every shard that has expected sha256s; raise naming the first that differs."""
        for component in self.components:
            for shard in component.shards:
                prefix = local_prefix(component.language, shard)
                for ext, expected in (("bin", shard.bin_sha256), ("idx", shard.idx_sha256)):
                    if expected is None:
                        continue
                    path = _shard_file(component.language, prefix, ext)
                    with open(path, "rb") as f:
                        got = hashlib.file_digest(f, "sha256").hexdigest()
                    if got != expected:
                        raise ChecksumMismatch(
                            f"shard {path} ({component.language}) has sha256 {got[:16]}..., the "
                            f"version lists {expected[:16]}...: it is corrupt or from another "
                            "version; pull it again"
                        )

    def fingerprint(self) -> str:
        """Stable hash of what fixes the stream: D_i, shard file names (not their folders) and
        checksums, budgets, seq_len and seed."""
        data = asdict(self)
        del data["tokens"]
        targets = self.token_targets()
        for component in data["components"]:
            component["tokens"] = targets[component["language"]]
            del component["weight"]  # weights enter through D_i alone
            for shard in component["shards"]:
                shard["prefix"] = Path(shard["prefix"]).name
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _is_positive(value: object) -> bool:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool) and math.isfinite(number) and number > 0


def local_prefix(language: str, ref: ShardRef) -> str:
    """A local prefix of the shard: its own, or that of its copy in the shard cache
    (`Settings.shard_cache`), downloaded once and kept only if its sha256s match."""
    from corpus.core.storage import StorageChecksumError, StorageError, download_file, is_local

    if is_local(ref.prefix):
        for ext in ("bin", "idx"):
            _shard_file(language, ref.prefix, ext)
        return ref.prefix
    from corpus.core.settings import Settings

    key = hashlib.sha256(f"{ref.prefix}\x1f{ref.bin_sha256}\x1f{ref.idx_sha256}".encode())
    local = Settings().resolved_shard_cache() / key.hexdigest()[:24] / Path(ref.prefix).name
    for ext, expected in (("idx", ref.idx_sha256), ("bin", ref.bin_sha256)):
        target = Path(f"{local}.{ext}")
        if target.is_file():  # only a checked, complete download is renamed into place
            continue
        try:
            download_file(f"{ref.prefix}.{ext}", target, expected)
        except StorageChecksumError as exc:
            raise ChecksumMismatch(f"shard of {language!r}: {exc}; pull it again") from exc
        except StorageError as exc:
            raise MissingShardError(
                f"shard file {ref.prefix}.{ext} of {language!r}: {exc}"
            ) from exc
    return str(local)


def _shard_file(language: str, prefix: str, ext: str) -> Path:
    path = Path(f"{prefix}.{ext}")
    if not path.is_file():
        raise MissingShardError(
            f"shard file {path} of {language!r} is missing: pull the version's shards there "
            "(or pass shard_root to MixtureSpec.from_mixture)"
        )
    return path


def _key(*parts: object) -> np.uint64:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _hashes(key: np.uint64, n: int) -> np.ndarray:
    """n pseudo-random uint64 (splitmix64 of key + i * golden): fixed on every platform."""
    x = key + np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _permutation(key: np.uint64, n: int) -> np.ndarray:
    return np.argsort(_hashes(key, n), kind="stable")


@dataclass(eq=False)
class DocumentOrder:
    """The run's document order for a spec: what is read, in which order, nothing more.

    Documents are rows of a table over the selected documents of every language (`doc_*`);
    the run is a sequence of occurrences of them (`language`, `doc`, `start`, `length`).
    """

    spec: MixtureSpec
    languages: tuple[str, ...] = field(init=False)
    doc_shard: np.ndarray = field(init=False, repr=False)
    """Per selected document: index of its shard in `readers`."""
    doc_index: np.ndarray = field(init=False, repr=False)
    """Per selected document: its sequence number in its shard."""
    doc_length: np.ndarray = field(init=False, repr=False)
    """Per selected document: its tokens, EOD included."""
    doc_offset: np.ndarray = field(init=False, repr=False)
    """Per selected document: where its tokens start in its shard's token array."""
    doc_language: np.ndarray = field(init=False, repr=False)
    """Per selected document: index of its language in `languages`."""
    language: np.ndarray = field(init=False, repr=False)
    """Per occurrence: language index."""
    doc: np.ndarray = field(init=False, repr=False)
    """Per occurrence: row of the document table."""
    start: np.ndarray = field(init=False, repr=False)
    """Per occurrence: position of its first token in the run's stream."""
    length: np.ndarray = field(init=False, repr=False)
    """Per occurrence: tokens read (the whole document but for a language's last one)."""
    targets: dict[str, int] = field(init=False)
    """D_i per language."""
    unique: dict[str, int] = field(init=False)
    """U_i per language: tokens of its selected documents."""

    def __post_init__(self) -> None:
        spec = self.spec
        self.languages = tuple(c.language for c in spec.components)
        self.targets = spec.token_targets()
        self.readers: list[ShardReader] = []
        tables = [self._select(c) for c in spec.components]
        self.doc_shard, self.doc_index, self.doc_length, self.doc_offset = (
            np.concatenate([t[k] for t in tables]) for k in range(4)
        )
        counts = [len(t[0]) for t in tables]
        self.doc_language = np.repeat(np.arange(len(tables), dtype=np.int16), counts)
        self.unique = {
            c.language: int(t[2].sum()) for c, t in zip(spec.components, tables, strict=True)
        }
        self._merge(np.cumsum([0, *counts]))

    def _select(self, component: ComponentSpec) -> tuple[np.ndarray, ...]:
        """(shard, sequence, length, token offset) of the component's documents, subset to
        its budget."""
        shard_ids, seqs, lengths, offsets, hashes = [], [], [], [], []
        for ref in component.shards:
            reader = ShardReader(local_prefix(component.language, ref))
            shard = len(self.readers)
            self.readers.append(reader)
            n = len(reader)
            shard_ids.append(np.full(n, shard, np.int32))
            seqs.append(np.arange(n, dtype=np.int64))
            lengths.append(reader.sequence_lengths.astype(np.int64))
            offsets.append(reader.sequence_pointers // reader.dtype.itemsize)
            name = Path(ref.prefix).name
            hashes.append(_hashes(_key("subset", self.spec.seed, component.language, name), n))
        table = [np.concatenate(a) for a in (shard_ids, seqs, lengths, offsets)]
        shard, seq, length = table[:3]
        available = int(length.sum())
        if available == 0:
            raise DataError(f"the shards of {component.language!r} hold no documents")
        budget = component.unique_budget
        if budget is not None:
            if budget > available:
                raise DataError(
                    f"unique_budget of {component.language!r} is {budget} tokens but its shards "
                    f"hold {available}: lower the budget or add shards"
                )
            ranked = np.lexsort((seq, shard, np.concatenate(hashes)))
            taken = int(np.searchsorted(np.cumsum(length[ranked]), budget)) + 1
            keep = np.sort(ranked[:taken])  # the set, back in shard order
            table = [column[keep] for column in table]
        return tuple(table)

    def _merge(self, first_row: np.ndarray) -> None:
        """Each language's passes, then all languages merged by stream fraction."""
        docs, lengths, keys, langs, positions = [], [], [], [], []
        for i, language in enumerate(self.languages):
            rows = np.arange(first_row[i], first_row[i + 1], dtype=np.int64)
            target, unique = self.targets[language], self.unique[language]
            passes, rest = divmod(target, unique)
            order = [rows[self._shuffle(language, p, len(rows))] for p in range(passes)]
            if rest:
                last = rows[self._shuffle(language, passes, len(rows))]
                ends = np.cumsum(self.doc_length[last])
                order.append(last[: int(np.searchsorted(ends, rest)) + 1])
            doc = np.concatenate(order) if order else np.zeros(0, np.int64)
            length = self.doc_length[doc].copy()
            if rest:
                length[-1] -= int(length.sum()) - target
            begin = np.cumsum(length) - length
            docs.append(doc)
            lengths.append(length)
            keys.append(begin / target if target else begin.astype(np.float64))
            langs.append(np.full(len(doc), i, np.int16))
            positions.append(np.arange(len(doc), dtype=np.int64))
        doc, length, key, lang, position = (
            np.concatenate(a) for a in (docs, lengths, keys, langs, positions)
        )
        merged = np.lexsort((position, lang, key))
        id_type = np.int32 if len(self.doc_length) < 2**31 else np.int64
        self.doc = doc[merged].astype(id_type)
        self.language = lang[merged]
        self.length = length[merged].astype(np.int32)
        self.start = np.cumsum(self.length, dtype=np.int64) - self.length

    def _shuffle(self, language: str, pass_number: int, n: int) -> np.ndarray:
        return _permutation(_key("pass", self.spec.seed, language, pass_number), n)

    @property
    def total_tokens(self) -> int:
        """Tokens of the whole stream: sum of D_i."""
        return int(self.start[-1] + self.length[-1]) if len(self.start) else 0

    @property
    def epochs_per_language(self) -> dict[str, float]:
        """D_i / U_i."""
        return {lang: self.targets[lang] / self.unique[lang] for lang in self.languages}

    def read(self, start: int, stop: int) -> np.ndarray:
        """Tokens [start, stop) of the stream as int64, copied from the memory maps."""
        if not 0 <= start <= stop <= self.total_tokens:
            raise IndexError(f"[{start}, {stop}) is outside the stream of {self.total_tokens}")
        out = np.empty(stop - start, np.int64)
        i = int(np.searchsorted(self.start, start, side="right")) - 1
        filled, position = 0, start
        while filled < len(out):
            doc = int(self.doc[i])
            offset = position - int(self.start[i])
            take = min(int(self.length[i]) - offset, len(out) - filled)
            base = int(self.doc_offset[doc]) + offset
            out[filled : filled + take] = self.readers[self.doc_shard[doc]].tokens[
                base : base + take
            ]
            filled, position, i = filled + take, position + take, i + 1
        return out

    def tokens_by_language(self, start: int, stop: int) -> dict[str, int]:
        """Tokens of each language within [start, stop) of the stream."""
        first = max(int(np.searchsorted(self.start, start, side="right")) - 1, 0)
        last = int(np.searchsorted(self.start, stop, side="left"))
        begin = np.maximum(self.start[first:last], start)
        end = np.minimum(self.start[first:last] + self.length[first:last], stop)
        counts = np.bincount(
            self.language[first:last], np.maximum(end - begin, 0), len(self.languages)
        )
        return {lang: int(n) for lang, n in zip(self.languages, counts, strict=True)}


class MixtureLoader:
    """Batches of windows (int64, shape (batch_size, seq_len + 1)) for one data-parallel rank.

    Step s of the run uses windows [s*B*W, (s+1)*B*W) of the stream (B = batch_size,
    W = world_size); this rank takes those with index % W == rank. The run has
    floor(windows / (B*W)) steps; the tail of the stream that fills no global batch is unused.
    """

    def __init__(
        self,
        spec: MixtureSpec,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        *,
        order: DocumentOrder | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in [0, world_size={world_size}), got {rank}")
        if order is not None and order.spec != spec:
            raise ConfigError("order was built for another spec: build it from this one")
        self.spec, self.batch_size, self.rank, self.world_size = spec, batch_size, rank, world_size
        self.order = order if order is not None else DocumentOrder(spec)
        self.window = spec.seq_len + 1
        self.windows = self.order.total_tokens // self.window
        self.steps = self.windows // (batch_size * world_size)
        if self.steps == 0:
            raise DataError(
                f"{self.order.total_tokens} tokens make {self.windows} windows of {self.window}, "
                f"fewer than one global batch of {batch_size * world_size}: raise tokens"
            )
        self.step = 0
        """The next step this loader yields."""

    def __len__(self) -> int:
        return self.steps

    @property
    def unused_tokens(self) -> int:
        """Tokens at the end of the stream that fill no global batch."""
        return self.order.total_tokens - self.steps * self.batch_size * self.world_size * (
            self.window
        )

    def window_indices(self, step: int) -> np.ndarray:
        """Windows of the stream this rank reads at `step`."""
        first = step * self.batch_size * self.world_size + self.rank
        return first + np.arange(self.batch_size, dtype=np.int64) * self.world_size

    def batch(self, step: int) -> np.ndarray:
        if not 0 <= step < self.steps:
            raise IndexError(f"step {step} is outside the run's {self.steps} steps")
        return np.stack(
            [
                self.order.read(w * self.window, (w + 1) * self.window)
                for w in self.window_indices(step)
            ]
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        while self.step < self.steps:
            batch = self.batch(self.step)
            self.step += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "fingerprint": self.spec.fingerprint(),
            "batch_size": self.batch_size,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue at the saved step; the spec and the global batch layout must match."""
        mine = self.state_dict()
        for name in ("fingerprint", "batch_size", "world_size"):
            if state.get(name) != mine[name]:
                raise ConfigError(
                    f"saved loader state has {name}={state.get(name)!r}, this loader "
                    f"{mine[name]!r}: resume with the spec and batch layout it was saved with"
                )
        step = int(state["step"])
        if not 0 <= step <= self.steps:
            raise ConfigError(f"saved step {step} is outside this run's {self.steps} steps")
        self.step = step


def validation_windows(
    prefixes_by_language: Mapping[str, Sequence[str | Path]],
    seq_len: int,
    max_windows: int | None = None,
) -> dict[str, np.ndarray]:
    """Per language, windows (int64, (n, seq_len + 1)) of its validation shards' stream (their
    documents in shard order). With more than `max_windows` available, windows are taken evenly
    spaced over the whole stream, so they sample all of it. A language whose shards hold fewer
    than seq_len + 1 tokens gets no windows (an array of shape (0, seq_len + 1))."""
    if seq_len < 2:
        raise ConfigError(f"seq_len must be an integer >= 2, got {seq_len}")
    if max_windows is not None and max_windows < 1:
        raise ConfigError(f"max_windows must be >= 1 or None, got {max_windows}")
    size = seq_len + 1
    out = {}
    for language, prefixes in prefixes_by_language.items():
        if not prefixes:
            raise ConfigError(f"no validation shards given for {language!r}")
        arrays = []
        for prefix in prefixes:
            arrays.append(ShardReader(local_prefix(language, ShardRef(str(prefix)))).tokens)
        ends = np.cumsum([len(a) for a in arrays])
        available = int(ends[-1]) // size
        count = available if max_windows is None else min(max_windows, available)
        picks = (np.arange(count, dtype=np.int64) * available) // max(count, 1)
        windows = np.empty((count, size), np.int64)
        for row, w in enumerate(picks):
            windows[row] = _read_concatenated(arrays, ends, int(w) * size, int(w + 1) * size)
        out[language] = windows
    return out


def _read_concatenated(arrays: list[np.ndarray], ends: np.ndarray, start: int, stop: int):
    pieces = []
    i = int(np.searchsorted(ends, start, side="right"))
    while start < stop:
        begin = int(ends[i]) - len(arrays[i])
        take = min(stop, int(ends[i])) - start
        pieces.append(arrays[i][start - begin : start - begin + take])
        start, i = start + take, i + 1
    return np.concatenate(pieces)


def to_torch(
    batch: np.ndarray, device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) tensors of a batch: window[:, :-1] and window[:, 1:]."""
    import torch  # heavy: only where used

    tensor = torch.from_numpy(batch)
    if device is not None:
        tensor = tensor.to(device, non_blocking=True)
    return tensor[:, :-1], tensor[:, 1:]
