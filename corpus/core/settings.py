"""Where codecorpus keeps its state; read from CODECORPUS_* environment variables."""

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus.core.errors import ConfigError


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
    catalog_properties: dict[str, Any] | str | None = None
    """pyiceberg `load_catalog` properties of the Iceberg catalog: a mapping, or JSON or YAML
    text, or the path of a JSON/YAML file (CODECORPUS_CATALOG_PROPERTIES), e.g.
    `{"type": "rest", "uri": "https://host/catalog", "warehouse": "prod"}`, `type: glue`,
    `{"type": "hive", "uri": "thrift://host:9083"}` or `{"type": "sql", "uri": ...}`.
    Unset: a SqlCatalog on `catalog_uri` and `warehouse`. Either way `catalog_uri` keeps
    codecorpus's own tables (runs, publish locks, API keys, mixtures) and `warehouse` its
    run folders and tokenizers."""
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

    def resolved_catalog_properties(self) -> dict[str, str] | None:
        """`catalog_properties` as the string properties pyiceberg takes, or None if unset."""
        value = self.catalog_properties
        if isinstance(value, str):
            value = _parse_properties(value)
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise ConfigError(
                "CODECORPUS_CATALOG_PROPERTIES must be a mapping of pyiceberg catalog "
                f'properties such as {{"type": "rest", "uri": "..."}}, got {value!r}'
            )
        properties = {}
        for key, item in value.items():
            if isinstance(item, dict | list) or item is None:
                raise ConfigError(
                    f"catalog property {key!r} must be a string, number or boolean, got "
                    f'{item!r}; pyiceberg properties are flat (e.g. "s3.region": "eu-west-1")'
                )
            properties[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
        return properties

    def resolved_warehouse(self) -> str:
        if self.warehouse:
            return self.warehouse
        return (self.home / "warehouse").resolve().as_uri()

    def resolved_shard_cache(self) -> Path:
        return (self.shard_cache or self.home / "shard-cache").resolve()


def _parse_properties(text: str) -> Any:
    """JSON or YAML text, or the contents of the JSON/YAML file it names."""
    text = text.strip()
    if not text:
        return None
    if not text.startswith(("{", "[")) and "\n" not in text and ": " not in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"CODECORPUS_CATALOG_PROPERTIES names {text!r}, which is not a file; give a "
                "JSON/YAML mapping of pyiceberg catalog properties or the path of a file with one"
            )
        text = path.read_text()
    try:
        return json.loads(text) if text.startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"CODECORPUS_CATALOG_PROPERTIES is neither a JSON nor a YAML mapping ({exc}); "
            'write it as {"type": "rest", "uri": "https://..."} or `type: rest`'
        ) from exc
