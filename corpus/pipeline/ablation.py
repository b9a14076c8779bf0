"""An ablation on a stored dataset: curate its arms and the held-out set, store one mixture per
arm, train every (arm, seed) (`trainer.ablation`), then the report (`trainer.ablation_report`).

The held-out set is chosen on the raw snapshot by repository hash before any curation choice
(`corpus.pipeline.holdout`): every arm is curated with those repositories dropped
(`holdout:evaluation`), so no quality rule or dedup decision of an arm moves a file across, and
the held-out version is curated from only those repositories with the ablation's shared
`curation` (the full standard unless it says otherwise). Every version shares one tokenizer,
trained by the first arm curated (the baseline's) unless `curation.shards.tokenizer` names one,
so validation losses compare as well as bits per byte.

Versions are named `<prefix><arm>` and `<prefix>heldout`; an existing one is reused when its
config is the one asked for (a rerun curates nothing), refused otherwise.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import And, EqualTo

from corpus.core.cluster import RunnerConfig
from corpus.core.errors import ConfigError
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.mixtures import MixtureNotFound, create_mixture, get_mixture, unique_tokens
from corpus.store.versions import Registry
from trainer.ablation_config import AblationConfig

log = logging.getLogger(__name__)
HELDOUT = "heldout"


@dataclass
class AblationOutcome:
    versions: dict[str, str]
    """Arm (and "heldout") -> its version name."""
    curated: list[str]
    """Versions this call curated (the others already existed)."""
    languages: list[str]
    tokenizer: str
    run: Any = None
    """`trainer.ablation.AblationRun`."""
    report: Any = None
    """`trainer.ablation_report.AblationReport` (None until a baseline trial finished)."""
    paths: dict[str, Path] = field(default_factory=dict)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged into `base` section by section (nested mappings merged, others replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def arm_curation(config: AblationConfig, arm: str | None, tokenizer: str | None) -> CurationConfig:
    """The curation config of an arm (None: the held-out set), with the holdout section and the
    shared tokenizer; a bad section is a ConfigError naming the arm."""
    over = {} if arm is None else config.arms[arm].curation
    data = merge(config.curation, over)
    side = "train" if arm is not None else HELDOUT
    data["holdout"] = {**config.holdout, "side": side}
    if tokenizer is not None:
        data = merge(data, {"shards": {"tokenizer": tokenizer}})
    if arm is None:  # every held-out repository is evaluation data: no split of its own
        data = merge(data, {"shards": {"validation_fraction": 0.0}})
    if data.get("shards", {}).get("enabled") is False:
        raise ConfigError(f"ablation {'arms.' + arm if arm else 'curation'}: shards.enabled is "
                          "false, but trials train on the version's shards")  # fmt: skip
    try:
        return CurationConfig.from_dict(data)
    except ConfigError as exc:
        where = f"arms.{arm}.curation" if arm else "curation"
        raise ConfigError(f"ablation {where}: {exc}") from None


def check_curations(config: AblationConfig) -> None:
    """Validate the shared curation, then every arm's, before anything runs."""
    for arm in [None, *config.arms]:
        arm_curation(config, arm, "0" * 64)


def prepare_versions(
    catalog: Catalog, dataset: str, config: AblationConfig, prefix: str = "ablate-",
    runner: RunnerConfig | None = None, on_step: Callable[[str, str], None] | None = None,
) -> tuple[dict[str, str], list[str], str]:  # fmt: skip
    """Curate the arms (baseline first: it trains the shared tokenizer) and the held-out set
    where missing; returns arm -> version name, the names curated now, and the tokenizer."""
    check_curations(config)
    registry = Registry(catalog, dataset)
    note = on_step or (lambda what, name: None)
    order = [config.baseline, *(a for a in config.arms if a != config.baseline)]
    tokenizer = config.curation.get("shards", {}).get("tokenizer")
    versions: dict[str, str] = {}
    curated: list[str] = []
    for arm in [*order, None]:
        name = f"{prefix}{arm or HELDOUT}"
        wanted = arm_curation(config, arm, tokenizer)
        if registry.exists(name):
            found = registry.get(name)
            if tokenizer is None:  # the baseline trained it: reuse its tokenizer
                wanted = arm_curation(config, arm, found.lineage.tokenizer)
                if found.config_fingerprint != wanted.fingerprint():
                    wanted = arm_curation(config, arm, None)
            if found.config_fingerprint != wanted.fingerprint():
                raise ConfigError(
                    f"version {dataset}@{name} exists with another curation config than arm "
                    f"{arm or HELDOUT!r} asks for: give another --prefix, or delete it"
                )
            note("reused", name)
        else:
            note("curating", name)
            curate(dataset, name, catalog, wanted, runner)
            curated.append(name)
            found = registry.get(name)
        tokenizer = tokenizer or found.lineage.tokenizer
        versions[arm or HELDOUT] = name
    if not tokenizer:
        raise ConfigError("the baseline arm's version has no tokenizer: enable shards")
    return versions, curated, tokenizer


def choose_languages(config: AblationConfig, tokens: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The configured languages, else those every version has, each at least `min_share` of
    the smallest arm's tokens (a language too small for every arm's budget is left out)."""
    if config.languages:
        for name, found in tokens.items():
            missing = sorted(set(config.languages) - set(found))
            if missing:
                raise ConfigError(f"ablation languages {missing} have no shards in {name}")
        return list(config.languages)
    arms = {k: v for k, v in tokens.items() if k != HELDOUT}
    smallest = min(sum(v.values()) for v in arms.values())
    common = set.intersection(*(set(v) for v in tokens.values()))
    chosen = sorted(lang for lang in common
                    if min(v[lang] for v in arms.values()) >= config.min_share * smallest)
    if not chosen:
        raise ConfigError("the arms and the held-out set share no language with enough tokens: "
                          "raise holdout.fraction or list `languages`")  # fmt: skip
    return chosen


def arm_mixtures(catalog: Catalog, dataset: str, config: AblationConfig,
                 versions: Mapping[str, str], languages: list[str], tokenizer: str,
                 out: Path) -> dict[str, Any]:  # fmt: skip
    """One stored mixture per arm: its languages weighted by its own unique tokens (the
    curation decides the mix too). Ids are kept in `<out>/arms.json`, reused on a rerun."""
    path = out / "arms.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    mixtures = {}
    for arm in config.arms:
        unique = unique_tokens(catalog, dataset, versions[arm], tokenizer)
        weights = {lang: float(unique[lang]) for lang in languages}
        entry = known.get(arm, {})
        mixture = None
        if entry.get("version") == versions[arm] and entry.get("weights") == weights:
            try:
                mixture = get_mixture(catalog, entry["mixture"])
            except MixtureNotFound:
                mixture = None
        if mixture is None:
            mixture = create_mixture(catalog, dataset, versions[arm], weights,
                                     token_budget=int(sum(weights.values())),
                                     tokenizer=tokenizer)  # fmt: skip
        known[arm] = {"version": versions[arm], "mixture": mixture.id, "weights": weights}
        mixtures[arm] = mixture
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=1, sort_keys=True))
    return mixtures


def heldout_shards(catalog: Catalog, dataset: str, version: str, tokenizer: str,
                   languages: list[str]) -> dict[str, list[str]]:  # fmt: skip
    """Shard prefixes per language of the held-out version (all its shards: it has no split)."""
    where = And(EqualTo("version", version), EqualTo("tokenizer", tokenizer))
    rows = catalog.table(dataset, SHARDS).scan(row_filter=where).to_arrow().sort_by("prefix")
    rows = rows.filter(pc.is_in(rows["lang"], value_set=pa.array(languages)))
    prefixes: dict[str, list[str]] = {}
    for row in rows.to_pylist():
        prefixes.setdefault(row["lang"], []).append(str(row["prefix"]))
    return prefixes


def version_tokens(catalog: Catalog, dataset: str, versions: Mapping[str, str],
                   tokenizer: str) -> dict[str, dict[str, int]]:  # fmt: skip
    return {k: unique_tokens(catalog, dataset, v, tokenizer) for k, v in versions.items()}


def run_ablation_on(
    catalog: Catalog, dataset: str, config: AblationConfig, out: str | Path, *,
    prefix: str = "ablate-", runner: RunnerConfig | None = None, ray_address: str | None = None,
    on_step: Callable[[str, str], None] | None = None, on_event: Any = None,
) -> AblationOutcome:  # fmt: skip
    """The whole ablation: versions, mixtures, trials (resumable), report files under `out`."""
    from tokenizer.model import CodeTokenizer
    from tokenizer.store import TokenizerStore
    from trainer.ablation import ArmData, run_ablation
    from trainer.ablation_report import summarize, write_report
    from trainer.data import MixtureSpec
    from trainer.sweep_grid import MixtureInfo

    out = Path(out)
    versions, curated, tokenizer = prepare_versions(catalog, dataset, config, prefix,
                                                    runner, on_step)  # fmt: skip
    languages = choose_languages(config, version_tokens(catalog, dataset, versions, tokenizer))
    mixtures = arm_mixtures(catalog, dataset, config, versions, languages, tokenizer, out)
    model_bytes = TokenizerStore(catalog.settings.resolved_warehouse()).load(tokenizer)
    vocab_size = CodeTokenizer(model_bytes).vocab_size
    arms = {
        arm: ArmData(MixtureSpec.from_mixture(m, config.seq_len, 0),
                     MixtureInfo.from_mixture(m, vocab_size))
        for arm, m in mixtures.items()
    }  # fmt: skip
    validation = heldout_shards(catalog, dataset, versions[HELDOUT], tokenizer, languages)
    missing = sorted(set(languages) - set(validation))
    if missing:
        raise ConfigError(f"the held-out set has no shards of {missing}: raise holdout.fraction")
    outcome = AblationOutcome(versions, curated, languages, tokenizer)
    outcome.run = run_ablation(config, arms, validation, out, tokenizer_bytes=model_bytes,
                               ray_address=ray_address, on_event=on_event)  # fmt: skip
    if outcome.run.rows.get(config.baseline):
        outcome.report = summarize(outcome.run.rows, config.baseline, config.alpha)
        outcome.paths = write_report(outcome.report, out)
        outcome.paths.update(_epoch_plot(config, outcome.run.rows, versions, out))
    return outcome


def _epoch_plot(config: AblationConfig, rows: Mapping[str, list[dict[str, Any]]],
                versions: Mapping[str, str], out: Path) -> dict[str, Path]:  # fmt: skip
    """The repeated-data variant: arms of one version read different epochs; their losses
    against epochs, with the sweep's fit of the data-constrained law."""
    from trainer.sweep_fit import fit_sweep, runs_from_rows
    from trainer.sweep_plot import plot_sweep

    by_version: dict[str, list[str]] = {}
    for arm in config.arms:
        by_version.setdefault(versions[arm], []).append(arm)
    paths = {}
    for version, arms in by_version.items():
        if len({config.arms[a].epochs for a in arms}) < 2:
            continue
        group = [r for a in arms for r in rows.get(a, [])]
        fit = fit_sweep(runs_from_rows(group))
        (out / f"fit_{version}.json").write_text(json.dumps(fit.to_dict(), indent=2))
        paths[f"epochs:{version}"] = plot_sweep(group, fit, out / f"loss_vs_epochs_{version}.png")
    return paths
