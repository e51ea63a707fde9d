"""The run ledger's lifecycle (``services.runs.recorded_run``) on the in-memory repository."""

from __future__ import annotations

import asyncio

import pytest

from leadpersona.services.runs import ERRORS_KEPT, recorded_run
from tests.fakes import InMemoryRunRepository


class _StoreDown(Exception):
    pass


class _Flaky(InMemoryRunRepository):
    """A store that fails, and says so through ``stops_run``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def stops_run(self, exc: BaseException) -> bool:
        return isinstance(exc, _StoreDown)

    async def finish(self, run_id: str, **kwargs: object) -> None:  # type: ignore[override]
        if self.down:
            raise _StoreDown("still down")
        await super().finish(run_id, **kwargs)  # type: ignore[arg-type]


async def test_a_run_is_recorded_running_then_completed_with_its_counts() -> None:
    runs = InMemoryRunRepository()
    async with recorded_run(runs, "import", details={"file": "a.csv"}) as run:
        assert (await runs.get(run.id)) is not None
        assert runs.runs[run.id].status == "running"
        run.counts["read"] = 3
        await run.checkpoint()
        assert runs.runs[run.id].counts == {"read": 3}
        run.counts["read"] = 5
    record = runs.runs[run.id]
    assert record.status == "completed"
    assert record.kind == "import"
    assert record.counts == {"read": 5}
    assert record.details == {"file": "a.csv"}
    assert record.error is None
    assert record.duration_s is not None and record.duration_s >= 0


async def test_an_error_ends_the_run_as_failed_and_is_raised_as_itself() -> None:
    runs = InMemoryRunRepository()
    with pytest.raises(ValueError, match="bad row"):
        async with recorded_run(runs, "sales_load") as run:
            run.counts["loaded"] = 1
            raise ValueError("bad row\nmore detail")
    record = runs.runs[run.id]
    assert (record.status, record.error) == ("failed", "bad row")
    assert record.counts == {"loaded": 1}


@pytest.mark.parametrize("stop", [KeyboardInterrupt, asyncio.CancelledError])
async def test_an_interruption_ends_the_run_as_aborted(stop: type[BaseException]) -> None:
    runs = InMemoryRunRepository()
    with pytest.raises(stop):
        async with recorded_run(runs, "enrich") as run:
            raise stop()
    assert runs.runs[run.id].status == "aborted"
    assert runs.runs[run.id].error == f"interrupted: {stop.__name__}"


async def test_the_store_failing_aborts_the_run_and_its_error_is_not_hidden() -> None:
    runs = _Flaky()
    with pytest.raises(_StoreDown, match="connection lost"):
        async with recorded_run(runs, "warehouse_sync"):
            runs.down = True
            raise _StoreDown("connection lost")
    runs.down = False
    async with recorded_run(runs, "warehouse_sync") as run:
        pass
    assert runs.runs[run.id].status == "completed"


async def test_a_service_can_end_its_run_as_aborted_itself() -> None:
    runs = InMemoryRunRepository()
    with pytest.raises(RuntimeError):
        async with recorded_run(runs, "enrich") as run:
            run.abort("the API refused the key (401)")
            raise RuntimeError("401")
    assert (runs.runs[run.id].status, runs.runs[run.id].error) == (
        "aborted",
        "the API refused the key (401)",
    )


async def test_steps_name_their_parent_and_errors_are_a_bounded_sample() -> None:
    runs = InMemoryRunRepository()
    async with recorded_run(runs, "daily") as daily:
        async with recorded_run(runs, "enrich", parent_id=daily.id) as enrich:
            for i in range(ERRORS_KEPT + 5):
                enrich.add_error(lead_id=str(i), error="500")
        async with recorded_run(runs, "warehouse_sync", parent_id=daily.id):
            pass
    steps = await runs.children(daily.id)
    assert [step.kind for step in steps] == ["enrich", "warehouse_sync"]
    assert len(steps[0].errors) == ERRORS_KEPT
    assert [r.kind for r in await runs.recent(5, kind="daily")] == ["daily"]
