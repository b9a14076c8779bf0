"""Run `train` on several ranks: local processes, or the deepspeed launcher.

- `run_local`: N processes on this machine with torch.multiprocessing (spawn), each rank
  calling `train` with the launcher's environment; rank 0's result is returned. Used for CPU
  runs and tests (gloo), and for one-node GPU runs without the launcher.
- `deepspeed_command`: the `deepspeed` launcher command for a job file written by
  `write_job` (one node, or several through a hostfile); each rank runs `trainer.train_main`.

A job file is JSON: {"config": TrainConfig fields, "mixture": MixtureSpec fields,
"validation": {language: [prefixes]}}, so every rank rebuilds the same run.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from corpus.core.errors import CodecorpusError, ConfigError
from trainer.data import ComponentSpec, MixtureSpec, ShardRef
from trainer.distributed import TrainError, free_port
from trainer.train_config import TrainConfig


def spec_to_dict(spec: MixtureSpec) -> dict[str, Any]:
    return asdict(spec)


def spec_from_dict(data: Mapping[str, Any]) -> MixtureSpec:
    try:
        components = tuple(
            ComponentSpec(
                c["language"],
                c["weight"],
                tuple(ShardRef(**s) for s in c["shards"]),
                c.get("unique_budget"),
            )
            for c in data["components"]
        )
        return MixtureSpec(components, data["tokens"], data["seq_len"], data.get("seed", 0))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"bad mixture in job file: {exc!r}") from exc


def write_job(
    path: Path,
    config: TrainConfig,
    mixture: MixtureSpec,
    validation: Mapping[str, Sequence[str | Path]] | None = None,
) -> Path:
    job = {
        "config": config.to_dict(),
        "mixture": spec_to_dict(mixture),
        "validation": {k: [str(p) for p in v] for k, v in (validation or {}).items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(job, indent=2))
    return path


def read_job(path: Path) -> tuple[TrainConfig, MixtureSpec, dict[str, list[str]]]:
    try:
        job = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read job file {path}: {exc}") from exc
    return (
        TrainConfig.from_dict(job["config"]),
        spec_from_dict(job["mixture"]),
        job.get("validation") or {},
    )


def deepspeed_command(
    job: Path, nproc: int, *, hostfile: Path | None = None, master_port: int | None = None
) -> list[str]:
    """The deepspeed launcher command running `trainer.train_main` on the job (nproc ranks
    per node; with a hostfile, on each of its hosts over passwordless ssh)."""
    command = [sys.executable, "-m", "deepspeed.launcher.runner"]
    if hostfile is not None:
        command += ["--hostfile", str(hostfile)]
    command += ["--num_gpus", str(nproc), "--master_port", str(master_port or free_port())]
    return [*command, "--module", "trainer.train_main", "--job", str(job)]


Job = tuple[TrainConfig, MixtureSpec, Mapping[str, Sequence[str | Path]] | None]


def run_local(
    config: TrainConfig,
    mixture: MixtureSpec,
    validation: Mapping[str, Sequence[str | Path]] | None = None,
    nproc: int = 2,
) -> Any:
    """`train` on `nproc` local processes; rank 0's TrainResult. A CodecorpusError raised on a
    rank is raised here again."""
    return run_local_jobs([(config, mixture, validation)], nproc)[0]


def run_local_jobs(jobs: Sequence[Job], nproc: int = 2) -> list[Any]:
    """Several runs one after the other in the same `nproc` processes (their start-up, mostly
    importing torch and DeepSpeed, is paid once); rank 0's TrainResult of each."""
    import torch.multiprocessing as mp

    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc must be a positive integer, got {nproc!r}")
    threads = max(1, (os.cpu_count() or 1) // nproc)
    with tempfile.TemporaryDirectory(prefix="codecorpus-train-") as tmp:
        out = Path(tmp)
        jobs = [(c, m, dict(v or {})) for c, m, v in jobs]
        # A port per run: a rank that starts the next run early must not reach the last one's
        # store, which rank 0 may not have closed yet.
        ports = [free_port() for _ in jobs]
        args = (nproc, ports, threads, jobs, out)
        try:
            mp.start_processes(_rank_main, args=args, nprocs=nproc, join=True,
                               start_method="spawn")  # fmt: skip
        except Exception as exc:
            for rank in range(nproc):
                error = out / f"error{rank}.pkl"
                if error.is_file():
                    raise pickle.loads(error.read_bytes()) from None
            raise TrainError(f"a training rank failed: {exc}") from exc
        return [pickle.loads((out / f"result{i}.pkl").read_bytes()) for i in range(len(jobs))]


def _rank_main(rank: int, nproc: int, ports: list[int], threads: int, jobs: list[Job],
               out: Path) -> None:  # fmt: skip
    import torch

    from trainer.train import train

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                      MASTER_ADDR="127.0.0.1")  # fmt: skip
    torch.set_num_threads(threads)  # ranks share the cores: no oversubscription
    for i, (config, mixture, validation) in enumerate(jobs):
        os.environ["MASTER_PORT"] = str(ports[i])
        try:
            result = train(config, mixture, validation)
        except CodecorpusError as exc:
            (out / f"error{rank}.pkl").write_bytes(pickle.dumps(exc))
            raise
        if rank == 0:
            (out / f"result{i}.pkl").write_bytes(pickle.dumps(result))
