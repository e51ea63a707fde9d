"""The sales file inbox: CSV (sniffed delimiter, BOM, quoted cells), JSON Lines, Parquet; the
content-hash ledger, resuming a file, processed/ and failed/, and bounded batches."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.records import SourceBatch
from leadpersona.sales.sources import files
from leadpersona.sales.sources.files import FileInboxSource
from leadpersona.sales.synthetic import synthetic_lines

HEADER = (
    "ORDER_ID;Line_No;order_date;customer_email;product_sku;product_name;category;quantity;"
    "unit_price;discount;currency;status;Note"
)


async def collect(
    source: FileInboxSource, state: Mapping[str, Mapping[str, Any]] | None = None
) -> list[SourceBatch]:
    found = []
    async for batch in source.batches(state or {}):
        found.append(batch)
        await source.committed(batch)
    return found


def rows(batches: list[SourceBatch]) -> list[dict[str, Any]]:
    return [row for batch in batches for row in batch.records.to_pylist()]


async def test_csv_with_semicolons_bom_quotes_and_upper_case_headers(tmp_path: Path) -> None:
    body = (
        HEADER + "\n"
        'O1;1;05/01/2026;Ada@Example.com;S1;"Desk; oak";Office;2;"1,234.50";10%;EUR;;x\n'
        'O2;1;2026-01-06;bob@example.com;S2;"Lamp\nwith a break";Office;1;€12.30;;;;\n'
    )
    (tmp_path / "orders.csv").write_bytes(b"\xef\xbb\xbf" + body.encode())
    source = FileInboxSource(tmp_path)
    batches = await collect(source)
    assert [b.checkpoint["done"] for b in batches] == [True]
    found = rows(batches)
    assert [r["order_id"] for r in found] == ["O1", "O2"]
    assert found[0]["product_name"] == "Desk; oak" and found[0]["note"] == "x"
    assert found[1]["product_name"] == "Lamp\nwith a break"
    assert found[0]["unit_price"] == "1,234.50" and found[1]["discount"] is None
    assert (tmp_path / "processed" / "orders.csv").exists()
    cleaned = SalesCleaner().clean(batches[0].records)
    assert cleaned.rejected == [] and cleaned.lines.num_rows == 2
    assert str(cleaned.lines["amount"][0]) == "2222.10"


async def test_tsv_rows_of_the_wrong_width_are_kept_in_place(tmp_path: Path) -> None:
    header = HEADER.replace(";", "\t")
    good = "O1\t1\t2026-01-05\ta@example.com\tS1\tN\tC\t1\t2\t0\tEUR\tcompleted\t"
    wide = good.replace("O1", "O3") + "\tmore\tstill"
    (tmp_path / "orders.tsv").write_text(f"{header}\n{good}\nO2\t1\n{wide}\n{good}\n")
    batches = await collect(FileInboxSource(tmp_path))
    found = rows(batches)
    assert [r["order_id"] for r in found] == ["O1", "O2", "O3", "O1"]
    assert found[1]["line_no"] == "1" and found[1]["order_date"] is None
    assert found[2]["_extra"] == "more\tstill" and found[0]["_extra"] is None
    assert batches[0].lines == [2, 3, 4, 5]
    cleaned = SalesCleaner().clean(batches[0].records, lines=batches[0].lines)
    assert [r.line for r in cleaned.rejected] == [3]
    assert {r.field for r in cleaned.rejected[0].reasons} >= {"order_date", "quantity"}


async def test_csv_lines_count_quoted_line_breaks_and_blank_lines(tmp_path: Path) -> None:
    body = (
        "order_id,product_name,quantity\r\n"
        'A,"two\r\nlines",1\r\n'
        "\r\n"
        "B,plain,2\r\n"
        'C,"x",3,surplus\r\n'
        "NA,N/A,NULL"
    )
    (tmp_path / "crlf.csv").write_bytes(body.encode())
    batches = await collect(FileInboxSource(tmp_path))
    found = rows(batches)
    assert [r["order_id"] for r in found] == ["A", "B", "C", "NA"]
    assert found[0]["product_name"] == "two\r\nlines" and found[2]["_extra"] == "surplus"
    assert found[3]["product_name"] == "N/A" and found[3]["quantity"] == "NULL"
    assert batches[0].lines == [2, 5, 6, 7]


async def test_the_delimiter_is_the_one_giving_consistent_rows(tmp_path: Path) -> None:
    (tmp_path / "pipes.txt").write_text("order_id|unit_price\nA|1,5\nB|2,25\n")
    (tmp_path / "commas.csv").write_text('order_id,unit_price\nA,"1;5"\nB,2\n')
    found = rows(await collect(FileInboxSource(tmp_path)))
    assert {(r["order_id"], r["unit_price"]) for r in found} == {
        ("A", "1,5"),
        ("B", "2,25"),
        ("A", "1;5"),
        ("B", "2"),
    }


async def test_json_lines_with_a_blank_line_and_a_line_that_is_not_an_object(
    tmp_path: Path,
) -> None:
    lines = [
        json.dumps({"ORDER_ID": "J1", "line_no": 1, "quantity": 2, "unit_price": 9.5}),
        "",
        "[1, 2]",
        "{broken",
        json.dumps({"order_id": "J2", "line_no": 1, "extra": {"a": 1}}),
    ]
    (tmp_path / "orders.jsonl").write_text("\n".join(lines) + "\n")
    batches = await collect(FileInboxSource(tmp_path))
    found = rows(batches)
    assert [r["order_id"] for r in found] == ["J1", None, None, "J2"]
    assert found[0]["quantity"] == "2" and found[0]["unit_price"] == "9.5"
    assert found[1]["value"] == "[1, 2]" and found[2]["value"] == "{broken"
    assert found[3]["extra"] == '{"a": 1}'
    assert batches[0].lines == [1, 3, 4, 5]


async def test_json_values_of_every_type_arrive_as_text(tmp_path: Path) -> None:
    lines = [
        '{"order_id": "A", "quantity": 2, "unit_price": 2.5, "flag": true, "tags": [1]}',
        '{"order_id": "B", "quantity": "3", "unit_price": 10, "flag": null, "tags": {"k": "é"}}',
        '{"quantity": 4, "order_id": "C"}',
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines))
    found = rows(await collect(FileInboxSource(tmp_path)))
    assert [(r["quantity"], r["unit_price"]) for r in found] == [
        ("2", "2.5"),
        ("3", "10"),
        ("4", None),
    ]
    assert [r["flag"] for r in found] == ["true", None, None]
    assert [r["tags"] for r in found] == ["[1]", '{"k": "é"}', None]


async def test_parquet_typed_columns_arrive_as_text_in_bounded_batches(tmp_path: Path) -> None:
    records = list(synthetic_lines(25))
    table = pa.table(
        {
            "Order_ID": [r["order_id"] for r in records],
            "line_no": pa.array([int(r["line_no"]) for r in records], pa.int32()),
            "order_date": pa.array(
                [date.fromisoformat(str(r["order_date"])[:10]) for r in records], pa.date32()
            ),
            "quantity": pa.array([int(r["quantity"]) for r in records], pa.int64()),
            "unit_price": pa.array([float(r["unit_price"]) for r in records], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet", row_group_size=7)
    batches = await collect(FileInboxSource(tmp_path, batch_rows=10))
    assert all(b.records.num_rows <= 10 for b in batches)
    assert [b.first_row for b in batches][:2] == [1, batches[0].records.num_rows + 1]
    found = rows(batches)
    assert len(found) == 25 and found[0]["order_id"] == records[0]["order_id"]
    assert found[0]["line_no"] == str(records[0]["line_no"])
    assert isinstance(found[0]["quantity"], str)
    assert found[0]["order_date"] == str(records[0]["order_date"])[:10]
    assert [b.checkpoint["done"] for b in batches].count(True) == 1 and batches[-1].checkpoint[
        "done"
    ]


async def test_a_file_is_loaded_once_even_renamed_and_resumes_after_a_kill(
    tmp_path: Path,
) -> None:
    records = list(synthetic_lines(30))
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    (tmp_path / "a.jsonl").write_text(body)
    source = FileInboxSource(tmp_path, batch_rows=8)
    # A load killed after storing two batches: the checkpoint says 16 records.
    batches = [b async for b in source.batches({})]
    key = batches[0].checkpoint_key
    assert key.startswith("file:") and [b.checkpoint["rows"] for b in batches] == [8, 16, 24, 30]
    resumed = [
        b
        async for b in FileInboxSource(tmp_path, batch_rows=8).batches({key: batches[1].checkpoint})
    ]
    assert [r["order_id"] for r in rows(resumed)] == [r["order_id"] for r in records[16:]]
    assert resumed[0].first_row == 17 and resumed[0].lines == list(range(17, 25))
    # Once done, the same content under another name is not read again.
    (tmp_path / "a.jsonl").rename(tmp_path / "copy-of-a.jsonl")
    again = FileInboxSource(tmp_path)
    assert [b async for b in again.batches({key: batches[-1].checkpoint})] == []
    assert (tmp_path / "processed" / "copy-of-a.jsonl").exists()


async def test_only_the_last_batch_moves_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in synthetic_lines(5)) + "\n")
    source = FileInboxSource(tmp_path, batch_rows=2)
    seen = []
    async for batch in source.batches({}):
        await source.committed(batch)
        seen.append((batch.checkpoint["done"], (tmp_path / "a.jsonl").exists()))
    assert seen == [(False, True), (False, True), (True, False)]


async def test_an_empty_file_with_a_header_is_recorded_as_done(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text(HEADER.replace(";", ",") + "\n")
    batches = await collect(FileInboxSource(tmp_path))
    assert [(b.records.num_rows, b.checkpoint["done"]) for b in batches] == [(0, True)]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("garbage.csv", b"\xff\xfe\x00\x01binary\x00" * 50, "not UTF-8"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported file type .xlsx"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
        ("nothing.csv", b"", "no header"),
        (
            "late.csv",
            b"a,b,c\n" + b"1,2,3\n" * 20_000 + b"x\xff,1\n",
            "not UTF-8 text (line 20002)",
        ),
        ("list.jsonl", b"[1, 2, 3]\n\n{broken\n", "no line is a JSON object"),
    ],
)
async def test_unreadable_files_go_to_failed_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / name).write_bytes(content)
    source = FileInboxSource(tmp_path)
    assert await collect(source) == []
    assert [f.name for f in source.failures] == [name]
    assert reason in source.failures[0].reason
    assert (tmp_path / "failed" / name).exists()
    written = (tmp_path / "failed" / f"{name}.reason.txt").read_text()
    assert reason in written and not (tmp_path / name).exists()


async def test_the_inbox_and_its_folders_are_created(tmp_path: Path) -> None:
    inbox = tmp_path / "deep" / "inbox"
    FileInboxSource(inbox)
    assert (inbox / "processed").is_dir() and (inbox / "failed").is_dir()


async def test_json_lines_whose_first_line_is_broken_still_load(tmp_path: Path) -> None:
    (tmp_path / "late.ndjson").write_text('oops\n{"Order_ID": "J1"}\n')
    source = FileInboxSource(tmp_path)
    batches = await collect(source)
    assert [r["order_id"] for r in rows(batches)] == [None, "J1"]
    assert rows(batches)[0]["value"] == "oops" and source.failures == []


async def test_two_copies_in_one_pass_are_read_once_and_both_move(tmp_path: Path) -> None:
    body = "\n".join(json.dumps(r) for r in synthetic_lines(3)) + "\n"
    (tmp_path / "a.jsonl").write_text(body)
    (tmp_path / "b.jsonl").write_text(body)
    source = FileInboxSource(tmp_path)
    batches = await collect(source)
    assert len(rows(batches)) == 3
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == ["a.jsonl", "b.jsonl"]
    (tmp_path / "c.jsonl").write_text(body)  # dropped again later in the same pass
    assert await collect(source) == []
    assert (tmp_path / "processed" / "c.jsonl").exists()


async def test_parquet_resumes_inside_a_row_group_after_whole_ones(tmp_path: Path) -> None:
    table = pa.table({"order_id": [f"P{i}" for i in range(20)], "line_no": list(range(20))})
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=6)
    [first] = await collect(FileInboxSource(tmp_path, batch_rows=100))
    (tmp_path / "processed" / "p.parquet").rename(tmp_path / "p.parquet")
    state = {first.checkpoint_key: {"name": "p.parquet", "rows": 14, "done": False}}
    resumed = await collect(FileInboxSource(tmp_path, batch_rows=4), state)
    assert [r["order_id"] for r in rows(resumed)] == [f"P{i}" for i in range(14, 20)]
    assert all(b.records.num_rows <= 4 for b in resumed) and resumed[0].first_row == 15
    assert [b.first_row + b.records.num_rows for b in resumed[:-1]] == [
        b.first_row for b in resumed[1:]
    ]
    assert resumed[-1].checkpoint == {
        "name": "p.parquet",
        "rows": 20,
        "done": True,
    }


async def test_parquet_timestamps_and_decimals_clean_end_to_end(tmp_path: Path) -> None:
    from datetime import datetime
    from decimal import Decimal

    table = pa.table(
        {
            "ORDER_ID": ["T1"],
            "line_no": pa.array([1], pa.int16()),
            "order_date": pa.array([datetime(2026, 1, 5, 16, 45)], pa.timestamp("us")),
            "customer_email": ["t@example.com"],
            "product_sku": ["S"],
            "quantity": pa.array([3], pa.int64()),
            "unit_price": pa.array([Decimal("12.50")], pa.decimal128(10, 2)),
            "tags": pa.array([["a", "b"]]),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    [batch] = await collect(FileInboxSource(tmp_path))
    assert batch.records.to_pylist()[0]["tags"] == '["a", "b"]'
    cleaned = SalesCleaner(today=date(2026, 2, 1)).clean(batch.records)
    assert cleaned.rejected == [] and str(cleaned.lines["amount"][0]) == "37.50"
    assert cleaned.lines["order_date"][0].as_py() == date(2026, 1, 5)


async def test_a_large_csv_is_read_in_pieces_and_fails_half_way_keeping_what_was_read(
    tmp_path: Path,
) -> None:
    row = 'O{0},1,2026-01-05,a@example.com,S1,"Desk, ""oak""\nsecond line",Office,1,2,0,EUR,\n'
    count = 60_000  # about 6 MB: two pieces
    with (tmp_path / "big.csv").open("w") as handle:
        handle.write("order_id,line_no,order_date,customer_email,product_sku,product_name,")
        handle.write("category,quantity,unit_price,discount,currency,status\n")
        for number in range(count):
            handle.write(row.format(number))
            if number == 44_999:  # in the second piece: a short row, over two lines too
                handle.write('SHORT,"a\nb"\n')
    source = FileInboxSource(tmp_path, batch_rows=25_000)
    batches = [b async for b in source.batches({})]
    assert [b.records.num_rows for b in batches] == [25_000, 25_000, 10_001]
    assert [b.first_row for b in batches] == [1, 25_001, 50_001]
    assert batches[1].lines is not None and batches[1].lines[:2] == [50_002, 50_004]
    short = batches[1].records.slice(19_999, 3).to_pylist()
    assert [r["order_id"] for r in short] == ["O44999", "SHORT", "O45000"]
    assert short[1]["line_no"] == "a\nb" and short[1]["order_date"] is None
    assert batches[1].lines[19_999:20_002] == [90_000, 90_002, 90_004]
    assert rows(batches[2:])[-1]["product_name"] == 'Desk, "oak"\nsecond line'
    assert len({r["order_id"] for r in rows(batches)}) == count + 1
    # Resuming after 30,000 records gives the same records in the same order.
    resumed = [
        b
        async for b in FileInboxSource(tmp_path, batch_rows=25_000).batches(
            {batches[0].checkpoint_key: {"name": "big.csv", "rows": 30_000, "done": False}}
        )
    ]
    assert rows(resumed) == rows(batches)[30_000:]
    assert [b.first_row for b in resumed] == [30_001, 50_001]
    assert resumed[0].lines == batches[1].lines[5_000:]
    for batch in batches:
        await source.committed(batch)

    with (tmp_path / "bad.csv").open("wb") as handle:
        handle.write(b"order_id,product_name\n")
        for number in range(count * 2):
            handle.write(f"B{number},{'n' * 60}\n".encode())
        handle.write(b"B-last,\xff\xfe\n")
    source = FileInboxSource(tmp_path, batch_rows=50_000)
    read = [b async for b in source.batches({})]
    assert sum(b.records.num_rows for b in read) < count * 2
    assert all(not b.checkpoint["done"] for b in read) and read
    assert [f.name for f in source.failures] == ["bad.csv"]
    assert "not UTF-8" in source.failures[0].reason
    assert (tmp_path / "failed" / "bad.csv.reason.txt").exists()


def _expected(text: str, delimiter: str) -> tuple[list[dict[str, Any]], list[int]]:
    """What Python's csv module reads from ``text``: the records and the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [n.strip().lower() for n in next(reader)]
    records, lines = [], []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        if not cells:
            continue
        record = {n: (cells[i] or None) if i < len(cells) else None for i, n in enumerate(names)}
        record["_extra"] = delimiter.join(cells[len(names) :]) or None
        records.append(record)
        lines.append(start)
    return records, lines


@pytest.mark.parametrize("seed", range(6))
async def test_csv_pieces_of_any_size_read_what_the_csv_module_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    delimiter = rng.choice([",", ";", "|", "\t"])
    cells = ["plain", "", "a b", '"quoted, with; all|\tdelims"', '"two\nlines"', '"say ""hi"""']
    cells += ['"three\r\nline\nvalue"', "12,50" if delimiter != "," else "12.50", "é€"]
    newline = rng.choice(["\n", "\r\n"])
    out = [delimiter.join(["Order_ID", "b", "c", "d"])]
    for number in range(300):
        width = rng.choice([4, 4, 4, 4, 4, 2, 5, 7])
        row = [f"R{number}"] + [rng.choice(cells) for _ in range(width - 1)]
        out.append(delimiter.join(row))
        if rng.random() < 0.05:
            out.append("")
    text = newline.join(out) + rng.choice(["", newline])
    (tmp_path / "any.csv").write_text(text, encoding="utf-8", newline="")
    records, lines = _expected(text, delimiter)

    monkeypatch.setattr(files, "_PIECE_BYTES", rng.choice([16, 100, 700]))
    monkeypatch.setattr(files, "_MAX_PIECE_BYTES", 4096)
    batches = await collect(FileInboxSource(tmp_path, batch_rows=rng.choice([1, 7, 1000])))
    found = [{k: v for k, v in r.items() if k in records[0]} for r in rows(batches)]
    assert found == records
    assert [n for b in batches for n in b.lines or []] == lines
    assert [b.first_row for b in batches] == list(
        itertools.accumulate([1] + [b.records.num_rows for b in batches[:-1]])
    )


async def test_a_stray_quote_inside_a_cell_is_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "_PIECE_BYTES", 64)
    monkeypatch.setattr(files, "_MAX_PIECE_BYTES", 256)
    body = "order_id,product_name\n" + "".join(f'S{n},5" screen\n' for n in range(100))
    (tmp_path / "inches.csv").write_text(body)
    source = FileInboxSource(tmp_path)
    found = rows(await collect(source))
    assert source.failures == [] and len(found) == 100
    assert {r["product_name"] for r in found} == {'5" screen'}
    assert [r["order_id"] for r in found] == [f"S{n}" for n in range(100)]


async def test_a_short_row_with_a_huge_cell_is_kept(tmp_path: Path) -> None:
    huge = "x" * 200_000  # beyond the csv module's field size limit
    (tmp_path / "huge.csv").write_text(f"order_id,product_name,quantity\nH1,{huge}\nH2,n,1\n")
    source = FileInboxSource(tmp_path)
    found = rows(await collect(source))
    assert source.failures == []
    assert [(r["order_id"], r["product_name"] == huge) for r in found] == [
        ("H1", True),
        ("H2", False),
    ]


async def test_json_lines_with_a_bom_and_crlf(tmp_path: Path) -> None:
    body = '{"Order_ID": "B1"}\r\n\r\n{"order_id": "B2"}\r\n'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + body.encode())
    [batch] = await collect(FileInboxSource(tmp_path))
    assert batch.records["order_id"].to_pylist() == ["B1", "B2"] and batch.lines == [1, 3]


async def test_a_delimiter_after_every_row_gives_a_column_of_its_own(tmp_path: Path) -> None:
    body = "order_id;quantity\n" + "".join(f"T{n};{n};\n" for n in range(5000)) + "T-short\n"
    (tmp_path / "trailing.csv").write_text(body)
    [batch] = await collect(FileInboxSource(tmp_path))
    found = batch.records.to_pylist()
    assert len(found) == 5001 and found[7]["quantity"] == "7" and found[7]["_extra_1"] is None
    assert found[-1]["order_id"] == "T-short" and found[-1]["quantity"] is None
    assert batch.lines == list(range(2, 5003))


async def test_many_rows_of_the_wrong_width_stay_in_order(tmp_path: Path) -> None:
    body = "a,b,c\n" + "".join(f"W{n},x\n" if n % 3 else f"W{n},x,y\n" for n in range(30_000))
    (tmp_path / "ragged.csv").write_text(body)
    batches = await collect(FileInboxSource(tmp_path))
    assert [r["a"] for r in rows(batches)] == [f"W{n}" for n in range(30_000)]
    assert [n for b in batches for n in b.lines or []] == list(range(2, 30_002))
