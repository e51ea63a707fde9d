from __future__ import annotations

import pytest

from leadpersona.domain.email import normalize_email


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com\t", "ada@example.com"),
        ("\uff21\uff24\uff21@example.com", "ada@example.com"),  # full-width letters fold (NFKC)
        ("ada@example.com", "ada@example.com"),
    ],
)
def test_normalize_email_is_nfkc_trimmed_lowercase(raw: str, key: str) -> None:
    assert normalize_email(raw) == key


def test_spellings_of_one_address_share_one_key() -> None:
    assert len({normalize_email(s) for s in ["Ada@x.com", "ADA@X.COM", " ada@x.com "]}) == 1
