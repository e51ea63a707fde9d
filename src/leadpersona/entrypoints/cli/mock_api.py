"""``leadpersona mock-api``: the mock enrichment API and the mock sales API as one server."""

from __future__ import annotations

from enum import StrEnum

import typer
import uvicorn

from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.adapters.mock_sales_api import SalesMockConfig
from leadpersona.entrypoints.cli.common import err_console
from leadpersona.sales.synthetic import DEFAULT_ORDERS_PER_DAY


class Mode(StrEnum):
    synthetic = "synthetic"
    fixture = "fixture"


def mock_api(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8001, min=0, max=65535, help="Port to listen on."),
    mode: Mode = typer.Option(
        Mode.synthetic, help="synthetic: a profile per email; fixture: the provided answer."
    ),
    api_key: str | None = typer.Option(None, help="Require this X-API-Key (401/403 otherwise)."),
    rate_limit: float | None = typer.Option(
        None, min=0.001, help="Requests per second; beyond it 429 with Retry-After."
    ),
    retry_after: float | None = typer.Option(
        None, min=0, help="Retry-After to send with 429 (default: seconds until capacity)."
    ),
    latency: float = typer.Option(0.0, min=0, help="Seconds added to every answer."),
    error_rate: float = typer.Option(0.0, min=0, max=1, help="Share of 5xx answers."),
    timeout_rate: float = typer.Option(
        0.0, min=0, max=1, help="Share of answers held back for --hang seconds."
    ),
    truncated_rate: float = typer.Option(0.0, min=0, max=1, help="Share of cut JSON bodies."),
    hang: float = typer.Option(30.0, min=0, help="How long a 'timeout' answer is held back."),
    seed: int = typer.Option(0, help="Seed of the synthetic profiles, sales and injected faults."),
    sales_orders_per_day: int = typer.Option(
        DEFAULT_ORDERS_PER_DAY, min=0, max=100_000, help="Sales API: orders a day (1-4 lines)."
    ),
    sales_messy_rate: float = typer.Option(
        0.02, min=0, max=1, help='Sales API: share of records in other forms ("1,234.50").'
    ),
    sales_invalid_rate: float = typer.Option(
        0.005, min=0, max=1, help="Sales API: share of invalid records (quarantined)."
    ),
    sales_outage_after: int | None = typer.Option(
        None, min=0, help="Sales API: requests answered before every later one gets 503."
    ),
) -> None:
    """Serve the mock enrichment API (GET /get_linkedin_data?email=...) and the mock sales API
    (GET /sales?start_date=&end_date=&limit=&cursor=) until interrupted.

    The key, rate limit (one bucket per API), latency and fault options apply to both APIs;
    --truncated-rate is the sales API's share of bodies that are not JSON.
    """
    config = MockConfig(
        mode=mode.value,
        api_key=api_key,
        rate_limit=rate_limit,
        retry_after_s=retry_after,
        latency_s=latency,
        error_rate=error_rate,
        timeout_rate=timeout_rate,
        truncated_rate=truncated_rate,
        hang_s=hang,
        seed=seed,
    )
    sales = SalesMockConfig(
        api_key=api_key,
        rate_limit=rate_limit,
        retry_after_s=retry_after,
        latency_s=latency,
        error_rate=error_rate,
        timeout_rate=timeout_rate,
        not_json_rate=truncated_rate,
        hang_s=hang,
        outage_after=sales_outage_after,
        orders_per_day=sales_orders_per_day,
        messy_rate=sales_messy_rate,
        invalid_rate=sales_invalid_rate,
        seed=seed,
    )
    err_console.print(
        f"mock enrichment API ({config.mode}) on http://{host}:{port}/get_linkedin_data",
        markup=False,
    )
    err_console.print(f"mock sales API on http://{host}:{port}/sales", markup=False)
    uvicorn.run(
        create_app(config, sales=sales),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
