"""Curation ablation on CPU: arms raw / near-dedup / full of a >= 50 MB corpus of real files
(installed distributions, offline), the tiny model with 2 seeds per arm on the same token
budget, scored on one held-out set of repositories; prints the table.

    python -m benchmarks.ablation [--mb 60] [--tokens 200000] [--work DIR]

Arms: `raw` curates with no quality rules, no formatters and no dedup (intake, the license
allow-list and the held-out split only); `near-dedup` adds exact and MinHash near dedup;
`full` is the default recipe (replit preset rules and formatters, dedup). The held-out set is
20% of the repositories by hash, curated with the full recipe. Everything stays under --work
(reused by a rerun: versions and finished trials are skipped).
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks._common import sample_corpus

ARMS = {
    "raw": {"curation": {"heuristics": {"rules": [], "formatters": []},
                         "dedup": {"exact": False, "near": False}}},
    "near-dedup": {"curation": {"heuristics": {"rules": [], "formatters": []}}},
    "full": {},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=60, help="corpus size in MB")
    parser.add_argument("--tokens", type=int, default=200_000, help="D of every trial")
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="share of repositories held out (the corpus has few, large ones)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    args = parser.parse_args()
    work = args.work or Path(tempfile.gettempdir()) / "codecorpus-ablation"
    os.environ.setdefault("CODECORPUS_HOME", str(work / "home"))

    from corpus.core.settings import Settings
    from corpus.pipeline.ablation import run_ablation_on
    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout
    from corpus.store.catalog import Catalog
    from trainer.ablation_config import AblationConfig
    from trainer.ablation_report import format_table

    started = time.perf_counter()
    size = sample_corpus(work / "repos", args.mb)
    print(f"corpus: {size.files:,} files, {size.mb:.1f} MB of installed distributions "
          f"({len(list((work / 'repos').iterdir()))} repositories); load {os.getloadavg()}")
    catalog = Catalog(Settings(home=work / "home"))
    curation = {"tokenizer": {"vocab_size": args.vocab, "sample_bytes": 20_000_000,
                              "num_threads": 2}}  # fmt: skip
    marker = work / "ingested"  # an interrupted ingest leaves the dataset without files
    if not marker.exists():
        ingest([str(work / "repos")], "ds", catalog, CurationConfig.from_dict(curation),
               layout=Layout.REPOS)  # fmt: skip
        marker.write_text("ds")
    print(f"ingested in {time.perf_counter() - started:.0f} s")
    config = AblationConfig.from_dict({
        "arms": ARMS, "baseline": "raw", "seeds": [0, 1], "model": "tiny",
        "tokens": args.tokens, "curation": curation, "holdout": {"fraction": args.holdout},
        "min_share": 0.05,
        "train": {"micro_batch": 8, "seq_len": 128, "lr": 3e-3, "eval_windows": 32,
                  "schedule": {"warmup_steps": 10}},
        "evaluate": {"bits_per_byte": True},
    })  # fmt: skip
    outcome = run_ablation_on(
        catalog, "ds", config, work / "out",
        on_step=lambda what, name: print(f"{what} {name} ({time.perf_counter() - started:.0f} s)"),
        on_event=lambda kind, t, info: print(
            f"{kind} {t.label()}" + (f": bits/byte {info['evals']['bits_per_byte']:.4f}, "
                                     f"{info['tokens_per_s']:,.0f} tok/s, {info['wall_s']:.0f} s"
                                     if kind == "finished" else "")),
    )  # fmt: skip
    wall = time.perf_counter() - started
    print(f"\nlanguages {outcome.languages}; held-out version {outcome.versions['heldout']}; "
          f"{wall / 60:.1f} min in all; load {os.getloadavg()}")
    if outcome.report is None:
        raise SystemExit(f"no baseline trial finished: {outcome.run.failed}")
    metrics = ["bits_per_byte", "val_loss", "humaneval_bits_per_byte",
               *(f"bits_per_byte.{lang}" for lang in outcome.languages)]  # fmt: skip
    print(format_table(outcome.report, [m for m in metrics if m in outcome.report.metrics]))
    if args.json:
        args.json.write_text(json.dumps({"wall_s": wall, "mb": size.mb, "files": size.files,
                                         "report": outcome.report.to_dict()}, indent=1))


if __name__ == "__main__":
    main()
