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


def test_client_and_archive_key_emails_like_the_domain() -> None:
    # Full-width letters: a plain strip().lower() would give the client and archive a key of
    # their own, so one person would be fetched twice and archived under two hashes.
    from leadpersona.adapters.archive import email_hash
    from leadpersona.adapters.enrichment_client import normalize_email as client_key

    spelled = "\uff21\uff24\uff21@Example.com"
    assert client_key(spelled) == normalize_email(spelled) == "ada@example.com"
    assert email_hash(spelled) == email_hash("ada@example.com")
