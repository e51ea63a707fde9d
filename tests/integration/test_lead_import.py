"""Importing crafted lead files into the real server: counts, leads, quarantine, idempotence."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.leads import EMAIL_UNIQUE_INDEX, register_emails
from leadpersona.bootstrap import import_leads
from leadpersona.errors import InvalidInput, LeadFileError
from leadpersona.services.lead_import import ImportReport, lead_id_for_row
from tests.conftest import unique_db_name

HEADER = ["First Name", "last_name", " EMAIL ", "photo_url", "Status", "Company"]
ROWS = [
    ["Ada", "Lovelace", "ada@Example.COM", "https://img.example.com/ada.jpg", "1", "ACME"],  # 1
    ["Bob", "", "bob@example.com", "", "", ""],  # 2
    ["", "", "ada@example.com", "", "", ""],  # 3 duplicate of row 1 after normalisation
    ["Bad", "", "not-an-email", "ftp://x.example.com", "x1", ""],  # 4 three reasons
    ["Multi\nLine", "Z", "multi@example.com", "", "2", "Line; with, separators"],  # 5
    ["", "", "", "", "", ""],  # 6 blank: skipped
    ["NoMail", "", "", "", "", ""],  # 7 email missing
    ["Cy", "D", "cy@example.com", "", "1.5", ""],  # 8 status not an integer
    ["Eve", "", "eve@example.com", "https://img.example.com/eve.jpg", "", "", "surplus"],  # 9
    ["Fay", "", "fay@example.com", "http://", "0", ""],  # 10 bad URL
    ["Bob2", "", " bob@EXAMPLE.com ", "", "", ""],  # 11 duplicate of row 2
]


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    header: list[str] = HEADER,
    delimiter: str = ",",
    bom: bool = False,
) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode())
    return path


async def docs(database: MongoDatabase, name: str, **sort: int) -> list[dict[str, Any]]:
    cursor = database[name].find({})
    if sort:
        cursor = cursor.sort(list(sort.items()))
    return [document async for document in cursor]


def counts(report: ImportReport) -> dict[str, Any]:
    return report.model_dump(
        include={
            "read",
            "inserted",
            "duplicates_in_file",
            "duplicates_existing",
            "quarantined",
            "by_reason",
            "blank_rows",
        }
    )


EXPECTED = {
    "read": 10,
    "inserted": 3,
    "duplicates_in_file": 2,
    "duplicates_existing": 0,
    "quarantined": 7,
    "blank_rows": 1,
    "by_reason": {
        "duplicate_in_file": 2,
        "email_invalid": 1,
        "email_missing": 1,
        "extra_cells": 1,
        "photo_url_invalid": 2,
        "status_not_integer": 2,
    },
}


async def test_crafted_file_counts_leads_and_quarantine(
    database: MongoDatabase, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "crm export.csv", ROWS)
    report = await import_leads(database, path, batch_size=3)
    assert counts(report) == EXPECTED
    assert report.file == "crm export.csv"
    assert report.columns == ["first_name", "last_name", "email", "photo_url", "status"]
    assert report.extra_columns == ["company"]
    assert not report.already_imported

    leads = {lead["email"]: lead for lead in await docs(database, "leads")}
    assert set(leads) == {"ada@example.com", "bob@example.com", "multi@example.com"}
    ada = leads["ada@example.com"]
    assert ada == {
        "_id": lead_id_for_row(report.sha256, 1),
        "status": 1,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "photo_url": "https://img.example.com/ada.jpg",
        "imported": {"import_id": report.sha256, "row": 1, "extra": {"company": "ACME"}},
    }
    assert leads["multi@example.com"]["first_name"] == "Multi\nLine"
    assert leads["bob@example.com"]["status"] == 0
    assert leads["bob@example.com"]["last_name"] is None

    quarantine = {q["row"]: q for q in await docs(database, "quarantine")}
    assert set(quarantine) == {3, 4, 7, 8, 9, 10, 11}
    by_row = {row: [r["code"] for r in q["reasons"]] for row, q in quarantine.items()}
    assert by_row == {
        3: ["duplicate_in_file"],
        4: ["email_invalid", "status_not_integer", "photo_url_invalid"],
        7: ["email_missing"],
        8: ["status_not_integer"],
        9: ["extra_cells"],
        10: ["photo_url_invalid"],
        11: ["duplicate_in_file"],
    }
    assert quarantine[3]["reasons"][0]["message"] == "ada@example.com already in row 1"
    assert quarantine[11]["reasons"][0]["message"] == "bob@example.com already in row 2"
    (run,) = await docs(database, "runs")
    assert (run["kind"], run["status"], run["details"]["sha256"]) == (
        "import",
        "completed",
        report.sha256,
    )
    assert run["counts"]["quarantined"] == report.quarantined == len(quarantine)
    assert run["counts"]["inserted"] == report.inserted
    four = quarantine[4]
    assert (four["source"], four["run_id"]) == ("leads", run["_id"])
    assert four["import_id"] == report.sha256
    assert four["file"] == "crm export.csv"
    assert four["line"] == 5
    assert four["raw"] == {
        "First Name": "Bad",
        "last_name": "",
        "EMAIL": "not-an-email",
        "photo_url": "ftp://x.example.com",
        "Status": "x1",
        "Company": "",
    }
    assert quarantine[8]["line"] == 10  # row 5 spans two lines
    assert quarantine[9]["raw"]["#7"] == "surplus"

    (record,) = await docs(database, "imports")
    assert record["_id"] == report.sha256
    assert record["status"] == "complete"
    assert record["rows_done"] == 11
    assert record["inserted"] == 3


async def test_row_counts_add_up(database: MongoDatabase, tmp_path: Path) -> None:
    report = await import_leads(database, write_csv(tmp_path / "a.csv", ROWS))
    assert report.read == report.inserted + report.quarantined
    assert report.read + report.blank_rows == len(ROWS)
    assert await database["leads"].count_documents({}) == report.inserted
    assert await database["quarantine"].count_documents({}) == report.quarantined


@pytest.mark.parametrize(
    ("delimiter", "bom"), [(";", False), ("\t", False), (",", True), (";", True)]
)
async def test_delimiters_and_bom_give_the_same_result(
    database: MongoDatabase, tmp_path: Path, delimiter: str, bom: bool
) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS, delimiter=delimiter, bom=bom)
    report = await import_leads(database, path)
    assert report.delimiter == delimiter
    assert counts(report) == EXPECTED
    assert report.columns == ["first_name", "last_name", "email", "photo_url", "status"]


async def test_duplicates_against_existing_leads_and_across_imports(
    database: MongoDatabase,
    raw_client: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    # A lead another system wrote, and leads without email (allowed to repeat).
    await raw_client[database.name]["leads"].insert_many(
        [
            {"_id": "a" * 32, "status": 0, "email": "crm@example.com", "first_name": "Crm"},
            {"_id": "b" * 32, "status": 0, "email": None},
            {"_id": "c" * 32, "status": 0},
        ]
    )
    first = await import_leads(
        database,
        write_csv(
            tmp_path / "one.csv",
            [["A", "", "a@example.com", "", "", ""], ["C", "", "crm@example.com", "", "", ""]],
        ),
    )
    assert (first.inserted, first.duplicates_existing, first.duplicates_in_file) == (1, 1, 0)
    second = await import_leads(
        database,
        write_csv(
            tmp_path / "two.csv",
            [
                ["A", "", " a@EXAMPLE.COM", "", "", ""],  # same lead once normalised
                ["B", "", "b@example.com", "", "", ""],
                ["B", "", "b@example.com", "", "", ""],
            ],
        ),
    )
    assert (second.inserted, second.duplicates_existing, second.duplicates_in_file) == (1, 1, 1)
    assert second.by_reason == {"duplicate_existing": 1, "duplicate_in_file": 1}
    emails = [doc.get("email") async for doc in database["leads"].find({})]
    assert sorted(e for e in emails if e) == [
        "a@example.com",
        "b@example.com",
        "crm@example.com",
    ]
    assert len(emails) == 5
    crm = await database["leads"].find_one({"email": "crm@example.com"})
    assert crm == {"_id": "a" * 32, "status": 0, "email": "crm@example.com", "first_name": "Crm"}
    entry = await database["quarantine"].find_one({"import_id": first.sha256})
    assert entry is not None
    assert entry["reasons"] == [
        {
            "code": "duplicate_existing",
            "field": "email",
            "message": "crm@example.com is already a lead in the database",
        }
    ]


async def test_importing_the_same_file_twice_inserts_nothing(
    database: MongoDatabase, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS)
    first = await import_leads(database, path)
    leads = await docs(database, "leads", _id=1)
    quarantine = await docs(database, "quarantine", _id=1)

    again = await import_leads(database, path)
    assert again.already_imported
    assert (again.read, again.inserted, again.quarantined) == (0, 0, 0)
    assert again.sha256 == first.sha256
    assert again.imported_at is not None
    # The same content under another name is the same file.
    renamed = path.rename(tmp_path / "copy.csv")
    assert (await import_leads(database, renamed)).already_imported
    assert (await import_leads(database, renamed, dry_run=True)).already_imported
    assert await docs(database, "leads", _id=1) == leads
    assert await docs(database, "quarantine", _id=1) == quarantine
    assert await database["imports"].count_documents({}) == 1


async def test_dry_run_predicts_and_writes_nothing(database: MongoDatabase, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS)
    await import_leads(database, write_csv(tmp_path / "before.csv", [ROWS[1]]))
    before = {
        name: await database[name].count_documents({}) for name in ("leads", "imports", "runs")
    }
    forecast = await import_leads(database, path, dry_run=True, batch_size=2)
    assert forecast.dry_run
    assert {name: await database[name].count_documents({}) for name in before} == before
    assert await database["quarantine"].count_documents({}) == 0
    real = await import_leads(database, path, batch_size=5)
    assert counts(forecast) == counts(real)
    # Bob was imported before: rows 2 and 11 both duplicate that lead.
    assert (real.duplicates_existing, real.duplicates_in_file) == (2, 1)


@pytest.mark.parametrize("batch_size", [1, 2, 4, 1000])
async def test_results_do_not_depend_on_the_batch_size(
    database: MongoDatabase, tmp_path: Path, batch_size: int
) -> None:
    await import_leads(database, write_csv(tmp_path / "before.csv", [ROWS[1]]))
    report = await import_leads(
        database, write_csv(tmp_path / "a.csv", ROWS), batch_size=batch_size
    )
    reasons = {
        q["row"]: [r["code"] for r in q["reasons"]]
        async for q in database["quarantine"].find({"import_id": report.sha256})
    }
    assert reasons[2] == reasons[11] == ["duplicate_existing"]
    assert reasons[3] == ["duplicate_in_file"]
    assert (report.inserted, report.quarantined) == (2, 8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"first_name,mail\nAda,ada@example.com\n", "no email column in the header"),
        (b"email,EMAIL\nada@example.com,x\n", "appears more than once"),
        ("email,first_name\nzoe@example.com,Zoë\n".encode("cp1252"), "is not UTF-8 text"),
        (b"", "is empty: no header row"),
    ],
)
async def test_unusable_file_is_one_error_and_nothing_is_written(
    database: MongoDatabase, tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(LeadFileError, match=message):
        await import_leads(database, path)
    for name in ("leads", "quarantine", "imports"):
        assert await database[name].count_documents({}) == 0


async def test_non_utf8_late_in_the_file_still_writes_nothing(
    database: MongoDatabase, tmp_path: Path
) -> None:
    good = "".join(f"u{i}@example.com\n" for i in range(5000)).encode()
    path = tmp_path / "late.csv"
    path.write_bytes(b"email\n" + good + b"caf\xe9@example.com\n")
    with pytest.raises(LeadFileError, match="line 5002"):
        await import_leads(database, path, batch_size=100)
    assert await database["leads"].count_documents({}) == 0


async def test_batch_size_must_be_positive(database: MongoDatabase, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="batch size"):
        await import_leads(database, write_csv(tmp_path / "a.csv", ROWS), batch_size=0)


async def test_leads_sharing_an_email_are_kept_and_still_block_a_new_copy(
    database: MongoDatabase,
    raw_client: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    # Leads written by another system may repeat an email, in any letter case.
    await raw_client[database.name]["leads"].insert_many(
        [
            {"_id": "1" * 32, "email": "twin@example.com"},
            {"_id": "2" * 32, "email": "Twin@Example.com"},
        ]
    )
    rows = [["Ada", "", "TWIN@example.COM", "", "0", ""], *ROWS]
    report = await import_leads(database, write_csv(tmp_path / "a.csv", rows))
    assert report.duplicates_existing == 1
    assert await database["leads"].count_documents({"email": {"$regex": "(?i)^twin@"}}) == 2
    owner = await database["lead_emails"].find_one({"_id": "twin@example.com"})
    assert owner is not None and owner["lead_id"] == "1" * 32


async def test_mixed_case_duplicates_in_a_file_and_against_stored_leads(
    database: MongoDatabase, tmp_path: Path
) -> None:
    first = [
        ["Ada", "", "Ada.L@Example.com", "", "0", ""],
        ["Ada", "", "ada.l@example.com", "", "0", ""],
        ["Ada", "", " ADA.L@EXAMPLE.COM ", "", "0", ""],
    ]
    report = await import_leads(database, write_csv(tmp_path / "a.csv", first))
    assert (report.inserted, report.duplicates_in_file) == (1, 2)
    stored = await database["leads"].find_one({})
    assert stored is not None and stored["email"] == "Ada.L@example.com"  # as written
    again = await import_leads(
        database, write_csv(tmp_path / "b.csv", [["A", "", "ada.l@EXAMPLE.com", "", "0", ""]])
    )
    assert (again.inserted, again.duplicates_existing) == (0, 1)
    assert await database["leads"].count_documents({}) == 1


async def test_a_claim_whose_lead_was_deleted_is_taken_over(
    database: MongoDatabase, tmp_path: Path
) -> None:
    row = [["Ada", "", "gone@example.com", "", "0", ""]]
    await import_leads(database, write_csv(tmp_path / "a.csv", row))
    await database["leads"].delete_many({})
    report = await import_leads(database, write_csv(tmp_path / "b.csv", [*row, ["B", *row[0][1:]]]))
    assert report.inserted == 1
    lead = await database["leads"].find_one({})
    owner = await database["lead_emails"].find_one({"_id": "gone@example.com"})
    assert lead is not None and owner is not None and owner["lead_id"] == lead["_id"]


class Interrupted(Exception):
    pass


async def test_an_interrupted_import_resumes_without_duplicates(
    database: MongoDatabase, mongo_uri: str, tmp_path: Path
) -> None:
    rows = [
        [f"N{i}", "", f"u{i % 37}@example.com" if i % 11 else "broken", "", str(i % 3), ""]
        for i in range(200)
    ]
    path = write_csv(tmp_path / "big.csv", rows)

    # The reference: the same file imported in one go into another database.
    reference_db = unique_db_name()
    async with connect(mongo_uri, reference_db) as other:
        try:
            reference = await import_leads(other, path, batch_size=10)
            reference_leads = await docs(other, "leads", _id=1)
            reference_quarantine = {q["_id"]: q["reasons"] async for q in other.quarantine.find()}
        finally:
            await other.client.drop_database(reference_db)

    def stop_at(rows: int) -> Callable[[int, int], None]:
        def progress(done: int, _total: int) -> None:
            if done >= rows:
                raise Interrupted

        return progress

    imports = database["imports"]
    # Stopped after two batches were checkpointed ...
    with pytest.raises(Interrupted):
        await import_leads(database, path, batch_size=10, on_progress=stop_at(20))
    after_two = await imports.find_one({})
    assert after_two is not None
    assert (after_two["status"], after_two["rows_done"]) == ("running", 20)
    # ... then a run that wrote a third batch and died before its checkpoint was kept.
    with pytest.raises(Interrupted):
        await import_leads(database, path, batch_size=10, on_progress=stop_at(30))
    await imports.replace_one({"_id": after_two["_id"]}, after_two)

    resumed = await import_leads(database, path, batch_size=7)
    assert resumed.resumed_from_row == 20
    assert counts(resumed) == counts(reference)
    assert await docs(database, "leads", _id=1) == reference_leads
    assert {
        q["_id"]: q["reasons"] async for q in database.quarantine.find()
    } == reference_quarantine
    record = await database["imports"].find_one({})
    assert record is not None
    assert record["status"] == "complete"
    assert (await import_leads(database, path)).already_imported


async def test_register_emails_reports_shared_keys_and_drops_the_old_unique_index(
    database: MongoDatabase,
) -> None:
    leads = database["leads"]
    await leads.create_index(
        "email",
        name=EMAIL_UNIQUE_INDEX,
        unique=True,
        partialFilterExpression={"email": {"$type": "string"}},
    )
    await leads.insert_many(
        [
            {"_id": "1" * 32, "email": None},
            {"_id": "3" * 32},
            {"_id": "5" * 32, "email": "one@example.com"},
        ]
    )
    shared = await register_emails(database)
    assert shared.emails == 0
    await leads.insert_one({"_id": "6" * 32, "email": "ONE@example.com "})  # no index refuses it
    shared = await register_emails(database)
    assert (shared.emails, shared.leads) == (1, 2)
    assert shared.examples == [{"email": "one@example.com", "lead_ids": ["5" * 32, "6" * 32]}]
    assert await register_emails(database) == shared  # idempotent
    indexes = {index["name"] async for index in await leads.list_indexes()}
    assert EMAIL_UNIQUE_INDEX not in indexes
    assert await database["lead_emails"].count_documents({}) == 1
