"""`codecorpus ablate`: curation arms of one dataset, each trained with several seeds on the
same model and token budget, compared on one held-out set with a significance call."""

from pathlib import Path
from typing import Annotated

import typer


def ablate(
    dataset: Annotated[str, typer.Argument(help="Ingested dataset the arms curate.")],
    config: Annotated[
        Path,
        typer.Option("--config", help="Ablation YAML (trainer/ablation_config.py).", exists=True),
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
    from corpus.cli.render import console, trial_printer
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
        on_event=trial_printer(console, _finished),
    )  # fmt: skip
    if outcome.report is not None:
        console.print(format_table(outcome.report), markup=False, highlight=False)
        console.print(f"report: {outcome.paths['json']}; figures in {out}")
    if outcome.run.failed:
        listed = "; ".join(f"{tid}: {why}" for tid, why in outcome.run.failed.items())
        raise SweepError(f"{len(outcome.run.failed)} trial(s) failed ({listed}); fix the cause "
                         "and rerun the same command: finished trials are kept")  # fmt: skip


def _finished(info: dict) -> str:
    bits = (info.get("evals") or {}).get("bits_per_byte", float("nan"))
    return f"val loss {info['val_loss']:.4f}, bits/byte {bits:.4f}, {info['wall_s']:.1f} s"
