"""Service settings, read from CODECORPUS_API_* (and the catalog's CODECORPUS_*) variables.

`environment_settings()` reads the environment once (cached); `create_app(settings)`
takes them from there unless given others, and routes get the app's settings through
the `get_settings` dependency (`api.deps.SettingsDep`), so tests and embedders never
touch the environment.
"""

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus.core.settings import Settings


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODECORPUS_API_")

    catalog: Settings = Field(default_factory=Settings)
    """Where the catalog lives (CODECORPUS_HOME, CODECORPUS_CATALOG_URI, CODECORPUS_WAREHOUSE);
    API keys are stored in the same database."""
    anonymous_read: bool = False
    """Serve read routes without an API key. Off by default: every route but /health,
    /ready and /metrics needs a key with the read scope."""
    page_size: int = Field(default=100, ge=1)
    """Files per page when a request gives no `limit`."""
    max_page_size: int = Field(default=1000, ge=1)
    """Largest `limit` a file listing accepts without content."""
    max_content_page_size: int = Field(default=100, ge=1)
    """Largest `limit` a file listing accepts with `content=true` (pages carry file bodies)."""
    ray_address: str | None = None
    """Ray cluster that runs submitted curate runs; None starts a local Ray on the first run."""
    download_chunk_bytes: int = Field(default=1 << 20, ge=4096)
    """Bytes read per chunk when streaming a shard file."""
    key_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a verified API key is remembered. A key revoked through this service stops
    working at once; one revoked elsewhere (the CLI, another replica) within this time."""
    response_cache_mb: int = Field(default=64, ge=0)
    """Memory for serialized version-resolved answers (stats, version detail, file pages),
    replayed by ETag since versions are immutable; 0 turns the cache off."""

    anonymous_lookup: bool = False
    """Answer near-duplicate lookups without an API key (a public "am I in the corpus?")."""
    lookup_max_files: int = Field(default=32, ge=1)
    """Files one lookup request may carry."""
    lookup_max_file_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest file content a lookup accepts (UTF-8 bytes)."""
    lookup_max_body_bytes: int = Field(default=8 << 20, ge=1024)
    """Largest lookup request body; larger ones are refused (413) before they are parsed."""
    lookup_rate: float = Field(default=50.0, gt=0)
    """Lookup requests per second per API key (anonymous callers: per client address)."""
    lookup_burst: int = Field(default=100, ge=1)
    """Lookup requests a caller may make at once before the rate applies."""
    lookup_fast_path: bool = True
    """Answer the common lookup (in-process index, small request, known caller) in a lean
    ASGI layer in front of FastAPI: the same answers, about a third of the CPU per request
    (`api.routes.lookup_fast`). Off: every lookup goes through the FastAPI route."""

    @model_validator(mode="after")
    def _page_sizes(self) -> "ApiSettings":
        if self.page_size > self.max_page_size:
            raise ValueError(
                f"CODECORPUS_API_PAGE_SIZE ({self.page_size}) exceeds "
                f"CODECORPUS_API_MAX_PAGE_SIZE ({self.max_page_size}); lower it or raise the max"
            )
        return self


@lru_cache
def environment_settings() -> ApiSettings:
    """The settings of the environment, read once."""
    return ApiSettings()
