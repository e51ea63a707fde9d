"""The dashboard in headless Chromium: ``leadpersona serve`` on loopback, driven with Selenium.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
skipped with the reason when they are absent. ``UPDATE_DOCS_SCREENSHOT=1`` also writes the
screenshot to ``docs/dashboard.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.persona_store import PersonaStore
from leadpersona.adapters.mongo.runs import MongoRunRepository
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.entrypoints.report import write_report
from leadpersona.services.sales_load import load_sales
from leadpersona.services.wiring import SourceWindow
from tests.dashboard_fixtures import seed_dashboard
from tests.sales_support import ListSource, record
from tests.support import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TOKEN = "dashboard-e2e-token"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless browser test needs the Debian packages chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver)",
)

selenium_webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FIELDS = ["engineering", "business", "computer science", "law", "marketing", "medicine"]
TYPES = ["Startup", "Mid Market", "Multi National Company"]


async def _more_personas(database: MongoDatabase) -> None:
    """A spread of personas, so that the heat map has something to show."""
    now = datetime.now(UTC)
    personas = []
    for i in range(48):
        field = FIELDS[(i * 5 + i // 7) % len(FIELDS)] if i % 9 else None
        features: dict[str, str | int | float | bool] = {"company_type": TYPES[(i * 7 // 3) % 3]}
        provenance = {"company_type": FeatureProvenance(source="rule", employee_count=10 + i)}
        if field is not None:
            features["academic_field"] = field
            provenance["academic_field"] = FeatureProvenance(
                source="inferred" if i % 5 == 0 else "mapping", confidence=0.9
            )
        personas.append(
            Persona(
                lead_id=f"sample-{i:02d}", features=features, provenance=provenance, computed_at=now
            )
        )
    await PersonaStore(database).save_computed(personas)
    await database["leads"].insert_many(
        [{"_id": p.lead_id, "status": 0, "email": f"{p.lead_id}@example.com"} for p in personas]
    )


@retry(
    stop=stop_after_delay(60),
    wait=wait_fixed(0.2),
    retry=retry_if_exception_type(httpx.HTTPError),
    reraise=True,
)
def _wait_healthy(base_url: str) -> None:
    httpx.get(f"{base_url}/health", timeout=2).raise_for_status()


@pytest.fixture
def served(settings_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``python -m leadpersona serve`` on a free loopback port, requiring a token on writes."""
    monkeypatch.setenv("LEADPERSONA_API_TOKEN", TOKEN)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "leadpersona", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_healthy(base_url)
        except httpx.HTTPError:
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"leadpersona serve did not start: {err.decode()[-2000:]}")
        yield base_url
    finally:
        stop_process(process)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    options = selenium_webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,2200",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = selenium_webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = selenium_webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _errors(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


async def test_dashboard_in_headless_chromium(
    database: MongoDatabase, served: str, browser: Any, tmp_path: Path
) -> None:
    await seed_dashboard(database)
    await _more_personas(database)
    wait = WebDriverWait(browser, 30)

    browser.get(served + "/")

    # The three charts render (Vega-Lite draws SVG) and the page logged no error.
    for chart in ("chart-matrix", "chart-states", "chart-labels"):
        wait.until(lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} svg"))
    marks = browser.find_elements(By.CSS_SELECTOR, "#chart-matrix svg path, #chart-matrix svg text")
    assert marks, "the heat map drew nothing"
    assert _errors(browser) == []
    assert browser.find_element(By.ID, "kpi-personas").text == "53"
    assert browser.find_element(By.ID, "kpi-quarantine").text == "3"

    # Search one lead: its persona is shown.
    browser.find_element(By.ID, "lead-id").send_keys("lead-c")
    browser.find_element(By.CSS_SELECTOR, "#lead-search button").click()
    row = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#lead-features tr[data-feature="company_type"]')
    )[0]
    assert row.text.split("\n")[0].startswith("company_type Mid Market")
    academic = browser.find_element(
        By.CSS_SELECTOR, '#lead-features tr[data-feature="academic_field"]'
    )
    assert "business" in academic.text and "inferred" in academic.text

    # Edit a feature through PATCH (the API requires the token): the edit persists.
    browser.find_element(By.ID, "feature-name").send_keys("company_type")
    browser.find_element(By.ID, "feature-value").send_keys("Multi National Company")
    browser.find_element(By.ID, "api-token").send_keys(TOKEN)
    browser.find_element(By.ID, "feature-save").click()
    wait.until(lambda d: d.find_element(By.ID, "lead-message").text.startswith("Saved"))
    row = browser.find_element(By.CSS_SELECTOR, '#lead-features tr[data-feature="company_type"]')
    assert "Multi National Company" in row.text and "manual" in row.text

    persona = httpx.get(f"{served}/leads/lead-c/persona").json()
    assert persona["features"]["company_type"] == "Multi National Company"
    assert persona["provenance"]["company_type"]["source"] == "manual"
    assert persona["overrides"] == {"company_type": "Multi National Company"}
    assert _errors(browser) == []

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 6000))
    browser.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "dashboard.png")

    # A wrong token is refused and said so; nothing changes.
    token = browser.find_element(By.ID, "api-token")
    token.clear()
    token.send_keys("wrong")
    value = browser.find_element(By.ID, "feature-value")
    value.clear()
    value.send_keys("Startup")
    browser.find_element(By.ID, "feature-save").click()
    wait.until(lambda d: "token" in d.find_element(By.ID, "lead-message").text)
    persona = httpx.get(f"{served}/leads/lead-c/persona").json()
    assert persona["features"]["company_type"] == "Multi National Company"


async def test_static_report_renders_offline(
    database: MongoDatabase, settings_env: Settings, browser: Any, tmp_path: Path
) -> None:
    await seed_dashboard(database)
    paths = await write_report(settings_env, database, tmp_path / "report")
    wait = WebDriverWait(browser, 30)

    browser.get(paths.html.as_uri())

    for chart in ("chart-matrix", "chart-states", "chart-labels"):
        wait.until(lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} svg"))
    assert _errors(browser) == []
    assert browser.find_element(By.ID, "kpi-quarantine").text == "3"
    assert not browser.find_elements(By.ID, "lead-search")


async def test_sales_views_in_headless_chromium(
    database: MongoDatabase, settings_env: Settings, served: str, browser: Any
) -> None:
    await seed_dashboard(database)
    source = ListSource(
        [
            [
                record("O1"),
                record("O2", order_date="2026-02-03", customer_email="bob@example.com"),
                record("O3", product_sku="SKU-2", product_name="Gadget", status="refunded"),
            ]
        ]
    )

    async def make(_window: SourceWindow) -> ListSource:
        return source

    engine = make_engine(settings_env.effective_warehouse_url)
    try:
        await load_sales(
            settings_env,
            runs=MongoRunRepository(database),
            sources={"files": make},
            engine=engine,
            now=datetime(2026, 2, 10, tzinfo=UTC),
        )
    finally:
        engine.dispose()
    wait = WebDriverWait(browser, 30)

    browser.get(served + "/")

    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-revenue svg"))
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-revenue svg path")
    assert bars, "the revenue chart drew nothing"
    assert _errors(browser) == []
    rows = browser.find_elements(By.CSS_SELECTOR, "#revenue-table tbody tr")
    assert len(rows) == 2  # January and February; the refund is left out
    products = browser.find_element(By.ID, "top-products-table").text
    assert "Widget" in products and "Gadget" not in products
    assert "files" in browser.find_element(By.ID, "quality-table").text
    assert "sales_load" in browser.find_element(By.ID, "ledger-table").text
