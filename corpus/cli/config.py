"""`codecorpus config`: the curation config's JSON Schema, and checking a config file."""

import json
from pathlib import Path
from typing import Annotated

import typer

config_app = typer.Typer(
    help="Curation config: print its JSON Schema, check a YAML file.", no_args_is_help=True
)


@config_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the curation config (`curate --config`, `POST /v1/runs`)."""
    from corpus.pipeline.config import CurationConfig

    typer.echo(json.dumps(CurationConfig.json_schema(), indent=2))


@config_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="YAML curation config.", exists=True)],
) -> None:
    """Validate a curation config file; print its fingerprint (stored with versions)."""
    from corpus.pipeline.config import CurationConfig

    config = CurationConfig.from_file(path)  # a bad field: one ConfigError line, exit 2
    typer.echo(f"{path}: valid, fingerprint {config.fingerprint()}")
