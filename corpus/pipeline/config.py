"""Curation configuration: dataclasses whose fields document themselves.

Only settings that change results belong here; they render a stable
fingerprint stored with every version. How the work is spread (workers,
batch size, object store) lives in `RunnerConfig` and never changes results.
Each package owns its section; loading, typed validation (every bad field named in one
`ConfigError`), the fingerprint and the JSON Schema come from `corpus.core.config`.
"""

from dataclasses import dataclass, field
from typing import Any

from corpus.core.config import ConfigBase
from corpus.pipeline.holdout import HoldoutConfig
from corpus.sources.config import IntakeConfig
from dedup.config import DedupConfig
from heuristics.config import HeuristicsConfig
from heuristics.license_config import LicenseConfig
from tokenizer.config import ShardsConfig, TokenizerConfig

MiB = 1 << 20


@dataclass(frozen=True)
class CurationConfig(ConfigBase):
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
    holdout: HoldoutConfig = field(default_factory=HoldoutConfig)
    """Repositories held out for evaluation before any other stage (ablations)."""

    def fingerprint_data(self) -> dict[str, Any]:
        """Every setting; the holdout section only when it holds something out, so versions
        curated before it existed keep their fingerprints."""
        data = self.to_dict()
        if not self.holdout.enabled:
            data.pop("holdout")
        return data
