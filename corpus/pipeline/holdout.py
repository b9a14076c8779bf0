"""Repositories held out for evaluation, chosen from the raw snapshot before any curation choice.

An ablation compares versions curated differently; its evaluation set must be one that none of
them trained on and that no curation choice moved. A seeded hash of the repository name picks
the held-out share (`tokenizer.shards.split_of`, the same hash as the train/validation split,
under its own seed), so the pick depends only on the repository, never on which files quality
rules or dedup kept. `side: train` curates everything else (an ablation arm: held-out
repositories get `holdout:evaluation`); `side: heldout` curates only the held-out ones (the
evaluation set: the others get `holdout:training`). The stage runs first, so dedup never sees
the other side's files.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError
from corpus.core.reasons import DropReason
from corpus.core.stage import CurationConfig
from heuristics.rules import Rule, RuleStage
from tokenizer.shards import Split, split_of

SIDES = ("train", "heldout")


@dataclass(frozen=True)
class HoldoutConfig(ConfigBase):
    section = "holdout"

    fraction: float = 0.0
    """Share of repositories held out (0: none, the stage does nothing)."""
    seed: int = 1
    """Seed of the repository hash (1, not shards.split_seed's 0, so the version's own
    validation split is not a subset of the held-out repositories)."""
    side: str = "train"
    """`train`: keep the other repositories (an ablation arm); `heldout`: keep only the
    held-out ones (the evaluation set)."""

    def __post_init__(self) -> None:
        if isinstance(self.fraction, bool) or not 0.0 <= self.fraction < 1.0:
            raise ConfigError(f"holdout.fraction must be in [0, 1), got {self.fraction!r}")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"holdout.seed must be an integer >= 0, got {self.seed!r}")
        if self.side not in SIDES:
            raise ConfigError(f"holdout.side must be one of {list(SIDES)}, got {self.side!r}")

    @property
    def enabled(self) -> bool:
        return self.fraction > 0

    def held_out(self, repo: str) -> bool:
        return split_of(repo, self.fraction, self.seed) is Split.VALIDATION


class HoldoutRule(Rule):
    """Drops the files of repositories on the other side of the held-out split."""

    def __init__(self, config: HoldoutConfig) -> None:
        self.config = config
        self.keep_held_out = config.side == "heldout"
        self.reason = (
            DropReason.HOLDOUT_TRAINING if self.keep_held_out else DropReason.HOLDOUT_EVALUATION
        )
        self.sides: dict[str, bool] = {}  # a batch holds few repositories

    def keep(self, batch: pa.Table) -> pa.Array:
        out = []
        for repo in batch.column("repo").to_pylist():
            side = self.sides.get(repo)
            if side is None:
                side = self.sides[repo] = self.config.held_out(repo or "")
            out.append(side == self.keep_held_out)
        return pa.array(out, pa.bool_())


class HoldoutStage(RuleStage):
    name = "holdout"
    adds: ClassVar[pa.Schema] = pa.schema([])

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        super().__init__(config, context)

    def build_rules(self, config: CurationConfig) -> Sequence[Rule]:
        return [HoldoutRule(config.holdout)] if config.holdout.enabled else []
