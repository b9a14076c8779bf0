"""Explain one file: its signals, every rule's verdict with the thresholds used, the decision.

The same stage code as curation runs on a one-row batch, with every signal
measured, so what `codecorpus heuristics explain` shows is what curation decides.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpus.pipeline.config import CurationConfig
from heuristics.limits import Limits
from heuristics.signals import SIGNAL_SCHEMA
from heuristics.stage import HeuristicsStage


@dataclass(frozen=True)
class Verdict:
    rule: str
    reason: str
    outcome: str
    """"keep", "drop", or "n/a" (a threshold is off or the signal does not apply)."""
    signals: dict[str, Any]
    thresholds: dict[str, Any]


@dataclass(frozen=True)
class Explanation:
    path: str
    lang: str | None
    preset: str
    signals: dict[str, Any]
    verdicts: list[Verdict]
    decision: str | None
    """The drop reason, None when the file is kept."""
    content: str | None
    """The content as it would be published (after formatters)."""
    upstream_reason: str | None = None
    notes: list[str] = field(default_factory=list)


def explain_text(
    path: str,
    content: str | None,
    lang: str | None,
    config: CurationConfig,
    is_generated: bool = False,
    drop_reason: str | None = None,
) -> Explanation:
    """Run the heuristics stage on one file and collect why it decides what it decides."""
    settings = config.heuristics
    config = replace(
        config, heuristics=replace(settings, signals=replace(settings.signals, all=True))
    )
    stage = HeuristicsStage(config)
    batch = pa.table(
        {
            "path": pa.array([path], pa.string()),
            "lang": pa.array([lang], pa.string()),
            "content": pa.array([content], pa.string()),
            "size": pa.array([len((content or "").encode())], pa.int64()),
            "is_generated": pa.array([is_generated], pa.bool_()),
            "drop_reason": pa.array([drop_reason], pa.string()),
        }
    )
    prepared = stage.prepare(batch)
    row = prepared.slice(0, 1).to_pylist()[0]
    limits = Limits(config.heuristics).for_file(lang, path)
    verdicts = []
    for rule in stage.rules:
        keep = rule.keep(prepared)[0].as_py()
        outcome = "n/a" if keep is None else ("keep" if keep else "drop")
        verdicts.append(
            Verdict(
                rule=rule.name, reason=rule.reason.value, outcome=outcome,
                signals={s: row.get(s) for s in rule.signals},
                thresholds={t: limits.get(t) for t in rule.thresholds},
            )
        )  # fmt: skip
    decision = stage(batch).column("drop_reason")[0].as_py()
    return Explanation(
        path=path,
        lang=lang,
        preset=settings.preset,
        signals={name: row[name] for name in SIGNAL_SCHEMA.names},
        verdicts=verdicts,
        decision=decision,
        content=row["content"],
        upstream_reason=drop_reason,
    )


def explain_file(path: Path, config: CurationConfig, lang: str | None = None) -> Explanation:
    """Read, decode and identify a file as ingest would, then explain it."""
    import enry

    from corpus.language import CLASSIFY_BYTES, TAIL_BYTES, identify
    from corpus.sources.intake import decode

    data = path.read_bytes()
    if len(data) > config.intake.max_file_bytes:
        text, reason = None, "intake:too_large"
    else:
        text, _, dropped = decode(data, config.intake.binary_sniff_bytes)
        reason = dropped.value if dropped is not None else None
    lang = lang or identify(path.name, data)
    view = (
        data
        if len(data) <= CLASSIFY_BYTES + TAIL_BYTES
        else (data[:CLASSIFY_BYTES] + b"\n" + data[-TAIL_BYTES:])
    )  # what ingest hands linguist's generated-code check
    generated = bool(enry.is_generated(path.name, view))
    return explain_text(str(path), text, lang, config, generated, reason)
