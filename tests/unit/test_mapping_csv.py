"""Reading, cleaning and writing the mapping CSV: the shipped file and crafted bad files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.errors import FieldMapError, InvalidInput
from leadpersona.mapping import FieldMapStore

HEADER = "level,level_name,field_of_study,academic_field\n"


def write(tmp_path: Path, data: bytes, name: str = "map.csv") -> FieldMapStore:
    path = tmp_path / name
    path.write_bytes(data)
    return FieldMapStore(path)


@pytest.fixture
def shipped(tmp_path: Path) -> FieldMapStore:
    return write(tmp_path, packaged_csv_bytes())


def test_report_numbers_on_the_shipped_csv(shipped: FieldMapStore) -> None:
    # These figures are quoted in the README: change both together.
    report = shipped.report()
    assert report.rows_read == 375
    assert report.blank_lines == 0
    assert report.missing_values == {
        "level": 53,
        "level_name": 63,
        "field_of_study": 0,
        "academic_field": 234,
    }
    assert report.rows_removed == {"blank_key": 0, "malformed": 1, "duplicate": 2}
    assert report.conflicts == []
    assert report.fields_of_study_before == 373
    assert report.fields_of_study_after == 372
    assert report.academic_fields_before == 35
    assert report.academic_fields_after == 31
    assert report.labelled_before == 141
    assert report.labelled_after == 140
    assert report.mapping_ratio_before == 0.378
    assert report.mapping_ratio_after == 0.3763
    assert report.label_distribution["business management"] == 20
    assert report.label_distribution["human resources"] == 7  # "Human Resources" merged
    assert sum(report.label_distribution.values()) == 140
    malformed = [row for row in report.removed if row.reason == "malformed"]
    assert [(row.line, row.field_of_study) for row in malformed] == [
        (98, "B.S., Business Administration")
    ]


def test_shipped_csv_lookups(shipped: FieldMapStore) -> None:
    field_map = shipped.load()
    assert len(field_map.version) == 12
    acma = field_map.lookup("acma,  management accounting")
    assert (acma.academic_field, acma.source, acma.confidence) == ("accounting", "mapping", 1.0)
    assert field_map.lookup("architechture").academic_field == "architecture and design"
    hr = field_map.lookup(
        "Bachelor of Business Administration (BBA) (First Class Honours), "
        "Tourism and Hospitality Management, Human Resources Consulting"
    )
    assert hr.academic_field == "human resources" and hr.source == "mapping"
    # The malformed row is not trusted: "B.S." gets no curated label.
    assert field_map.lookup("B.S.").source != "mapping"
    assert field_map.is_known("B.S., Business Administration")
    assert field_map.is_known("A Level")
    assert not field_map.is_known("Génie civil")
    assert "human resources" in field_map.labels
    assert "Human Resources" not in field_map.labels


def test_bom_blank_lines_nan_tokens_and_multiline_cells(tmp_path: Path) -> None:
    data = (
        "\ufeff" + HEADER + "\n"
        ",,Accounting,Accounting\n"
        "   \n"
        ',,"Business\nAdministration",nan\n'
        ",,Marketing,  N/A \n"
        ",,nan,marketing\n"
        ",,   ,marketing\n"
    ).encode()
    store = write(tmp_path, data)
    report = store.report()
    assert report.encoding == "utf-8-sig"
    assert report.blank_lines == 2
    assert report.rows_read == 5
    assert report.rows_removed["blank_key"] == 2
    assert report.missing_values["academic_field"] == 2
    field_map = store.load()
    assert field_map.is_known("business administration")
    assert field_map.lookup("Accounting").source == "mapping"
    assert field_map.lookup("Marketing").source != "mapping"


def test_unquoted_comma_rows_are_reported_not_trusted(tmp_path: Path) -> None:
    data = (
        HEADER + "bachelor,bachelor,B.S., Business Administration\n"
        "bachelor,bachelor,B.A., History,history\n"
        ",,History,history\n"
    ).encode()
    store = write(tmp_path, data)
    report = store.report()
    assert report.rows_removed["malformed"] == 2
    details = {row.line: row.detail for row in report.removed}
    assert "unquoted comma" in details[2]
    assert "5 cells" in details[3]
    field_map = store.load()
    assert field_map.lookup("B.S.").source is None
    assert field_map.lookup("B.A.").source is None
    assert field_map.is_known("B.A., History")


def test_duplicates_empty_never_beats_curated_and_conflicts_keep_first(tmp_path: Path) -> None:
    data = (
        HEADER + ",,ACMA,\n,,ACMA,Accounting\n,,acma ,\n"
        ",,Law,Law\n,,LAW,political science\n,,Law,law\n"
    ).encode()
    store = write(tmp_path, data)
    report = store.report()
    assert report.rows_removed["duplicate"] == 4
    assert [(c.key, c.kept, c.other, c.lines) for c in report.conflicts] == [
        ("law", "law", "political science", [5, 6])
    ]
    field_map = store.load()
    assert field_map.lookup("Acma").academic_field == "accounting"
    assert field_map.lookup("law").academic_field == "law"


def test_non_utf8_bytes_are_a_clear_error_and_the_file_is_untouched(tmp_path: Path) -> None:
    data = (HEADER + ",,Économie,economics\n").encode("latin-1")
    store = write(tmp_path, data)
    with pytest.raises(FieldMapError, match=r"map\.csv:2: not UTF-8"):
        store.load()
    with pytest.raises(FieldMapError, match="not UTF-8"):
        store.append_unknown(["Something new"])
    with pytest.raises(FieldMapError, match="not UTF-8"):
        store.add("Économie", "economics")
    assert store.path.read_bytes() == data


def test_missing_columns_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FieldMapError, match="missing column"):
        write(tmp_path, b"a,b\n1,2\n").load()
    with pytest.raises(FieldMapError, match="no such file"):
        FieldMapStore(tmp_path / "absent.csv").load()


def test_append_unknown_keeps_every_byte_and_appends_once(shipped: FieldMapStore) -> None:
    before = shipped.path.read_bytes()
    appended = shipped.append_unknown(
        ["Génie civil", "génie  CIVIL", "Accounting", "  ", "nan", "B.S., Business Administration"]
    )
    assert appended == ["Génie civil"]
    after = shipped.path.read_bytes()
    assert after.startswith(before)
    assert after[len(before) :] == ",,Génie civil,\n".encode()
    assert shipped.append_unknown(["Génie Civil"]) == []
    assert shipped.path.read_bytes() == after
    field_map = shipped.load()
    assert field_map.is_known("génie civil")
    # New rows carry no label: lookups stay inferred.
    assert field_map.lookup("Génie civil").source == "inferred"
    assert shipped.report().rows_read == 376


def test_append_to_a_file_without_final_newline_keeps_crlf(tmp_path: Path) -> None:
    store = write(tmp_path, b"field_of_study,academic_field\r\nLaw,law")
    assert store.append_unknown(['Droit, "des affaires"']) == ['Droit, "des affaires"']
    assert store.path.read_bytes() == (
        b'field_of_study,academic_field\r\nLaw,law\r\n"Droit, ""des affaires""",\r\n'
    )
    assert store.load().is_known('droit, "des affaires"')


def test_add_updates_every_duplicate_and_keeps_other_rows(tmp_path: Path) -> None:
    data = (
        HEADER + 'x,y,"ACMA, Management",\n,,Law,law\n,,acma,\n,,"ACMA, Management",\n'
    ).encode()
    store = write(tmp_path, data)
    store.add("acma, management", "Accounting ")
    text = store.path.read_text()
    assert text.splitlines() == [
        HEADER.strip(),
        'x,y,"ACMA, Management",accounting',
        ",,Law,law",
        ",,acma,",
        ',,"ACMA, Management",accounting',
    ]
    store.add("Brand New Field", "Marketing")
    assert store.path.read_text().endswith(",,Brand New Field,marketing\n")
    result = store.load().lookup("brand new field")
    assert (result.academic_field, result.source) == ("marketing", "mapping")
    with pytest.raises(InvalidInput):
        store.add("  ", "marketing")
    with pytest.raises(InvalidInput):
        store.add("Something", "nan")


def test_load_is_cached_until_the_file_changes(shipped: FieldMapStore) -> None:
    first = shipped.load()
    assert shipped.load() is first
    shipped.add("A Level", "history")
    second = shipped.load()
    assert second is not first
    assert second.version != first.version
    assert second.lookup("A Level").source == "mapping"
    assert first.lookup("A Level").source is None  # the old snapshot did not change


def test_accepted_suggestions_are_recorded_and_stay_inferred(tmp_path: Path) -> None:
    data = (
        HEADER + ",,Accounting,accounting\n,,Marketing,marketing\n"
        ",,Comptabilité,\n,,Lycée Henri IV,\n"
    ).encode()
    store = write(tmp_path, data)
    suggestions = store.load().suggestions()
    assert [(s.field_of_study, s.academic_field) for s in suggestions] == [
        ("Comptabilité", "accounting")
    ]
    applied = store.accept_suggestions(0.5)
    assert [s.applied for s in applied] == [True]
    assert ",,Comptabilité,accounting\n" in store.path.read_text()
    assert "Comptabilité,accounting," in store.accepted_path.read_text()
    field_map = store.load()
    result = field_map.lookup("comptabilite ".replace("e ", "é"))
    assert (result.academic_field, result.source) == ("accounting", "inferred")
    assert result.confidence is not None and result.confidence < 1.0
    assert field_map.report.accepted_suggestions == 1
    assert field_map.report.curated_labels == 2
    # Accepted labels do not train the classifier; curating one makes it a mapping.
    assert "comptabilité" not in field_map.curated()
    store.add("Comptabilité", "accounting")
    assert store.load().lookup("Comptabilité").source == "mapping"
    assert "Comptabilité" not in store.accepted_path.read_text()
    assert store.accept_suggestions(0.5) == []


def test_working_copies_made_at_once_are_whole_and_leave_no_temp_files(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from leadpersona.adapters.field_map_csv import ensure_working_copy, packaged_csv_bytes

    target = tmp_path / "maps" / "field_map.csv"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: ensure_working_copy(target), range(16)))
    assert results == [target] * 16
    assert target.read_bytes() == packaged_csv_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["field_map.csv"]
    grown = packaged_csv_bytes() + b"extra,row\n"
    target.write_bytes(grown)
    ensure_working_copy(target)
    assert target.read_bytes() == grown


def test_writers_creating_the_working_copy_at_once_use_their_own_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadpersona.adapters.field_map_csv as module

    target = tmp_path / "map" / "fields.csv"
    copy = shutil.copyfile
    interleaved: list[Path] = []

    def copy_while_another_writer_runs(source: Any, destination: Any) -> Any:
        result = copy(source, destination)
        if not interleaved:  # a second process copies and moves its file in meanwhile
            interleaved.append(tmp_path)
            interleaved[0] = module.ensure_working_copy(target)
        return result

    monkeypatch.setattr(module.shutil, "copyfile", copy_while_another_writer_runs)
    assert module.ensure_working_copy(target) == target
    assert interleaved == [target]
    assert target.read_bytes() == packaged_csv_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["fields.csv"]
