"""The ablation's verdict: per arm and metric, mean ± spread over seeds, the difference to the
baseline arm and a significance call that noise cannot win.

A difference is called only when both hold: the arms' seed ranges do not overlap, and a paired
t-test across seeds (seed i of an arm against seed i of the baseline: the same initialisation
and data order, so the pair shares its noise) rejects "no difference" at `alpha`. With two
seeds the t-test has one degree of freedom (|t| > 12.7 at 0.05): only a difference far above
the seed spread is called. Lower is better for losses and bits per byte, higher for pass@k.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SAME = "no difference"


@dataclass(frozen=True)
class Cell:
    """One arm's metric over its seeds, and how it compares with the baseline."""

    values: tuple[float, ...]
    mean: float
    std: float
    """Sample standard deviation over seeds (0 with one seed)."""
    low: float
    high: float
    diff: float | None = None
    """Mean paired difference to the baseline (arm - baseline); None for the baseline."""
    p_value: float | None = None
    call: str | None = None
    """"better", "worse" or "no difference" (None for the baseline, or without pairs)."""


@dataclass
class AblationReport:
    baseline: str
    alpha: float
    metrics: list[str]
    arms: dict[str, dict[str, Cell]] = field(default_factory=dict)
    seeds: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    """Arm -> D its trials trained on (equal for all arms)."""
    epochs: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["arms"] = {a: {m: asdict(c) for m, c in cells.items()} for a, cells in
                        self.arms.items()}  # fmt: skip
        return data

    def call(self, arm: str, metric: str) -> str | None:
        return self.arms[arm][metric].call


def metric_values(row: Mapping[str, Any]) -> dict[str, float]:
    """The comparable numbers of one trial: validation loss of the held-out set, its bits per
    byte (overall and per language), the HumanEval probe's bits per byte, pass@k."""
    out = {"val_loss": float(row["val_loss"])}
    evals = row.get("evals") or {}
    for name, value in evals.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    for lang, entry in (evals.get("bits_per_byte_by_language") or {}).items():
        out[f"bits_per_byte.{lang}"] = float(entry["bits_per_byte"])
    return out


def higher_is_better(metric: str) -> bool:
    return metric.startswith("pass@")


def summarize(rows: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str,
              alpha: float = 0.05) -> AblationReport:  # fmt: skip
    """`rows`: arm -> its trials' result rows, in seed order (seed i pairs with seed i)."""
    if baseline not in rows or not rows[baseline]:
        raise ValueError(f"no finished trials of the baseline arm {baseline!r}")
    values = {arm: [metric_values(r) for r in arm_rows] for arm, arm_rows in rows.items()}
    metrics = sorted({m for vs in values.values() for v in vs for m in v},
                     key=_metric_order)  # fmt: skip
    report = AblationReport(baseline, alpha, metrics)
    for arm, arm_rows in rows.items():
        report.seeds[arm] = [int(r["seed"]) for r in arm_rows]
        report.tokens[arm] = int(arm_rows[0]["tokens"]) if arm_rows else 0
        report.epochs[arm] = float(arm_rows[0]["planned_epochs"]) if arm_rows else 0.0
    base = values[baseline]
    for arm in rows:
        cells = {}
        for metric in metrics:
            mine = [v[metric] for v in values[arm] if metric in v]
            if not mine:
                continue
            cell = _cell(mine)
            if arm != baseline:
                pairs = [(v[metric], b[metric]) for v, b in zip(values[arm], base, strict=False)
                         if metric in v and metric in b]  # fmt: skip
                cell = _compare(cell, pairs, [b[metric] for b in base if metric in b],
                                higher_is_better(metric), alpha)  # fmt: skip
            cells[metric] = cell
        report.arms[arm] = cells
    return report


def _metric_order(metric: str) -> tuple[int, str]:
    head = ("bits_per_byte", "val_loss", "humaneval_bits_per_byte")
    return (head.index(metric), "") if metric in head else (len(head), metric)


def _cell(values: Sequence[float]) -> Cell:
    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return Cell(tuple(float(v) for v in array), float(array.mean()), std,
                float(array.min()), float(array.max()))  # fmt: skip


def _compare(cell: Cell, pairs: Sequence[tuple[float, float]], base: Sequence[float],
             higher: bool, alpha: float) -> Cell:  # fmt: skip
    if not pairs:
        return cell
    diffs = np.asarray([a - b for a, b in pairs])
    diff = float(diffs.mean())
    p_value = paired_p_value(diffs)
    separated = cell.low > max(base) or cell.high < min(base)
    call = SAME
    if separated and p_value is not None and p_value < alpha:
        call = "better" if (diff > 0) == higher else "worse"
    elif len(pairs) < 2:
        call = None  # one pair: nothing measures the noise
    return Cell(cell.values, cell.mean, cell.std, cell.low, cell.high, diff, p_value, call)


def paired_p_value(diffs: np.ndarray) -> float | None:
    """Two-sided p of a paired t-test that the mean difference is 0 (None with < 2 pairs)."""
    if len(diffs) < 2:
        return None
    spread = float(diffs.std(ddof=1))
    if spread == 0.0:
        return 0.0 if float(diffs.mean()) != 0.0 else 1.0
    from scipy import stats

    t = float(diffs.mean()) / (spread / math.sqrt(len(diffs)))
    return float(2 * stats.t.sf(abs(t), df=len(diffs) - 1))


def format_table(report: AblationReport, metrics: Sequence[str] | None = None) -> str:
    """A plain-text table: arm, seeds, then per metric mean ± std, Δ to the baseline, call."""
    metrics = list(metrics or report.metrics)
    header = ["arm", "seeds", "epochs"] + [m for m in metrics]
    lines = []
    for arm, cells in report.arms.items():
        row = [arm + (" (baseline)" if arm == report.baseline else ""),
               str(len(report.seeds[arm])), f"{report.epochs[arm]:g}"]  # fmt: skip
        for metric in metrics:
            cell = cells.get(metric)
            if cell is None:
                row.append("-")
                continue
            text = f"{cell.mean:.4f} ± {cell.std:.4f}"
            if cell.diff is not None:
                p = "" if cell.p_value is None else f", p={cell.p_value:.2g}"
                text += f" (Δ {cell.diff:+.4f}{p}: {cell.call or 'n/a'})"
            row.append(text)
        lines.append(row)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    return "\n".join(out)


def write_report(report: AblationReport, out: str | Path) -> dict[str, Path]:
    """`report.json` and one PNG per metric (each seed a dot, the mean a bar with its
    min-max range) under `out`; returns the paths by name."""
    out = Path(out)
    paths = {"json": out / "report.json"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=1))
    for metric in report.metrics:
        paths[metric] = plot_metric(report, metric, out / f"{metric}.png")
    return paths


def plot_metric(report: AblationReport, metric: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    arms = [a for a in report.arms if metric in report.arms[a]]
    figure, axes = plt.subplots(figsize=(max(4, 1.6 * len(arms)), 4), dpi=110)
    for x, arm in enumerate(arms):
        cell = report.arms[arm][metric]
        color = "tab:gray" if arm == report.baseline else {
            "better": "tab:green", "worse": "tab:red"}.get(cell.call or "", "tab:blue")
        axes.bar(x, cell.mean, color=color, alpha=0.35, width=0.6)
        axes.errorbar(x, cell.mean, yerr=[[cell.mean - cell.low], [cell.high - cell.mean]],
                      color=color, capsize=6)  # fmt: skip
        axes.scatter([x] * len(cell.values), cell.values, color=color, zorder=3, s=18)
    axes.set_xticks(range(len(arms)), arms)
    values = [v for a in arms for v in report.arms[a][metric].values]
    span = (max(values) - min(values)) or abs(max(values)) * 0.05 or 1.0
    axes.set_ylim(min(values) - 0.5 * span, max(values) + 0.5 * span)
    better = "higher" if higher_is_better(metric) else "lower"
    axes.set_title(f"{metric} ({better} is better; bars: seed range)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
