"""The heuristics curate stage: formatters, then signals, then rules.

Per batch: notebook validity is measured on the original content; formatters
rewrite the files still kept (notebooks to scripts, long content out of
HTML/CSS); signals are measured on the content as it will be published; the
rules of the configured preset then name the first reason to drop. A file
dropped upstream (intake, license) keeps its earlier reason. Row-local and
deterministic: no state crosses batches.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa

from corpus.config import CurationConfig
from corpus.stage import set_column
from heuristics.formatters import apply_formatters, build_formatters
from heuristics.limits import extensions
from heuristics.quality import HeuristicRule, build_rules
from heuristics.rules import RuleStage
from heuristics.signals import SIGNAL_SCHEMA, SignalComputer
from heuristics.textstats import single_array


class HeuristicsStage(RuleStage):
    """Adds the signal columns, rewrites content with the formatters, applies the rules."""

    name: ClassVar[str] = "heuristics"
    adds: ClassVar[pa.Schema] = SIGNAL_SCHEMA

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        self.settings = config.heuristics
        self.formatters = build_formatters(self.settings)
        self.signals = SignalComputer(self.settings)
        super().__init__(config, context)

    def build_rules(self, config: CurationConfig) -> Sequence[HeuristicRule]:
        return build_rules(config.heuristics)

    def prepare(self, batch: pa.Table) -> pa.Table:
        lang = single_array(batch.column("lang"))
        original = single_array(batch.column("content"))
        validity = self.signals.notebook_validity(original, lang)
        content, formatter, stripped = apply_formatters(batch, self.formatters)
        batch = set_column(batch, "content", content)
        batch = set_column(batch, "extension", extensions(batch.column("path")))
        for name, values in self.signals.measure(content, lang).items():
            batch = set_column(batch, name, values)
        batch = set_column(batch, "notebook_valid", validity)
        batch = set_column(batch, "formatter", formatter)
        return set_column(batch, "stripped_bytes", stripped)
