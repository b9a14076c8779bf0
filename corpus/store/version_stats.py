"""A version's statistics and lineage, typed.

Both are stored as JSON in the version's registry row (`Version.to_row`); these
classes parse that JSON (`from_dict`) and render it back (`to_dict`) key for key, so
catalogs written before them read unchanged. A key an older version lacks reads as
None (or empty); keys this code does not know are kept in `extra` and written back.
Optional parts that a run may leave out (tokens, shards, near dedup) are None here
and absent from the JSON.
"""

from dataclasses import dataclass, field, fields
from typing import Any

from corpus.core.tally import Tally

#: Files without a detected language are counted under this name.
UNKNOWN = "unknown"


def _split(cls: type, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the known fields of `cls` in `data`, the rest)."""
    names = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in data.items() if k in names}, {
        k: v for k, v in data.items() if k not in names
    }


def _present(data: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """`data` without the optional keys that are None (they were absent)."""
    return {k: v for k, v in data.items() if k not in optional or v is not None}


@dataclass(frozen=True)
class Counts:
    files: int
    bytes: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Counts":
        return cls(int(data["files"]), int(data["bytes"]))

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class LanguageStats:
    """Kept files of one language, with their tokens once a tokenizer counted them."""

    files: int
    bytes: int
    tokens: int | None = None
    """None: not counted (no tokenizer); the two ratios are then absent too."""
    chars_per_token: float | None = None
    bytes_per_token: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LanguageStats":
        return cls(**_split(cls, data)[0])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"files": self.files, "bytes": self.bytes}
        if self.tokens is not None:
            out.update(
                tokens=self.tokens,
                chars_per_token=self.chars_per_token,
                bytes_per_token=self.bytes_per_token,
            )
        return out


@dataclass(frozen=True)
class TallyRow:
    """Files and bytes of one (language, drop reason); drop_reason None: kept."""

    lang: str | None
    drop_reason: str | None
    files: int
    bytes: int

    @property
    def language(self) -> str:
        return self.lang or UNKNOWN

    @property
    def kept(self) -> bool:
        return self.drop_reason is None


@dataclass(frozen=True)
class LanguageGroup:
    """All files of one language, and how many of them were kept."""

    lang: str
    files: int
    bytes: int
    kept_files: int
    kept_bytes: int


@dataclass(frozen=True)
class ReasonGroup:
    """Files of one drop reason (None: the kept files)."""

    drop_reason: str | None
    files: int
    bytes: int


@dataclass(frozen=True)
class ShardStats:
    """The version's token shards; a split's counts are None when it has no shards."""

    count: int
    train_tokens: int | None = None
    train_documents: int | None = None
    validation_tokens: int | None = None
    validation_documents: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShardStats":
        return cls(**_split(cls, data)[0])

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class DedupStats:
    """What the dedup stage did. `exact` and `candidates` are None when dedup was off,
    `near` when near-dedup was; their counters are those `pipeline.dedup_phase` reports."""

    settings: dict[str, Any] = field(default_factory=dict)
    removed_by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    """Files removed per dedup reason and language."""
    reused_signatures: int = 0
    reuse_source: str | None = None
    """Where `--dedup-against` found them: "index" (the previous version's lookup index,
    asked by the workers) or "signatures" (its stored signatures, broadcast)."""
    exact: dict[str, Any] | None = None
    candidates: int | None = None
    near: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    OPTIONAL = ("exact", "candidates", "near", "reuse_source")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DedupStats":
        known, extra = _split(cls, data)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **_present(out, self.OPTIONAL)}

    @property
    def exact_removed(self) -> int:
        return int((self.exact or {}).get("removed", 0))

    @property
    def near_removed(self) -> int:
        return int((self.near or {}).get("removed", 0))

    @property
    def near_clusters(self) -> int:
        return int((self.near or {}).get("clusters", 0))


@dataclass(frozen=True)
class GovernanceStats:
    """What the governance stage found: PII spans per kind (redacted or, with `pii_mode`
    drop, reasons to drop), files holding any, and files dropped per benchmark."""

    pii_mode: str = "off"
    pii: dict[str, int] = field(default_factory=dict)
    pii_files: int = 0
    decontam: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GovernanceStats":
        known, _ = _split(cls, data)
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {"pii_mode": self.pii_mode, "pii": dict(self.pii), "pii_files": self.pii_files,
                "decontam": dict(self.decontam)}  # fmt: skip


@dataclass(frozen=True)
class VersionStats:
    """Files, bytes and tokens of a version: per language (kept, and all), per drop reason,
    per (language, reason), with what dedup did and the token shards."""

    files: int = 0
    """Every file of the version, kept or dropped."""
    bytes: int = 0
    kept_files: int = 0
    kept_bytes: int = 0
    stripped_bytes: int = 0
    """Bytes formatters removed from kept files."""
    languages: dict[str, LanguageStats] = field(default_factory=dict)
    """Kept files per language."""
    languages_all: dict[str, Counts] = field(default_factory=dict)
    """Every file per language, kept or dropped."""
    drop_reasons: dict[str, Counts] = field(default_factory=dict)
    tally: tuple[TallyRow, ...] = ()
    dedup: DedupStats | None = None
    """None only for versions published before dedup statistics were recorded."""
    tokens: int | None = None
    """Tokens of the kept files; None: no tokenizer counted them."""
    tokens_by_language: dict[str, int] | None = None
    tokenizer: str | None = None
    shards: ShardStats | None = None
    governance: GovernanceStats | None = None
    """None for versions published before the governance stage existed."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VersionStats":
        known, extra = _split(cls, data)
        dedup, shards = known.pop("dedup", None), known.pop("shards", None)
        governance = known.pop("governance", None)
        return cls(
            **{k: v for k, v in known.items() if k not in _NESTED},
            languages={k: LanguageStats.from_dict(v) for k, v in data.get("languages", {}).items()},
            languages_all={
                k: Counts.from_dict(v) for k, v in data.get("languages_all", {}).items()
            },
            drop_reasons={k: Counts.from_dict(v) for k, v in data.get("drop_reasons", {}).items()},
            tally=tuple(TallyRow(**row) for row in data.get("tally", [])),
            # an empty record (no writer makes one) reads as none, as the API always showed it
            dedup=DedupStats.from_dict(dedup) if dedup else None,
            shards=ShardStats.from_dict(shards) if shards else None,
            governance=GovernanceStats.from_dict(governance) if governance else None,
            extra=extra,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.extra,
            "files": self.files,
            "bytes": self.bytes,
            "kept_files": self.kept_files,
            "kept_bytes": self.kept_bytes,
            "stripped_bytes": self.stripped_bytes,
            "languages": {k: v.to_dict() for k, v in self.languages.items()},
            "languages_all": {k: v.to_dict() for k, v in self.languages_all.items()},
            "drop_reasons": {k: v.to_dict() for k, v in self.drop_reasons.items()},
            "tally": [row.__dict__.copy() for row in self.tally],
            "tokens": self.tokens,
        }
        if self.dedup is not None:
            out["dedup"] = self.dedup.to_dict()
        if self.governance is not None:
            out["governance"] = self.governance.to_dict()
        if self.tokenizer is not None:  # what a run with a tokenizer adds
            out["tokens_by_language"] = self.tokens_by_language
            out["tokenizer"] = self.tokenizer
            out["shards"] = self.shards.to_dict() if self.shards is not None else None
        return out

    def get(self, name: str, default: Any = None) -> Any:
        """The stored JSON's value of a key (read-only), for code that wants the raw layout;
        typed code reads the attributes."""
        return self.to_dict().get(name, default)

    def __getitem__(self, name: str) -> Any:
        return self.to_dict()[name]

    def to_tally(self) -> Tally:
        return Tally.from_rows([row.__dict__ for row in self.tally])

    def by_language(self) -> list[LanguageGroup]:
        """Every file per language (sorted), with the kept ones."""
        groups: dict[str, list[int]] = {}
        for row in self.tally:
            g = groups.setdefault(row.language, [0, 0, 0, 0])
            g[0] += row.files
            g[1] += row.bytes
            if row.kept:
                g[2] += row.files
                g[3] += row.bytes
        return [LanguageGroup(lang, *g) for lang, g in sorted(groups.items())]

    def by_reason(self) -> list[ReasonGroup]:
        """Files per drop reason, the kept files (reason None) first, then by name."""
        groups: dict[str | None, list[int]] = {}
        for row in self.tally:
            g = groups.setdefault(row.drop_reason, [0, 0])
            g[0] += row.files
            g[1] += row.bytes
        ordered = sorted(groups.items(), key=lambda kv: kv[0] or "")
        return [ReasonGroup(reason, *g) for reason, g in ordered]

    def by_language_and_reason(self) -> list[TallyRow]:
        """The tally rows, files without a language named UNKNOWN, by language then reason."""
        rows = [TallyRow(r.language, r.drop_reason, r.files, r.bytes) for r in self.tally]
        return sorted(rows, key=lambda r: (r.lang, r.drop_reason or ""))


_NESTED = ("languages", "languages_all", "drop_reasons", "tally")


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: its raw snapshot, config, code, the stages it went through,
    the opt-out list and SPDX list it applied, and the snapshots and tokenizer it produced."""

    raw_snapshot_id: int | None = None
    config_fingerprint: str | None = None
    code_version: str | None = None
    stages: tuple[str, ...] = ()
    opt_out_revision: int | None = None
    opt_out_entries: int | None = None
    spdx_license_list: str | None = None
    minhash_snapshot_id: int | None = None
    dedup_against: str | None = None
    """The version whose MinHash signatures were reused."""
    tokenizer: str | None = None
    """sha256 of the version's tokenizer."""
    shards_snapshot_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Lineage":
        known, extra = _split(cls, data)
        known["stages"] = tuple(known.get("stages", ()))
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["stages"] = list(self.stages)
        return dict(sorted({**self.extra, **out}.items()))  # as stored (sort_keys) and read back

    def get(self, name: str, default: Any = None) -> Any:
        """A field (or an unknown stored key) by its stored name; `default` when absent."""
        return self.to_dict().get(name, default)

    def __getitem__(self, name: str) -> Any:
        """The stored JSON's value (read-only), for code that wants the raw layout."""
        return self.to_dict()[name]


__all__ = [
    "Counts",
    "DedupStats",
    "LanguageGroup",
    "LanguageStats",
    "Lineage",
    "ReasonGroup",
    "ShardStats",
    "TallyRow",
    "VersionStats",
]
