"""One rank of a launched run: `deepspeed ... --module trainer.train_main --job JOB.json`.

The launcher (deepspeed, torchrun) sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT;
`train` joins that world. Rank 0 writes result.json to the config's run_dir.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from corpus.core.errors import CodecorpusError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trainer.train_main", description=__doc__)
    parser.add_argument("--job", type=Path, required=True, help="job file (trainer.launch)")
    parser.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from trainer.launch import read_job
    from trainer.train import train

    try:
        config, mixture, validation = read_job(args.job)
        train(config, mixture, validation)
    except CodecorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
