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
    from corpus.store.mixtures import training_inputs
    from corpus.store.versions import Registry
    from trainer.data import local_prefix
    from trainer.train_config import TrainConfig

    Registry(catalog, dataset).get(version)  # VersionNotFound names the known versions
    fields = dict(fields)
    fields.setdefault("run_dir", catalog.settings.home / "runs" / "train" / mixture_id[:12])
    # validated before the mixture is resolved, which needs its seq_len
    config = TrainConfig.from_dict(fields)
    inputs = training_inputs(catalog, mixture_id, config.seq_len, dataset=dataset,
                             version=version, seed=seed, verify=verify)  # fmt: skip
    overrides = fields.get("model_overrides") or {}
    if isinstance(overrides, dict) and "vocab_size" not in overrides:
        fields["model_overrides"] = {**overrides, "vocab_size": inputs.vocab_size}
        config = TrainConfig.from_dict(fields)
    for component in inputs.spec.components:  # missing shards fail here, not in N ranks
        for ref in component.shards:
            local_prefix(component.language, ref)
    if config.run_dir is not None:
        _keep_lineage(catalog, inputs.mixture, Path(config.run_dir), inputs.validation)
    return TrainingJob(inputs.mixture, config, inputs.spec, inputs.validation)


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


def _keep_lineage(
    catalog: Catalog, mixture: Mixture, run_dir: Path, validation: dict[str, list[str]]
) -> None:
    """lineage.json (what made the model) and tokenizer.model, so the run stands alone."""
    from tokenizer.store import TokenizerStore
    from trainer.loading import write_lineage

    lineage = {"dataset": mixture.dataset, "version": mixture.version, "mixture": mixture.id,
               "tokenizer": mixture.tokenizer, "weights": dict(mixture.weights),
               "validation": validation}  # fmt: skip
    model = TokenizerStore(catalog.settings.resolved_warehouse()).load(mixture.tokenizer)
    write_lineage(run_dir, lineage, model)
