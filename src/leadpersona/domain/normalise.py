"""Normalisation of field-of-study keys and academic-field labels (SPEC section 3). Pure."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["NAN_TOKENS", "fold_accents", "is_nan_like", "normalise_key", "normalise_label"]

#: Cell values that mean "no value" (compared after trimming and casefolding).
NAN_TOKENS = frozenset({"", "nan", "none", "null", "na", "n/a", "#n/a", "nil", "-", "--", "?"})

_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark
        "\u201a": "'",  # single low-9
        "\u201b": "'",  # single high-reversed-9
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent used as apostrophe
        "\u0060": "'",  # grave accent used as apostrophe
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9
        "\u201f": '"',  # double high-reversed-9
        "\u2033": '"',  # double prime
        "\u00ab": '"',  # left guillemet
        "\u00bb": '"',  # right guillemet
    }
)
_SPACE = re.compile(r"\s+")


def normalise_key(text: str) -> str:
    """The lookup key of a field of study.

    Unicode NFKC, casefold, typographic quotes made plain, whitespace (including tabs and line
    breaks) collapsed to one space, trimmed.
    """
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


def is_nan_like(text: str | None) -> bool:
    """True for None, empty, whitespace-only and ``nan``-like tokens (``nan``, ``N/A``, ``-``)."""
    if text is None:
        return True
    return _SPACE.sub(" ", text).strip().casefold() in NAN_TOKENS


def normalise_label(text: str | None) -> str | None:
    """An academic-field label: lowercase, whitespace collapsed, trimmed; missing → None."""
    if is_nan_like(text):
        return None
    assert text is not None
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def fold_accents(text: str) -> str:
    """``text`` without diacritics (``Génie électrique`` → ``Genie electrique``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
