"""Curation configuration: dataclasses whose fields document themselves.

Only settings that change results belong here; they render a stable
fingerprint stored with every version. How the work is spread (workers,
batch size, object store) lives in `RunnerConfig` and never changes results.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Self

import yaml

from corpus.core.errors import ConfigError
from corpus.sources.config import IntakeConfig
from dedup.config import DedupConfig
from heuristics.config import HeuristicsConfig
from heuristics.license_config import LicenseConfig
from tokenizer.config import ShardsConfig, TokenizerConfig

MiB = 1 << 20


@dataclass(frozen=True)
class CurationConfig:
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    """Intake rules applied while reading sources."""
    licenses: LicenseConfig = field(default_factory=LicenseConfig)
    """License allow-list and opt-out governance."""
    heuristics: HeuristicsConfig = field(default_factory=HeuristicsConfig)
    """Quality heuristics: preset, language selection, rules, thresholds, formatters."""
    dedup: DedupConfig = field(default_factory=DedupConfig)
    """Exact and MinHash near-deduplication of the files the other stages kept."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    """SentencePiece training settings and how its sample is drawn."""
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    """Token counts and Megatron shards of the kept files (and which tokenizer)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ConfigError(
                f"unknown config section(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        sections = {}
        for name, value in data.items():
            section_cls = known[name].default_factory  # type: ignore[misc]
            if hasattr(section_cls, "from_dict"):  # sections that validate their own fields
                if not isinstance(value or {}, dict):
                    raise ConfigError(f"config section {name!r} must be a mapping")
                sections[name] = section_cls.from_dict(value or {})
            else:
                sections[name] = _section(section_cls, name, value or {})
        return cls(**sections)

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"config {path} must be a mapping of sections")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every setting: equal configs, equal prints."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _section(section_cls: type, name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"config section {name!r} must be a mapping")
    settable = {f.name: f for f in fields(section_cls) if f.init}
    derived = {f.name for f in fields(section_cls) if not f.init}
    unknown = set(value) - set(settable) - derived
    if unknown:
        raise ConfigError(
            f"unknown field(s) {sorted(unknown)} in {name!r}; known: {sorted(settable)}"
        )
    kwargs = {}
    for key, item in value.items():
        if key in derived:
            continue  # derived fields (init=False) are recomputed, e.g. from a to_dict() round trip
        factory = settable[key].default_factory
        if is_dataclass(factory) and isinstance(item, dict):
            item = _section(factory, f"{name}.{key}", item)  # type: ignore[arg-type]
        kwargs[key] = item
    return section_cls(**kwargs)
