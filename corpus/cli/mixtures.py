"""`codecorpus mixtures create|show`: the mixtures `train` and `sweep` read, from the shell."""

import json
from typing import Annotated

import typer

from corpus.cli.plan import _weights

mixtures_app = typer.Typer(help="Mixtures: a version's languages, weights and a token budget.")


@mixtures_app.command("create")
def create(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version.")],
    tokens: Annotated[float, typer.Option("--tokens", help="Training token budget.")],
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight",
            "-w",
            help="LANGUAGE=WEIGHT, repeatable; default: every language with shards, "
            "weighted by its unique tokens.",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer sha; default: the version's.")
    ] = None,
) -> None:
    """Store a mixture and print its id and per-language epochs."""
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import create_mixture, unique_tokens

    catalog = Catalog()
    weights = _weights(weight) if weight else dict(unique_tokens(catalog, dataset, version))
    mixture = create_mixture(catalog, dataset, version, weights, int(tokens), tokenizer)
    _print(mixture)


@mixtures_app.command("show")
def show(
    mixture_id: Annotated[str, typer.Argument(help="Mixture id (printed by create).")],
    as_json: Annotated[bool, typer.Option("--json", help="The whole mixture as JSON.")] = False,
) -> None:
    """A stored mixture: languages, weights, unique tokens, epochs and shards."""
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import get_mixture

    mixture = get_mixture(Catalog(), mixture_id)
    if as_json:
        typer.echo(json.dumps(mixture.to_dict(), indent=1, default=str))
    else:
        _print(mixture)


def _print(mixture) -> None:
    from rich.table import Table

    from corpus.cli.render import console

    table = Table(title=f"mixture {mixture.id}: {mixture.dataset}@{mixture.version}")
    for column in ("language", "weight", "unique tokens", "tokens", "epochs", "shards"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for c in mixture.components:
        table.add_row(
            c.lang, f"{c.weight:g}", f"{c.unique_tokens:,}", f"{c.tokens:,}",
            f"{c.epochs:.2f}", str(len(c.shards)),
        )  # fmt: skip
    console.print(table)
    console.print(f"id: [bold]{mixture.id}[/]  tokenizer: {mixture.tokenizer[:12]}")
