"""The one identity of an email address, shared by import, enrichment, archive, warehouse, sales."""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_email"]


def normalize_email(email: str) -> str:
    """The key an email is deduplicated, fetched, archived and matched under.

    Unicode NFKC, trimmed, the whole address lower-cased (what mail providers and CRMs do in
    practice). A lead keeps its email as written; only comparisons use this form.
    """
    return unicodedata.normalize("NFKC", email).strip().lower()
