"""Settings, read from ``LEADPERSONA_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpersona.domain.segmentation import CompanyTypeRules
from leadpersona.errors import ConfigError

__all__ = ["MOCK_RATE_LIMIT", "Settings", "load_settings"]

#: Client-side cap against a configured API URL when none is set (requests per second).
DEFAULT_API_RATE_LIMIT = 10.0
#: The built-in mock is not capped unless a rate is set.
MOCK_RATE_LIMIT: float | None = None

_MONGO_SCHEMES = ("mongodb", "mongodb+srv")


class Settings(BaseSettings):
    """Everything leadpersona can be configured with (SPEC section 2)."""

    model_config = SettingsConfigDict(
        env_prefix="LEADPERSONA_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    mongodb_uri: str | None = Field(
        default=None, description="MongoDB URI; unset starts the embedded server"
    )
    mongodb_db: str = Field(default="leadpersona", min_length=1, max_length=63)
    data_dir: Path = Field(default=Path(".leadpersona"))
    linkedin_api_url: str | None = Field(
        default=None, description="base URL of the enrichment API; unset uses the built-in mock"
    )
    linkedin_api_key: SecretStr = SecretStr("")
    linkedin_rate_limit: float | None = Field(default=None, gt=0)
    linkedin_concurrency: int = Field(default=16, ge=1, le=1024)
    linkedin_timeout: float = Field(default=10.0, gt=0)
    linkedin_max_retries: int = Field(default=5, ge=0, le=20)
    linkedin_freshness_days: float = Field(
        default=30.0, ge=0, description="archived answers younger than this are reused"
    )
    sales_api_url: str | None = Field(
        default=None, description="base URL of the sales API; unset uses the built-in mock"
    )
    sales_api_key: SecretStr = SecretStr("")
    sales_rate_limit: float | None = Field(default=None, gt=0)
    sales_inbox: Path | None = Field(
        default=None, description="folder watched for sales files; unset: <data dir>/inbox"
    )
    sales_source_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the shop database; unset: none"
    )
    #: Section 8: a sales source whose newest order is older than this raises a freshness alert.
    sales_freshness_hours: float = Field(default=48.0, gt=0)
    #: Section 8: a load whose validity (share of rows read that were not quarantined) falls
    #: below this raises a quality alert.
    sales_min_validity: float = Field(default=0.95, ge=0, le=1)
    field_mapping_csv: Path | None = None
    warehouse_url: str | None = None
    api_token: SecretStr | None = None
    #: Company type boundaries: n < startup_below is a Startup, n > multinational_above a
    #: Multi National Company, anything between (inclusive) Mid Market.
    startup_below: int = Field(default=50, ge=1)
    multinational_above: int = Field(default=1000, ge=1)
    archive_backend: Literal["gridfs", "s3"] = "gridfs"
    #: Section 8: an enrich run whose share of failed calls passes this fails (as does one
    #: where every call failed), and an alert is raised.
    enrich_max_failure_rate: float = Field(default=0.5, ge=0, le=1)
    #: Section 8: the daily run raises a quality alert when fewer leads than this share have a
    #: persona, or when the academic field is unknown for more than this share of enriched leads.
    persona_min_coverage: float = Field(default=0.9, ge=0, le=1)
    academic_unknown_max_rate: float = Field(default=0.25, ge=0, le=1)
    #: Section 8: every alert is POSTed as JSON here when set.
    alert_webhook: str | None = None
    #: Section 8: an alert is raised when the API reports fewer credits left than this.
    credits_floor: int = Field(default=100, ge=0)
    s3_bucket: str = "leadpersona-raw"
    s3_endpoint_url: str | None = None
    s3_prefix: str = "linkedin/"

    @field_validator("mongodb_uri")
    @classmethod
    def _check_mongodb_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in _MONGO_SCHEMES or not parts.netloc.rsplit("@", 1)[-1]:
            raise ValueError("must look like mongodb://host[:port]/... or mongodb+srv://host/...")
        return value

    @field_validator("linkedin_api_url", "sales_api_url", "s3_endpoint_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("warehouse_url", "sales_source_url")
    @classmethod
    def _check_warehouse_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a SQLAlchemy database URL") from exc
        return value

    @model_validator(mode="after")
    def _check_boundaries(self) -> Settings:
        if self.startup_below > self.multinational_above:
            raise ValueError("startup_below must not exceed multinational_above")
        return self

    # Derived values: what the rest of the product uses.

    @property
    def effective_sales_inbox(self) -> Path:
        """The sales file inbox: the configured folder, else ``inbox`` in the data dir."""
        return self.sales_inbox if self.sales_inbox is not None else self.data_dir / "inbox"

    @property
    def uses_mock_api(self) -> bool:
        """True when no API URL is configured and the built-in mock serves enrichment."""
        return self.linkedin_api_url is None

    @property
    def effective_rate_limit(self) -> float | None:
        """Requests per second the client allows itself, or None for no cap."""
        if self.linkedin_rate_limit is not None:
            return self.linkedin_rate_limit
        return MOCK_RATE_LIMIT if self.uses_mock_api else DEFAULT_API_RATE_LIMIT

    @property
    def uses_mock_sales_api(self) -> bool:
        """True when no sales API URL is configured and the built-in mock serves sales."""
        return self.sales_api_url is None

    @property
    def effective_sales_rate_limit(self) -> float | None:
        """Sales API requests per second the client allows itself, or None for no cap."""
        if self.sales_rate_limit is not None:
            return self.sales_rate_limit
        return MOCK_RATE_LIMIT if self.uses_mock_sales_api else DEFAULT_API_RATE_LIMIT

    @property
    def mapping_csv_path(self) -> Path:
        """The mapping CSV to read and grow."""
        if self.field_mapping_csv is not None:
            return self.field_mapping_csv
        return self.data_dir / "field_of_study.csv"

    @property
    def company_type_rules(self) -> CompanyTypeRules:
        """The company-type boundaries these settings choose."""
        return CompanyTypeRules(
            startup_below=self.startup_below, multinational_above=self.multinational_above
        )

    @property
    def effective_warehouse_url(self) -> str:
        """SQLAlchemy URL of the warehouse."""
        if self.warehouse_url is not None:
            return self.warehouse_url
        return f"sqlite:///{(self.data_dir / 'warehouse.db').resolve()}"

    @property
    def embedded_mongo_dir(self) -> Path:
        """Storage of the embedded MongoDB-wire server."""
        return self.data_dir / "mongo"


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        label = f"LEADPERSONA_{name.upper()}" if error["loc"] else "settings"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{label}: {message}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; raise ConfigError if invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
