"""Mixtures resolve to a version's train shards with exact unique tokens and epochs."""

import pytest

from corpus.core.errors import ConfigError
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.mixtures import MixtureNotFound, create_mixture, get_mixture

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


@pytest.fixture(scope="module")
def catalog(sample_corpus, tmp_path_factory) -> Catalog:
    root, _ = sample_corpus
    catalog = Catalog(Settings(home=tmp_path_factory.mktemp("mixtures")))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    config = {"tokenizer": {"vocab_size": 3000}, "shards": {"validation_fraction": 0.2}}
    curate("ds", "v1", catalog, CurationConfig.from_dict(config))
    return catalog


def test_mixture_resolves_shards_unique_tokens_and_epochs(catalog: Catalog) -> None:
    manifest = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    train = [row for row in manifest if row["split"] == "train"]
    langs = sorted({row["lang"] for row in train})
    assert "Python" in langs
    unique = sum(r["tokens"] - r["documents"] for r in train if r["lang"] == "Python")
    mixture = create_mixture(catalog, "ds", "v1", {"Python": 3.0}, token_budget=3 * unique)
    again = get_mixture(catalog, mixture.id)
    assert again.to_dict() == mixture.to_dict()  # resolved the same way on every read
    (component,) = again.components
    assert component.unique_tokens == unique and component.epochs == pytest.approx(3.0)
    assert {s["prefix"] for s in component.shards} == {
        r["prefix"] for r in train if r["lang"] == "Python"
    }
    assert again.plan["tokens"] == pytest.approx(3 * unique)


def test_bad_mixtures_are_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="languages with shards"):
        create_mixture(catalog, "ds", "v1", {"Haskell": 1.0}, token_budget=10)
    with pytest.raises(ConfigError, match="positive"):
        create_mixture(catalog, "ds", "v1", {"Python": 0.0}, token_budget=10)
    with pytest.raises(ConfigError, match="token_budget"):
        create_mixture(catalog, "ds", "v1", {"Python": 1.0}, token_budget=0)
    with pytest.raises(MixtureNotFound):
        get_mixture(catalog, "f" * 32)


def test_plan_command_prints_epochs_and_warns(catalog: Catalog) -> None:
    from typer.testing import CliRunner

    from corpus.cli.main import app
    from corpus.store.mixtures import unique_tokens

    unique = unique_tokens(catalog, "ds", "v1")["Python"]
    env = {"CODECORPUS_HOME": str(catalog.settings.home)}
    args = ["plan", "-d", "ds", "-v", "v1", "-w", "Python=1", "--tokens", str(6 * unique)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "6.00" in result.output and "epochs > 4" in result.output
    bad = CliRunner().invoke(app, ["plan", "-d", "ds", "-v", "v1", "-w", "Python"], env=env)
    assert bad.exit_code != 0 and "LANGUAGE=NUMBER" in str(bad.exception)


def test_mixtures_commands_create_and_show(catalog: Catalog) -> None:
    import json

    from typer.testing import CliRunner

    from corpus.cli.main import app
    from corpus.store.mixtures import unique_tokens

    unique = unique_tokens(catalog, "ds", "v1")["Python"]
    env = {"CODECORPUS_HOME": str(catalog.settings.home), "COLUMNS": "200"}
    args = ["mixtures", "create", "ds", "-v", "v1", "-w", "Python=1", "--tokens", str(3 * unique)]
    created = CliRunner().invoke(app, args, env=env)
    assert created.exit_code == 0, created.output
    mixture_id = created.output.split("id: ")[1].split()[0]
    shown = CliRunner().invoke(app, ["mixtures", "show", mixture_id, "--json"], env=env)
    body = json.loads(shown.output)
    assert body["weights"] == {"Python": 1.0} and body["token_budget"] == 3 * unique
    assert body["components"][0]["epochs"] == pytest.approx(3.0)
    assert get_mixture(catalog, mixture_id).id == mixture_id
    missing = CliRunner().invoke(app, ["mixtures", "show", "nope"], env=env)
    assert missing.exit_code != 0 and isinstance(missing.exception, MixtureNotFound)
