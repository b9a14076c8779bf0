"""Where codecorpus keeps its state; read from CODECORPUS_* environment variables."""

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODECORPUS_", populate_by_name=True)

    home: Path = Path(".codecorpus")
    """Root of the embedded default: SQLite catalog, warehouse and samples."""
    catalog_uri: str | None = None
    """SQLAlchemy URI of the catalog database; default SQLite under `home`.
    For scale: postgresql+psycopg2://user@host:5432/db."""
    warehouse: str | None = None
    """Warehouse location (file:// or s3://); default `home`/warehouse."""
    catalog_name: str = "codecorpus"
    s3_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "CODECORPUS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"
        ),
    )
    """S3-compatible server for s3:// sources and warehouses (e.g. http://127.0.0.1:9000 for
    MinIO); default AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else Amazon S3. Credentials come
    from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, roles)."""
    s3_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CODECORPUS_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    """Region of the buckets; default AWS_REGION or AWS_DEFAULT_REGION, else us-east-1 with an
    endpoint and the bucket's own region on Amazon S3."""
    s3_virtual_addressing: bool = False
    """Address buckets as `bucket.host` instead of `host/bucket` (some providers need it)."""
    shard_cache: Path | None = None
    """Local folder where trainers keep copies of object-store shards (memory-mapped from
    there); default `home`/shard-cache."""

    lookup_redis_url: str | None = None
    """Redis that holds lookup indexes (e.g. redis://127.0.0.1:6379/0), for the service at
    scale; default: in-process indexes persisted next to their version in the warehouse."""

    def resolved_catalog_uri(self) -> str:
        if self.catalog_uri:
            return self.catalog_uri
        return f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    def resolved_warehouse(self) -> str:
        if self.warehouse:
            return self.warehouse
        return (self.home / "warehouse").resolve().as_uri()

    def resolved_shard_cache(self) -> Path:
        return (self.shard_cache or self.home / "shard-cache").resolve()
