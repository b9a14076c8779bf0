"""Where codecorpus keeps its state; read from CODECORPUS_* environment variables."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODECORPUS_")

    home: Path = Path(".codecorpus")
    """Root of the embedded default: SQLite catalog, warehouse and samples."""
    catalog_uri: str | None = None
    """SQLAlchemy URI of the catalog database; default SQLite under `home`.
    For scale: postgresql+psycopg2://user@host:5432/db."""
    warehouse: str | None = None
    """Warehouse location (file:// or s3://); default `home`/warehouse."""
    catalog_name: str = "codecorpus"

    def resolved_catalog_uri(self) -> str:
        if self.catalog_uri:
            return self.catalog_uri
        return f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    def resolved_warehouse(self) -> str:
        if self.warehouse:
            return self.warehouse
        return (self.home / "warehouse").resolve().as_uri()
