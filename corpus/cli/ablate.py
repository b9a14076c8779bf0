"""`codecorpus ablate`: curation arms of one dataset, each trained with several seeds on the
same model and token budget, compared on one held-out set with a significance call."""

from pathlib import Path
from typing import Annotated, Any

import typer


def ablate(
    dataset: Annotated[str, typer.Argument(help="Ingested dataset the arms curate.")],
    config: Annotated[
        Path, typer.Option("--config", help="Ablation YAML (trainer/ablation_config.py).",
                           exists=True),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the results, report.json and PNGs (resumable).")
    ],
    prefix: Annotated[
        str, typer.Option("--prefix", help="Version names: <prefix><arm>, <prefix>heldout.")
    ] = "ablate-",
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Running Ray cluster to use."),
    ] = None,
) -> None:
    """Curate the missing arm versions and the held-out set, train every (arm, seed) not yet in
    OUT's table, then print the table: mean ± std over seeds, Δ to the baseline, the call."""
    from corpus.cli.render import console
    from corpus.core.cluster import RunnerConfig
    from corpus.pipeline.ablation import run_ablation_on
    from corpus.store.catalog import Catalog
    from trainer.ablation_config import AblationConfig
    from trainer.ablation_report import format_table
    from trainer.sweep_grid import SweepError

    settings = AblationConfig.from_file(config)
    console.print(f"ablation of {dataset}: arms {', '.join(settings.arms)} (baseline "
                  f"{settings.baseline}), seeds {list(settings.seeds)}, model {settings.model}; "
                  f"results in {out}")  # fmt: skip
    outcome = run_ablation_on(
        Catalog(), dataset, settings, out, prefix=prefix,
        runner=RunnerConfig(ray_address=ray_address), ray_address=ray_address,
        on_step=lambda what, name: console.print(f"{what} {dataset}@{name}"),
        on_event=_printer(console),
    )  # fmt: skip
    if outcome.report is not None:
        console.print(format_table(outcome.report), markup=False, highlight=False)
        console.print(f"report: {outcome.paths['json']}; figures in {out}")
    if outcome.run.failed:
        listed = "; ".join(f"{tid}: {why}" for tid, why in outcome.run.failed.items())
        raise SweepError(f"{len(outcome.run.failed)} trial(s) failed ({listed}); fix the cause "
                         "and rerun the same command: finished trials are kept")  # fmt: skip


def _printer(console: Any):
    counts = {"done": 0, "total": 0}

    def show(kind: str, trial: Any, info: dict) -> None:
        if kind == "skipped":
            console.print(f"skip {trial.label()}: already in the table")
        elif kind == "submitted":
            counts["total"] = info["count"]
            console.print(f"running {info['count']} trial(s)")
        elif kind in ("finished", "failed"):
            counts["done"] += 1
            what = (f"val loss {info['val_loss']:.4f}, bits/byte "
                    f"{(info.get('evals') or {}).get('bits_per_byte', float('nan')):.4f}, "
                    f"{info['wall_s']:.1f} s" if kind == "finished"
                    else f"failed: {info['error']}")  # fmt: skip
            console.print(f"[{counts['done']}/{counts['total']}] {trial.label()}: {what}",
                          markup=False)  # fmt: skip

    return show
