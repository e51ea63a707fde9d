"""bootstrap.sales_sources: which sales sources a load reads, chosen from the settings."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path

import pytest

from leadpersona.bootstrap import sales_sources
from leadpersona.config import Settings
from leadpersona.errors import ConfigError
from leadpersona.sales.sources.files import FileInboxSource
from leadpersona.sales.sources.shopdb import ShopDbSource
from leadpersona.services.wiring import SourceWindow


def test_default_sources_follow_the_shop_url(tmp_path: Path) -> None:
    assert list(sales_sources(Settings(_env_file=None, data_dir=tmp_path))) == ["api", "files"]
    with_shop = Settings(_env_file=None, data_dir=tmp_path, sales_source_url="sqlite:///shop.db")
    assert list(sales_sources(with_shop)) == ["api", "files", "db"]


def test_named_sources_keep_their_order_once_each(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, sales_source_url="sqlite:///shop.db")
    assert list(sales_sources(settings, ["db", "api", "db"])) == ["db", "api"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["ftp"], "unknown sales source 'ftp'"),
        (["files", "db"], "LEADPERSONA_SALES_SOURCE_URL"),
    ],
)
def test_a_source_that_cannot_be_opened_is_refused_up_front(
    tmp_path: Path, names: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        sales_sources(Settings(_env_file=None, data_dir=tmp_path), names)


async def test_the_factories_open_the_configured_inbox_and_shop(tmp_path: Path) -> None:
    shop_path = tmp_path / "shop.db"
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        sales_inbox=tmp_path / "inbox",
        sales_source_url=f"sqlite:///{shop_path}",
    )
    sources = sales_sources(settings, ["files", "db"])
    async with AsyncExitStack() as stack:
        window = SourceWindow(date(2026, 1, 1), date(2026, 1, 2), stack)
        inbox = await sources["files"](window)
        shop = await sources["db"](window)
        assert isinstance(inbox, FileInboxSource) and inbox.inbox == settings.effective_sales_inbox
        assert isinstance(shop, ShopDbSource) and shop.engine.url.database == str(shop_path)
        await inbox.aclose()
        await shop.aclose()
