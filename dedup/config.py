"""Deduplication settings (a leaf module: corpus.pipeline.config imports it).

Every field changes results, so all of them are part of the curation
fingerprint stored with a version. `bands` x `rows` is derived from the
threshold: chosen so that pairs at the threshold almost always become
candidates, whose estimated Jaccard is then verified on full signatures.
"""

import math
from dataclasses import dataclass, field

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError


@dataclass(frozen=True)
class DedupConfig(ConfigBase):
    section = "dedup"

    exact: bool = True
    """Drop files whose exact bytes (sha256) another kept file has (`dedup:exact`)."""
    near: bool = True
    """Drop MinHash near-duplicates (`dedup:near`)."""
    num_perm: int = 256
    """MinHash permutations (signature length)."""
    ngram: int = 5
    """Shingle length in word tokens (runs of `\\w`); files with fewer tokens are no candidates."""
    threshold: float = 0.7
    """Jaccard similarity at or above which two files are near-duplicates."""
    seed: int = 42
    """Seed of the permutations: fixed so signatures (and persisted band keys) are reproducible."""
    recall_target: float = 0.99
    """Probability that a pair at exactly `threshold` shares at least one band."""
    max_bucket: int = 5000
    """Files kept per LSH bucket; larger buckets (boilerplate) are capped and logged."""
    stars_per_bucket: int = 2
    """Stars per LSH bucket: edges from each of its smallest ids to the members after it
    (k - 1 edges each, never all pairs); a second star recovers pairs whose bucket head
    is an outlier that fails verification."""
    bands: int = field(init=False)
    """Derived: LSH bands."""
    rows: int = field(init=False)
    """Derived: signature rows per band."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"dedup.threshold must be in (0, 1), got {self.threshold}")
        if not 16 <= self.num_perm <= 1024:
            raise ConfigError(f"dedup.num_perm must be in [16, 1024], got {self.num_perm}")
        if self.ngram < 1:
            raise ConfigError(f"dedup.ngram must be >= 1, got {self.ngram}")
        if not 0.5 <= self.recall_target < 1.0:
            raise ConfigError(f"dedup.recall_target must be in [0.5, 1), got {self.recall_target}")
        if self.max_bucket < 2:
            raise ConfigError(f"dedup.max_bucket must be >= 2, got {self.max_bucket}")
        if self.stars_per_bucket < 1:
            raise ConfigError(f"dedup.stars_per_bucket must be >= 1, got {self.stars_per_bucket}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"dedup.seed must be in [0, 2**32), got {self.seed}")
        bands, rows = choose_bands(self.threshold, self.num_perm, self.recall_target)
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "rows", rows)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two files with this Jaccard share at least one band: 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_bands(threshold: float, num_perm: int, recall_target: float) -> tuple[int, int]:
    """The (bands, rows) with the fewest expected false candidates that meets `recall_target`.

    Datasketch's `_optimal_param` weighs false positives and negatives equally,
    which at 0.7 and 256 permutations gives 25 x 10 and catches about half of the
    pairs at the threshold. Candidates are verified on full signatures, so false
    candidates only cost time: favour recall, then minimise the candidate area
    below the threshold.
    """
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) < recall_target:
            continue
        false_area = _integrate(
            lambda s, b=bands, r=rows: candidate_probability(s, b, r), 0.0, threshold
        )
        if best is None or false_area < best[0]:
            best = (false_area, bands, rows)
    if best is None:  # cannot happen for rows=1 unless threshold is tiny; be explicit anyway
        raise ConfigError(
            f"no bands x rows over {num_perm} permutations reaches recall {recall_target} "
            f"at threshold {threshold}; lower dedup.recall_target or raise dedup.num_perm"
        )
    return best[1], best[2]


def _integrate(func, low: float, high: float, steps: int = 200) -> float:
    width = (high - low) / steps
    return math.fsum(func(low + (i + 0.5) * width) for i in range(steps)) * width
