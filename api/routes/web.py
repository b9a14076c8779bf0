"""GET / (and /web): the page for people: versions, token and drop-reason charts, a diff view,
"is this in the corpus?" (a paste box for lookups, a repository search) and the opt-out
instructions (`/web#opt-out`, where lookup answers point).

A static page that calls the public API from the browser (with the API key the
user types, or `#key=...` in the URL), so it shows exactly what clients see.
"""

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


def _page() -> str:
    return resources.files("api").joinpath("web/index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
@router.get("/web", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-cache"})
