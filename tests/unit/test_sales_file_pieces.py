"""The byte scans the CSV reader makes on each piece of a file."""

from __future__ import annotations

import itertools

import pytest

from leadpersona.sales.sources.files import _count, _has_blank_line


def _blank_by_search(piece: bytes) -> bool:
    return b"\n\n" in piece or b"\n\r\n" in piece or piece.startswith((b"\n", b"\r\n"))


@pytest.mark.parametrize(
    "piece",
    [
        b"",
        b"\n",
        b"\r\n",
        b"a\n",
        b"a\nb\n",
        b"a\n\nb\n",
        b"a\r\n\r\nb\r\n",
        b"a\r\nb\r\n",
        b"a\n\r\nb",
        b'a,"x\ny"\nb\n',
        b"\nA\n",
    ],
)
def test_blank_lines_are_found_as_a_search_finds_them(piece: bytes) -> None:
    assert _has_blank_line(piece) is _blank_by_search(piece)


def test_every_short_piece_of_line_breaks_and_text_agrees() -> None:
    for size in range(6):
        for parts in itertools.product([b"a", b"\n", b"\r", b'"'], repeat=size):
            piece = b"".join(parts)
            assert _has_blank_line(piece) is _blank_by_search(piece), piece
            assert _count(piece, b"\n") == piece.count(b"\n")
            assert _count(piece, b'"') == piece.count(b'"')
