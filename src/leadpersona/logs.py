"""Logging: the usual human lines, or one JSON object per event with the run id
(``LEADPERSONA_LOG_FORMAT=json``) so that a log shipper can follow a run."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["JsonFormatter", "configure_logging", "current_run_id"]

#: The run being recorded (the innermost step), set by ``services.runs.recorded_run``.
current_run_id: ContextVar[str | None] = ContextVar("current_run_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, run id, error."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": current_run_id.get(),
        }
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(log_format: str | None, stream: TextIO | None = None) -> None:
    """JSON lines at INFO for ``json``; otherwise human lines at WARNING (the default)."""
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    if (log_format or "").lower() == "json":
        handler.setFormatter(JsonFormatter())
        root.setLevel(logging.INFO)
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.WARNING)
    root.addHandler(handler)
