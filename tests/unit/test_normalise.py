"""Key and label normalisation (SPEC section 3)."""

from __future__ import annotations

import pytest

from leadpersona.domain.normalise import fold_accents, normalise_key, normalise_label


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("  Computer   Science ", "computer science"),
        (
            "\uff23\uff2f\uff2d\uff30\uff35\uff34\uff25\uff32 Science",
            "computer science",
        ),  # NFKC folds full-width letters
        ("Associate\u2019s Degree", "associate's degree"),
        ("\u201cWellness Counseling Certificate\u201d", '"wellness counseling certificate"'),
        ("Bachelor (BBA)\n(First Class)\tHons", "bachelor (bba) (first class) hons"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_normalise_key(text: str, key: str) -> None:
    assert normalise_key(text) == key


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Human Resources", "human resources"),
        ("  human   resources ", "human resources"),
        ("Architecture and design", "architecture and design"),
        ("", None),
        ("   ", None),
        ("nan", None),
        ("NaN", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_normalise_label(text: str | None, label: str | None) -> None:
    assert normalise_label(text) == label


def test_fold_accents() -> None:
    assert fold_accents("Génie électrique, Ciência") == "Genie electrique, Ciencia"
