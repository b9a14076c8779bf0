"""The sweep's figure: validation loss vs epochs, one series per (model size, D).

Within a series N and D are fixed and U = D / epochs varies, as in the paper's figure of
loss against epochs at fixed compute. Points are the trials; the solid line is the fitted
law; the dashed line is the paper's C4 law by shape: its loss relative to one epoch on fresh
data, times the fitted one-epoch loss (or, without a fit, anchored at the series' trial with
the fewest epochs). Matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainer.plan import human
from trainer.sweep_fit import SweepFit, relative_paper_curve


def series(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], list[Mapping[str, Any]]]:
    """Rows grouped by (model, planned D), each group sorted by epochs."""
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], int(row["planned_tokens"])), []).append(row)
    return {key: sorted(group, key=lambda r: r["epochs"]) for key, group in groups.items()}


def plot_sweep(rows: Sequence[Mapping[str, Any]], fit: SweepFit, path: str | Path) -> Path:
    """Write the PNG to `path`; returns it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    path = Path(path)
    figure, axes = plt.subplots(figsize=(10, 5), dpi=120)  # 1200 x 600 pixels
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    low = min((r["epochs"] for r in rows), default=1.0)
    low, top = min(low, 1.0), max((r["epochs"] for r in rows), default=1.0)
    grid = np.geomspace(low, max(top, 1.0) * 1.15, 200)  # under 1 epoch: only D of U is read
    for i, ((model, planned), group) in enumerate(sorted(series(rows).items())):
        color = colors[i % len(colors)]
        params = float(group[0]["params"])
        tokens = float(np.mean([r["tokens"] for r in group]))  # trained D (a batch multiple)
        epochs = np.array([r["epochs"] for r in group])
        losses = np.array([r["val_loss"] for r in group])
        label = f"{model} ({human(params)} params), D={human(planned)}"
        axes.plot(epochs, losses, "o", color=color, label=label)
        relative = relative_paper_curve(params, tokens, grid)
        if fit.law is not None:
            axes.plot(grid, np.asarray(fit.law.loss(params, tokens, tokens / grid)), "-",
                      color=color)  # fmt: skip
            anchor = float(fit.law.loss(params, tokens, tokens))
        else:
            anchor = float(losses[0] / relative_paper_curve(params, tokens, epochs[:1])[0])
        axes.plot(grid, anchor * relative, "--", color=color, alpha=0.8)
    if top / low > 8:
        axes.set_xscale("log")
    axes.set_xlabel("epochs (D / U)")
    axes.set_ylabel("validation loss (nats/token)")
    title = "Loss vs epochs"
    if fit.law is not None:
        title += f": fitted R_D* = {fit.law.rd_star:.3g} (paper 15.4)"
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    # Legends right of the axes: inside, they hide points.
    runs_legend = axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                              title="series", title_fontsize=7)  # fmt: skip
    axes.add_artist(runs_legend)
    styles = [
        Line2D([], [], color="gray", marker="o", linestyle="", label="trials"),
        Line2D([], [], color="gray", linestyle="--",
               label="paper's law (C4): loss relative to 1 epoch,\n"
                     + ("scaled to the fit's 1-epoch loss" if fit.law is not None
                        else "scaled to the first trial")),
    ]  # fmt: skip
    if fit.law is not None:
        styles.insert(1, Line2D([], [], color="gray", linestyle="-", label="fitted law"))
    axes.legend(handles=styles, fontsize=7, loc="lower left", bbox_to_anchor=(1.02, 0.0))
    figure.subplots_adjust(left=0.08, right=0.7, top=0.92, bottom=0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
