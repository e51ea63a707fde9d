"""The sales record contract (SPEC section 7): field names, allowed values, and what a source hands
over.

Every source (the sales API, the file inbox, the shop database) yields :class:`SourceBatch`es of
*raw* records: an Arrow table whose columns are the record fields, every value a string as read
(or null). Cleaning (:mod:`leadpersona.sales.cleaning`) is one piece of code for every source, so
the same messy value means the same thing wherever it came from.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pyarrow as pa

__all__ = [
    "FIELDS",
    "ISO_4217",
    "OPTIONAL_DEFAULTS",
    "REQUIRED_FIELDS",
    "SOURCE_NAMES",
    "STATUSES",
    "SalesSource",
    "SourceBatch",
    "SourceName",
    "raw_table",
]

#: The record fields, in the order of SPEC section 7.
FIELDS: tuple[str, ...] = (
    "order_id",
    "line_no",
    "order_date",
    "customer_email",
    "product_sku",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "currency",
    "status",
)

#: Fields a record cannot be loaded without (the key, and what a fact row needs).
REQUIRED_FIELDS: tuple[str, ...] = (
    "order_id",
    "line_no",
    "order_date",
    "customer_email",
    "product_sku",
    "quantity",
    "unit_price",
)

#: Values given to optional fields a record leaves empty.
OPTIONAL_DEFAULTS: Mapping[str, str] = {"discount": "0", "currency": "EUR", "status": "completed"}

#: A sale's status; a later record for the same key supersedes an earlier one. Only
#: ``completed`` lines count as revenue.
STATUSES: tuple[str, ...] = ("completed", "refunded", "cancelled")

SourceName = Literal["api", "files", "db"]
#: The kinds of source, in the order ``sales load`` reads them when none is named.
SOURCE_NAMES: tuple[SourceName, ...] = ("api", "files", "db")

#: Active ISO 4217 currency codes (plus the precious metals and special codes the standard
#: lists: XAU, XAG, XDR, ...).
ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a table reads better than 180 quoted strings
)


def raw_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Raw records (dicts, e.g. an API page) as a table of strings, names lower-cased.

    Keys are matched case-insensitively and trimmed; values become strings (``None`` stays
    null); fields a record lacks are null; extra fields are kept (cleaning ignores them, the
    quarantine shows them).
    """
    names: dict[str, None] = dict.fromkeys(FIELDS)
    rows: list[dict[str, str | None]] = []
    for record in records:
        row: dict[str, str | None] = {}
        for key, value in record.items():
            name = str(key).strip().lower()
            names.setdefault(name)
            row[name] = None if value is None else str(value)
        rows.append(row)
    columns = {name: pa.array([r.get(name) for r in rows], pa.string()) for name in names}
    return pa.table(columns)


@dataclass
class SourceBatch:
    """Raw records read from one place of one source, and the source state once they are stored.

    ``checkpoint`` is committed in the same transaction as the batch's rows, under
    ``checkpoint_key``: a load killed after that commit resumes after this batch, and one killed
    before it reads the batch again (and stores it once).
    """

    source: SourceName
    #: Where the records were read: a file name, an API page, a table.
    location: str
    #: The records (see :func:`raw_table`): string columns, names lower-cased.
    records: pa.Table
    #: Record number, within ``location``, of the first record (1-based).
    first_row: int = 1
    #: The line each record starts on, for text files (None when unknown).
    lines: list[int] | None = None
    checkpoint_key: str = ""
    checkpoint: dict[str, Any] = field(default_factory=dict)


class SalesSource(abc.ABC):
    """One kind of sales source. A fourth kind is one new subclass."""

    name: ClassVar[SourceName]

    @abc.abstractmethod
    def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        """The records not stored yet, in batches.

        ``state`` holds every checkpoint this source committed before, by key: the source
        resumes after them.
        """

    async def committed(self, batch: SourceBatch) -> None:  # noqa: B027 - optional hook
        """Called once ``batch`` and its checkpoint are committed (files move on here)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the source holds (connections, clients)."""
