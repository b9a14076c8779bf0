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
from heuristics.governance_config import DecontamConfig, PiiConfig
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
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    """Benchmark decontamination: files holding a benchmark's material are dropped."""
    pii: PiiConfig = field(default_factory=PiiConfig)
    """Personal data and secrets: redacted (the default), files dropped, or off."""
    dedup: DedupConfig = field(default_factory=DedupConfig)
    """Exact and MinHash near-deduplication of the files the other stages kept."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    """SentencePiece training settings and how its sample is drawn."""
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    """Token counts and Megatron shards of the kept files (and which tokenizer)."""
    holdout: HoldoutConfig = field(default_factory=HoldoutConfig)
    """Repositories held out for evaluation before any other stage (ablations)."""

    def fingerprint_data(self) -> dict[str, Any]:
        """Every setting, except sections added after versions were published while they are
        off (governance) or hold nothing out (holdout): a config written before them keeps its
        print (and its run folder)."""
        data = self.to_dict()
        if self.pii.mode == "off":
            del data["pii"]
        if not self.decontam.names:
            del data["decontam"]
        if not self.holdout.enabled:
            del data["holdout"]
        return data
