"""The governance curate stage: benchmark decontamination, then PII and secrets redaction.

Runs after the quality heuristics, on the files still kept. Decontamination is a rule
(`decontam:<benchmark>`, the items a file matched in `decontam_hits`); PII is counted per
kind in `pii_<kind>` columns and, by `pii.mode`, redacted in place (the file is kept) or
made a reason to drop (`governance:pii`). Row-local and deterministic.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.reasons import DropReason
from corpus.core.stage import CurationConfig, set_column
from corpus.core.storage import read_bytes
from heuristics.decontam import (
    BenchmarkItem,
    Decontaminator,
    MatchSettings,
    humaneval_items,
    parse_jsonl,
)
from heuristics.governance_config import DecontamConfig
from heuristics.pii import PiiKind, count_kinds, find_pii, redact
from heuristics.rules import Rule, RuleStage
from heuristics.textstats import single_array

#: The `formatter` value of a file whose PII was redacted.
REDACTION = "pii"
PII_COLUMNS = [pa.field(f"pii_{kind.value}", pa.int32()) for kind in PiiKind]
GOVERNANCE_SCHEMA = pa.schema([*PII_COLUMNS, pa.field("decontam_hits", pa.string())])


def benchmark_items(config: DecontamConfig) -> list[BenchmarkItem]:
    items: list[BenchmarkItem] = []
    if "humaneval" in config.benchmarks:
        items += humaneval_items()
    for name, uri in sorted(config.files.items()):
        items += parse_jsonl(read_bytes(uri).decode("utf-8", "replace"), name, uri)
    return items


class DecontamRule(Rule):
    """Drops files that matched an item of one benchmark."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.reason = DropReason.decontam(benchmark)  # type: ignore[misc]

    def keep(self, batch: pa.Table) -> pa.Array:
        hits = batch.column("decontam_hits").to_pylist()
        mine = f'"{self.benchmark}:'
        return pa.array([h is None or mine not in h for h in hits], pa.bool_())


class PiiDropRule(Rule):
    reason = DropReason.GOVERNANCE_PII

    def keep(self, batch: pa.Table) -> pa.Array:
        total = pc.add(*[pc.fill_null(batch.column(f.name), 0) for f in PII_COLUMNS[:2]])
        for field in PII_COLUMNS[2:]:
            total = pc.add(total, pc.fill_null(batch.column(field.name), 0))
        return pc.equal(total, 0)


class GovernanceStage(RuleStage):
    name: ClassVar[str] = "governance"
    adds: ClassVar[pa.Schema] = GOVERNANCE_SCHEMA

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        self.pii = config.pii
        self.kinds = frozenset(PiiKind(k) for k in self.pii.kinds)
        decontam = config.decontam
        self.decontaminator = (
            Decontaminator(benchmark_items(decontam), match_settings(decontam))
            if decontam.names
            else None
        )
        super().__init__(config, context)

    def build_rules(self, config: CurationConfig) -> Sequence[Rule]:
        rules: list[Rule] = [DecontamRule(name) for name in config.decontam.names]
        if config.pii.mode == "drop":
            rules.append(PiiDropRule())
        return rules

    def prepare(self, batch: pa.Table) -> pa.Table:
        content = single_array(batch.column("content"))
        live = pc.fill_null(
            pc.and_(pc.is_valid(content), pc.is_null(batch.column("drop_reason"))), False
        ).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(live)
        texts = content.take(pa.array(rows, pa.int64())).to_pylist()
        paths = batch.column("path").take(pa.array(rows, pa.int64())).to_pylist()
        hits = np.full(batch.num_rows, None, dtype=object)
        if self.decontaminator is not None:
            for row, text in zip(rows, texts, strict=True):
                found = self.decontaminator.hits(text)
                if found:
                    hits[row] = json.dumps([f"{h.benchmark}:{h.item_id}:{h.method}" for h in found])
        batch = set_column(batch, "decontam_hits", pa.array(hits, pa.string()))
        return self._pii(batch, content, rows, texts, paths)

    def _pii(
        self,
        batch: pa.Table,
        content: pa.Array,
        rows: np.ndarray,
        texts: list[str],
        paths: list[str],
    ) -> pa.Table:
        """Count PII per kind in the live rows and, by mode, redact it in place."""
        n = batch.num_rows
        counts = {kind: np.zeros(n, np.int32) for kind in PiiKind}
        if self.pii.mode == "off":
            for field in PII_COLUMNS:
                batch = set_column(batch, field.name, pa.nulls(n, pa.int32()))
            return batch
        valid = pc.is_valid(content).to_numpy(zero_copy_only=False)
        changed_rows, changed_texts = [], []
        for row, text, path in zip(rows, texts, paths, strict=True):
            spans = find_pii(text, path, self.kinds)
            if not spans:
                continue
            for kind, count in count_kinds(spans).items():
                counts[kind][row] = count
            if self.pii.mode == "redact":
                changed_rows.append(row)
                changed_texts.append(redact(text, spans))
        for kind, values in counts.items():
            column = pa.array(values, pa.int32(), mask=~valid)
            batch = set_column(batch, f"pii_{kind.value}", column)
        if changed_rows:
            mask = np.zeros(n, dtype=bool)
            mask[changed_rows] = True
            batch = _mark_rewritten(batch, mask)
            new = pc.replace_with_mask(
                content, pa.array(mask), pa.array(changed_texts, content.type)
            )
            batch = set_column(batch, "content", new)
        return batch


def _mark_rewritten(batch: pa.Table, rows: np.ndarray) -> pa.Table:
    """Name the rewrite in `formatter` (`pii`, or `<formatter>+pii`), as formatters do: the
    content then differs from the bytes `content_sha256` hashes."""
    if "formatter" not in batch.column_names:
        return batch
    before = batch.column("formatter").to_pylist()
    after = [
        (f"{name}+{REDACTION}" if name else REDACTION) if rewritten else name
        for name, rewritten in zip(before, rows, strict=True)
    ]
    return set_column(batch, "formatter", pa.array(after, pa.string()))


def match_settings(config: DecontamConfig) -> MatchSettings:
    return MatchSettings(
        code_ngram=config.code_ngram,
        word_ngram=config.word_ngram,
        overlap=config.overlap,
        docstring_overlap=config.docstring_overlap,
        min_exact_chars=config.min_exact_chars,
        min_ngrams=config.min_ngrams,
    )
