"""`codecorpus keys create|list|revoke` and `codecorpus serve`: the REST service's CLI."""

from typing import Annotated

import typer

api_app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys of the REST service (stored hashed in the catalog database).",
    no_args_is_help=True,
)
api_app.add_typer(keys_app, name="keys")


def _store():
    from api.keys import KeyStore
    from corpus.core.settings import Settings

    return KeyStore(Settings())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. ci-trainer.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, write or admin (repeatable; admin > write > read)."),
    ] = ["read"],  # noqa: B006 - typer needs a literal default
) -> None:
    """Create a key and print its token: the only time it is shown."""
    from corpus.cli.render import console

    key, token = _store().create(name, scope)
    console.print(f"created key {key.id} ({key.name}) with scopes {', '.join(key.scopes)}")
    console.print("token (shown once, store it now):")
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """Every key with its scopes and whether it is revoked (tokens are never stored)."""
    from rich.table import Table

    from corpus.cli.render import console

    keys = _store().list()
    if not keys:
        console.print("no API keys yet: `codecorpus keys create NAME --scope read`")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            ",".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M:%S}",
            f"{key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id (`keys list`).")]) -> None:
    """Revoke a key: the service refuses it from the next request on."""
    from corpus.cli.render import console

    key = _store().revoke(key_id)
    console.print(f"revoked key {key.id} ({key.name}) at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


@api_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /docs) over the catalog CODECORPUS_HOME names."""
    import uvicorn

    if workers > 1:  # workers need an import string; the factory reads the environment
        uvicorn.run("api:create_app", host=host, port=port, workers=workers, factory=True,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)  # fmt: skip
        return
    from api import create_app

    uvicorn.run(create_app(), host=host, port=port)


#: Seconds a worker may take to answer uvicorn's health ping. Loading a lookup index (a
#: pickle of Python objects: tens of seconds for 100k files) holds the GIL, so the ping
#: thread cannot answer; at uvicorn's default (5 s) every worker that loads one is killed
#: and restarted, over and over.
WORKER_HEALTHCHECK_SECONDS = 300
