from __future__ import annotations

from pathlib import Path

import pytest

from leadpersona.config import DEFAULT_API_RATE_LIMIT, load_settings
from leadpersona.errors import ConfigError


def test_defaults_run_on_one_machine() -> None:
    settings = load_settings()
    assert settings.mongodb_uri is None
    assert settings.mongodb_db == "leadpersona"
    assert settings.data_dir == Path(".leadpersona")
    assert settings.uses_mock_api
    assert settings.effective_rate_limit is None  # the mock is not capped
    assert settings.linkedin_concurrency == 16
    assert settings.linkedin_api_key.get_secret_value() == ""
    assert settings.mapping_csv_path == Path(".leadpersona/field_of_study.csv")
    assert settings.effective_warehouse_url.endswith(".leadpersona/warehouse.db")
    assert settings.effective_warehouse_url.startswith("sqlite:///")
    assert settings.api_token is None


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_MONGODB_URI", "mongodb://db.example:27017/?tls=true")
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_API_URL", "https://api.example/v1/")
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_API_KEY", "s3cret")
    monkeypatch.setenv("LEADPERSONA_DATA_DIR", "/var/lib/lp")
    settings = load_settings()
    assert settings.mongodb_uri == "mongodb://db.example:27017/?tls=true"
    assert settings.linkedin_api_url == "https://api.example/v1"
    assert settings.effective_rate_limit == DEFAULT_API_RATE_LIMIT
    assert settings.linkedin_api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.mapping_csv_path == Path("/var/lib/lp/field_of_study.csv")


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "LEADPERSONA_MONGODB_DB=fromdotenv\nLEADPERSONA_LINKEDIN_RATE_LIMIT=2.5\n"
    )
    settings = load_settings()
    assert settings.mongodb_db == "fromdotenv"
    assert settings.effective_rate_limit == 2.5


def test_rate_limit_set_caps_the_mock_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_RATE_LIMIT", "50")
    assert load_settings().effective_rate_limit == 50


def test_sales_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.uses_mock_sales_api
    assert settings.effective_sales_rate_limit is None  # the built-in mock is not capped
    assert settings.sales_api_key.get_secret_value() == ""
    monkeypatch.setenv("LEADPERSONA_SALES_API_URL", "https://shop.example/api/")
    monkeypatch.setenv("LEADPERSONA_SALES_API_KEY", "k3y")
    settings = load_settings()
    assert settings.sales_api_url == "https://shop.example/api"
    assert not settings.uses_mock_sales_api
    assert settings.effective_sales_rate_limit == DEFAULT_API_RATE_LIMIT
    assert "k3y" not in repr(settings)
    monkeypatch.setenv("LEADPERSONA_SALES_RATE_LIMIT", "2.5")
    assert load_settings().effective_sales_rate_limit == 2.5


def test_empty_values_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_MONGODB_URI", "")
    assert load_settings().mongodb_uri is None


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("LEADPERSONA_MONGODB_URI", "localhost:27017", "LEADPERSONA_MONGODB_URI"),
        ("LEADPERSONA_MONGODB_URI", "mongodb://", "LEADPERSONA_MONGODB_URI"),
        ("LEADPERSONA_LINKEDIN_RATE_LIMIT", "-1", "greater than 0"),
        ("LEADPERSONA_LINKEDIN_RATE_LIMIT", "fast", "LEADPERSONA_LINKEDIN_RATE_LIMIT"),
        ("LEADPERSONA_LINKEDIN_CONCURRENCY", "0", "LEADPERSONA_LINKEDIN_CONCURRENCY"),
        ("LEADPERSONA_LINKEDIN_API_URL", "ftp://x", "http"),
        ("LEADPERSONA_WAREHOUSE_URL", "not a url", "LEADPERSONA_WAREHOUSE_URL"),
        ("LEADPERSONA_SALES_API_URL", "sales.example", "LEADPERSONA_SALES_API_URL"),
        ("LEADPERSONA_SALES_RATE_LIMIT", "0", "LEADPERSONA_SALES_RATE_LIMIT"),
    ],
)
def test_invalid_values_fail_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid configuration: ")
    assert fragment in message
    assert "\n" not in message


def test_company_type_boundaries_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_STARTUP_BELOW", "2000")
    with pytest.raises(ConfigError, match="startup_below"):
        load_settings()
