"""Keep/drop rules over Arrow batches and the stage that applies them.

A rule answers one question for a whole batch: a boolean column, True = keep,
and the one reason it gives when it says drop. `RuleStage` applies its rules in
order; the first rule that drops a file names the reason, and a file already
dropped upstream keeps its earlier reason, so each file has exactly one.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.reasons import DropReason
from corpus.core.stage import CurationConfig, Stage, set_column


class Rule(ABC):
    """One keep/drop decision with its reason."""

    reason: ClassVar[DropReason]

    @abstractmethod
    def keep(self, batch: pa.Table) -> pa.Array | pa.ChunkedArray:
        """Boolean per row, True = keep. Null counts as keep (no evidence to drop)."""


class RuleStage(Stage):
    """Applies `build_rules(config)` in order and records the first drop reason per file."""

    adds: ClassVar[pa.Schema] = pa.schema([])

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        super().__init__(config, context)
        self.rules: Sequence[Rule] = self.build_rules(config)

    @abstractmethod
    def build_rules(self, config: CurationConfig) -> Sequence[Rule]: ...

    def __call__(self, batch: pa.Table) -> pa.Table:
        batch = self.prepare(batch)
        reason = batch.column("drop_reason")
        undecided = pc.is_null(reason).to_numpy(zero_copy_only=False)
        first_drop = np.full(batch.num_rows, -1)  # index of the rule that dropped each file
        for index, rule in enumerate(self.rules):
            batch = self.before_rule(batch, rule, undecided)
            keep = pc.fill_null(rule.keep(batch), True).to_numpy(zero_copy_only=False)
            first_drop[undecided & ~keep] = index
            undecided = undecided & keep
        if (first_drop >= 0).any():
            names = np.array([str(rule.reason) for rule in self.rules] + [None], dtype=object)
            ours = pa.array(names[first_drop], pa.string())  # -1 picks the trailing None
            reason = pc.if_else(pa.array(first_drop >= 0), ours, reason)
        return self.finish(set_column(batch, "drop_reason", reason))

    def prepare(self, batch: pa.Table) -> pa.Table:
        """Hook: add the signal columns the rules read (default: none)."""
        return batch

    def before_rule(self, batch: pa.Table, rule: Rule, undecided: np.ndarray) -> pa.Table:
        """Hook: add what `rule` reads, where needed only for the `undecided` files (those no
        earlier rule dropped), the way a per-file loop returns early (default: nothing)."""
        return batch

    def finish(self, batch: pa.Table) -> pa.Table:
        """Hook: complete the declared columns after the last rule (default: nothing)."""
        return batch
