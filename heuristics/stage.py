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

import numpy as np
import pyarrow as pa

from corpus.core.stage import CurationConfig, set_column
from heuristics.formatters import apply_formatters, build_formatters
from heuristics.limits import EXTENSION_KEY, LANG_KEY, Limits, extensions
from heuristics.quality import HeuristicRule, build_rules
from heuristics.rules import Rule, RuleStage
from heuristics.signals import GROUP_OF, GROUPS, SIGNAL_SCHEMA, SignalComputer
from heuristics.textstats import single_array


class HeuristicsStage(RuleStage):
    """Adds the signal columns, rewrites content with the formatters, applies the rules."""

    name: ClassVar[str] = "heuristics"
    adds: ClassVar[pa.Schema] = SIGNAL_SCHEMA

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        self.settings = config.heuristics
        self.formatters = build_formatters(self.settings)
        self.signals = SignalComputer(self.settings)
        self.limits = Limits(self.settings)
        super().__init__(config, context)
        self.groups: dict[Rule, list[str]] = {
            rule: sorted({GROUP_OF[s] for s in rule.signals if s in GROUP_OF})
            for rule in self.rules
        }
        """Signal groups each rule reads (measured on first use unless `signals.all`)."""

    def build_rules(self, config: CurationConfig) -> Sequence[HeuristicRule]:
        return build_rules(config.heuristics)

    def prepare(self, batch: pa.Table) -> pa.Table:
        lang = single_array(batch.column("lang"))
        original = single_array(batch.column("content"))
        validity = self.signals.notebook_validity(original, lang)
        content, formatter, stripped = apply_formatters(batch, self.formatters)
        batch = set_column(batch, "content", content)
        batch = set_column(batch, "extension", extensions(batch.column("path")))
        added = {
            **self.limits.keys(batch),  # private: removed again in finish()
            **self.signals.cheap(content),
            "notebook_valid": validity,
            "formatter": formatter,
            "stripped_bytes": stripped,
        }
        batch = _with_columns(batch, added)
        if self.settings.signals.all:
            for group in GROUPS:
                batch = self._measure(batch, group, rows=None)
        return batch

    def before_rule(self, batch: pa.Table, rule: Rule, undecided: np.ndarray) -> pa.Table:
        schema = batch.schema
        missing = [g for g in self.groups[rule] if schema.get_field_index(GROUPS[g][0]) < 0]
        if missing:
            rows = np.flatnonzero(undecided)
            everyone = len(rows) == batch.num_rows
            for group in missing:
                batch = self._measure(batch, group, rows=None if everyone else rows)
        return batch

    def finish(self, batch: pa.Table) -> pa.Table:
        """One column order whatever was measured: the input's columns, then the signals;
        private columns dropped, groups no rule read (`signals.all: false`) null."""
        names = set(batch.schema.names)
        signals = set(SIGNAL_SCHEMA.names)
        private = (LANG_KEY, EXTENSION_KEY)
        kept = [n for n in batch.schema.names if n not in signals and n not in private]
        columns = [batch.column(n) for n in kept] + [
            batch.column(f.name) if f.name in names else pa.nulls(batch.num_rows, f.type)
            for f in SIGNAL_SCHEMA
        ]
        return pa.Table.from_arrays(columns, names=kept + SIGNAL_SCHEMA.names)

    def _measure(self, batch: pa.Table, group: str, rows: np.ndarray | None) -> pa.Table:
        content = single_array(batch.column("content"))
        lang = single_array(batch.column("lang"))
        chars = single_array(batch.column("chars"))
        return _with_columns(batch, self.signals.group(group, content, lang, chars, rows))


def _with_columns(batch: pa.Table, columns: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    """`batch` with `columns` added or replaced, in one new table."""
    present = set(batch.column_names)
    batch = batch.drop_columns([name for name in columns if name in present])
    return pa.Table.from_arrays(
        [*batch.columns, *columns.values()], names=[*batch.column_names, *columns]
    )
