"""Every error leadpersona raises on purpose.

The tree::

    LeadPersonaError
    ├── ConfigError                    invalid settings; raised at start-up
    ├── DatabaseError                  MongoDB unreachable or failing
    │   └── EmbeddedServerError        the embedded server could not start
    ├── ApiError                       a call to a third-party API failed (that call only)
    │   ├── RetriableApiError          429, 5xx, timeouts: worth trying again
    │   ├── FatalApiError              no later call can succeed: the run stops
    │   ├── SalesApiError              talking to the sales API failed (retries exhausted)
    │   │   ├── RetriableSalesApiError     (also a RetriableApiError) + bodies not JSON
    │   │   └── FatalSalesApiError         (also a FatalApiError) 401 / 403, other 4xx
    │   └── EnrichmentError            talking to the enrichment API failed
    │       ├── RetriableEnrichmentError   (also a RetriableApiError) + bodies not JSON
    │       └── FatalEnrichmentError       (also a FatalApiError) other 4xx
    │           └── AuthenticationError    401 / 403: bad or missing API key
    ├── FieldMapError                  the field-of-study CSV cannot be read or written
    ├── NotFoundError                  a lead, persona or archived answer does not exist
    │   ├── PersonaNotFound
    │   └── ArchiveNotFound
    ├── InvalidInput                   a value given by a user is not acceptable
    │   ├── InvalidFeature             a persona feature name or value is not acceptable
    │   └── LeadFileError              a lead file cannot be read or has no email column
    ├── ArchiveError                   the raw-answer archive failed
    ├── WarehouseError                 the SQL warehouse failed
    └── ReportError                    the static report could not be written

Adapters translate third-party exceptions (``httpx.HTTPError``, ``PyMongoError``, ...) into
these once, at the boundary, with ``raise ... from exc``. Entry points map them to exit codes
(CLI) and status codes (HTTP).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "ArchiveError",
    "ArchiveNotFound",
    "AuthenticationError",
    "ConfigError",
    "DatabaseError",
    "EmbeddedServerError",
    "EnrichmentError",
    "FatalApiError",
    "FatalEnrichmentError",
    "FatalSalesApiError",
    "FieldMapError",
    "InvalidFeature",
    "InvalidInput",
    "LeadFileError",
    "LeadPersonaError",
    "NotFoundError",
    "PersonaNotFound",
    "ReportError",
    "RetriableApiError",
    "RetriableEnrichmentError",
    "RetriableSalesApiError",
    "SalesApiError",
    "WarehouseError",
]


class LeadPersonaError(Exception):
    """Root of every error raised on purpose by leadpersona."""


class ConfigError(LeadPersonaError):
    """A setting is missing or invalid; raised when settings are loaded."""


class DatabaseError(LeadPersonaError):
    """MongoDB could not be reached or refused an operation."""


class EmbeddedServerError(DatabaseError):
    """The embedded MongoDB-wire server could not be started or reached."""


class ApiError(LeadPersonaError):
    """A call to a third-party API failed; other calls may still succeed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetriableApiError(ApiError):
    """A transient failure (429, 408, 5xx, timeout, connection error): try again later.

    ``retry_after`` holds the server's ``Retry-After`` in seconds when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class FatalApiError(ApiError):
    """A failure that retrying cannot fix (refused key, no credits); the run stops."""


class SalesApiError(ApiError):
    """A call to the sales API failed; raised as is when its retries are exhausted."""


class RetriableSalesApiError(SalesApiError, RetriableApiError):
    """A transient failure of the sales API (429, 5xx, timeout, a body that is not JSON)."""


class FatalSalesApiError(SalesApiError, FatalApiError):
    """A failure of the sales API that retrying cannot fix (a refused key, a refused query)."""


class EnrichmentError(ApiError):
    """A call to the enrichment API failed."""


class RetriableEnrichmentError(EnrichmentError, RetriableApiError):
    """A transient failure of the enrichment API (also a body that is not JSON)."""


class FatalEnrichmentError(EnrichmentError, FatalApiError):
    """A failure of the enrichment API that retrying cannot fix; the run stops."""


class AuthenticationError(FatalEnrichmentError):
    """The API refused the key (401 or 403)."""


class FieldMapError(LeadPersonaError):
    """The field-of-study CSV cannot be read or written.

    ``path`` and ``line`` say where, when known.
    """

    def __init__(self, message: str, *, path: Any = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class NotFoundError(LeadPersonaError):
    """Something asked for by id does not exist."""


class PersonaNotFound(NotFoundError):
    """No persona exists for this lead id."""


class ArchiveNotFound(NotFoundError):
    """No raw API answer is archived for this lead or email."""


class InvalidInput(LeadPersonaError):
    """A value given by a user is not acceptable."""


class InvalidFeature(InvalidInput):
    """A persona feature name or value is not acceptable."""


class LeadFileError(InvalidInput):
    """A lead file cannot be imported: unreadable, not UTF-8, not CSV, or no email column."""


class ArchiveError(LeadPersonaError):
    """The raw-answer archive failed to store or read an answer."""


class WarehouseError(LeadPersonaError):
    """The SQL warehouse failed."""


class ReportError(LeadPersonaError):
    """The static report could not be written."""
