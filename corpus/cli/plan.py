"""`codecorpus plan`: epochs and model size for a version's mixture, by the scaling law."""

from typing import Annotated

import typer


def _weights(pairs: list[str]) -> dict[str, float]:
    from corpus.core.errors import ConfigError

    weights = {}
    for pair in pairs:
        lang, sep, value = pair.rpartition("=")
        try:
            weights[lang] = float(value)
        except ValueError:
            sep = ""
        if not sep or not lang:
            raise ConfigError(f"--weight expects LANGUAGE=NUMBER, got {pair!r}")
    return weights


def plan(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version.")],
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight",
            "-w",
            help="LANGUAGE=WEIGHT, repeatable; default: every "
            "language with shards, weighted by its unique tokens.",
        ),
    ] = None,
    mixture: Annotated[
        str | None, typer.Option("--mixture", "-m", help="A stored mixture id instead.")
    ] = None,
    compute: Annotated[float | None, typer.Option("--compute", help="FLOPs budget.")] = None,
    params: Annotated[float | None, typer.Option("--params", help="Model parameters.")] = None,
    tokens: Annotated[float | None, typer.Option("--tokens", help="Training tokens.")] = None,
) -> None:
    """Print the plan: epochs per language, tokens, model size, predicted loss, warnings."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import get_mixture, unique_tokens
    from trainer.plan import plan_mixture

    catalog = Catalog()
    if mixture is not None:
        found = get_mixture(catalog, mixture)
        unique = {c.lang: c.unique_tokens for c in found.components}
        weights = found.weights
    else:
        unique = unique_tokens(catalog, dataset, version)
        weights = _weights(weight) if weight else dict(unique)
    result = plan_mixture(unique, weights, compute=compute, params=params, tokens=tokens)
    header, *rows = result.rows()
    table = Table(title=f"{dataset}@{version}: plan by the data-constrained scaling law")
    for column in header:
        table.add_column(column, justify="left" if column == "language" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for label, value in result.summary_rows():
        console.print(f"{label}: [bold]{value}[/]")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
