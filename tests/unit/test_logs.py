"""JSON logs carry the id of the run (the innermost step) they were written in."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from leadpersona.logs import configure_logging
from leadpersona.services.runs import recorded_run
from tests.fakes import InMemoryRunRepository


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
async def test_json_lines_carry_the_run_id() -> None:
    stream = io.StringIO()
    configure_logging("json", stream)
    runs = InMemoryRunRepository()
    async with recorded_run(runs, "daily") as daily:
        async with recorded_run(runs, "enrich", parent_id=daily.id) as step:
            logging.getLogger("leadpersona.test").info("inside the step")
        logging.getLogger("leadpersona.test").warning("after the step")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = next(line for line in lines if line["message"] == "inside the step")
    after = next(line for line in lines if line["message"] == "after the step")
    assert inside["run_id"] == step.id and inside["level"] == "info"
    assert after["run_id"] == daily.id
    assert any(line["message"] == "enrich run completed" for line in lines)


@pytest.mark.usefixtures("restore_logging")
def test_the_human_format_is_the_default() -> None:
    stream = io.StringIO()
    configure_logging(None, stream)
    logging.getLogger("leadpersona.test").warning("plain")
    logging.getLogger("leadpersona.test").info("hidden")
    assert stream.getvalue() == "WARNING leadpersona.test: plain\n"
