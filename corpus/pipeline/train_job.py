"""A training job from a stored mixture: the train config, the data spec and the validation
shards, checked on the driver (missing shards fail here, not in N ranks), then run in this
process or through the deepspeed launcher. Shared by `codecorpus train` and `corpus.train`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.core.errors import ConfigError

if TYPE_CHECKING:
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import Mixture
    from trainer.data import MixtureSpec
    from trainer.train_config import TrainConfig


@dataclass
class TrainingJob:
    mixture: Mixture
    config: TrainConfig
    spec: MixtureSpec
    validation: dict[str, list[str]]
    """Validation shard prefixes per language of the mixture."""

    @property
    def unvalidated(self) -> list[str]:
        """Mixture languages without validation shards: their loss is not measured."""
        return sorted(set(self.mixture.weights) - set(self.validation))


def prepare_training(
    catalog: Catalog,
    dataset: str,
    version: str,
    mixture_id: str,
    fields: dict[str, Any],
    seed: int = 0,
    verify: bool = False,
) -> TrainingJob:
    """The job training `mixture_id` of DATASET@VERSION with TrainConfig `fields` (run_dir
    defaults to CODECORPUS_HOME/runs/train/<mixture>, vocab_size to the tokenizer's)."""
    from corpus.store.mixtures import get_mixture
    from corpus.store.versions import Registry
    from trainer.data import MixtureSpec, local_prefix
    from trainer.train_config import TrainConfig

    Registry(catalog, dataset).get(version)  # VersionNotFound names the known versions
    found = get_mixture(catalog, mixture_id)
    if (found.dataset, found.version) != (dataset, version):
        raise ConfigError(
            f"mixture {mixture_id} is over {found.dataset}@{found.version}, not {dataset}@{version}"
        )
    fields = dict(fields)
    fields.setdefault("run_dir", catalog.settings.home / "runs" / "train" / found.id[:12])
    overrides = fields.get("model_overrides") or {}
    if isinstance(overrides, dict) and "vocab_size" not in overrides:
        fields["model_overrides"] = {**overrides, "vocab_size": _vocab_size(catalog, found)}
    config = TrainConfig.from_dict(fields)
    spec = MixtureSpec.from_mixture(found, config.seq_len, seed, verify=verify)
    for component in spec.components:  # missing shards fail here, not in N ranks
        for ref in component.shards:
            local_prefix(component.language, ref)
    return TrainingJob(found, config, spec, _validation_prefixes(catalog, found))


def run_training(job: TrainingJob, nproc: int = 1, hostfile: Path | None = None) -> dict[str, Any]:
    """Train: one rank in this process, or `nproc` ranks per node through deepspeed; returns
    the result (steps, tokens, losses, val_loss, tokens_per_s, ...)."""
    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    if nproc == 1 and hostfile is None:
        from trainer.train import train

        return train(job.config, job.spec, job.validation).to_dict()
    from trainer.launch import deepspeed_command, write_job

    if hostfile is not None and not hostfile.is_file():
        raise ConfigError(f"--hostfile {hostfile} does not exist")
    run_dir = job.config.run_dir
    if run_dir is None:  # the ranks write result.json there
        raise ConfigError("training on several ranks needs a run_dir")
    path = write_job(run_dir / "job.json", job.config, job.spec, job.validation)
    done = subprocess.run(deepspeed_command(path, nproc, hostfile=hostfile), check=False)
    result = run_dir / "result.json"
    if done.returncode != 0 or not result.is_file():
        from trainer.distributed import TrainError

        raise TrainError(f"the deepspeed launcher exited with {done.returncode}; see above")
    return json.loads(result.read_text())


def _vocab_size(catalog: Catalog, mixture: Mixture) -> int:
    from tokenizer.store import TokenizerStore

    record = TokenizerStore(catalog.settings.resolved_warehouse()).record(mixture.tokenizer)
    return int(record["config"]["vocab_size"])


def _validation_prefixes(catalog: Catalog, mixture: Mixture) -> dict[str, list[str]]:
    """Validation shards of the mixture's languages in the version's manifest."""
    from pyiceberg.expressions import And, EqualTo

    from corpus.store.catalog import SHARDS

    wanted = And(
        And(EqualTo("version", mixture.version), EqualTo("tokenizer", mixture.tokenizer)),
        EqualTo("split", "validation"),
    )
    rows = catalog.table(mixture.dataset, SHARDS).scan(row_filter=wanted).to_arrow()
    prefixes: dict[str, list[str]] = {}
    for row in rows.sort_by("prefix").to_pylist():
        if row["lang"] in mixture.weights:
            prefixes.setdefault(row["lang"], []).append(row["prefix"])
    return prefixes
