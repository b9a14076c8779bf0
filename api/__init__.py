"""The FastAPI service over versions, statistics, files, shards, mixtures and runs.

Requests read catalog metadata only; heavy work is submitted to Ray as a run.
`create_app` imports FastAPI on first call, so `import api` stays cheap.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.settings import ApiSettings


def create_app(settings: "ApiSettings | None" = None) -> "FastAPI":
    """The service app over the catalog `settings` names (the environment's when None)."""
    from api.app import create_app as build

    return build(settings)


__all__ = ["create_app"]
