"""Import rows without a database: labels, phones, ID tails, plates, dates, and the reasons given."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from cloud.campus.imports import (
    REGISTRANT_SHEET,
    VEHICLE_SHEET,
    ImportFileError,
    RegistrantRow,
    VehicleRow,
    parse_row,
    read_rows,
    reason_text,
    template,
)
from cloud.campus.models import IdentityKind, ImportKind, OwnerRelation, VehicleKind


def _registrant(**changes: object) -> list[object]:
    values: dict[str, object] = {
        "kind": "教师",
        "identity_type": "",
        "name": "张三",
        "number": "T001",
        "id_card_tail": "12345x",
        "phone": "138 0000 0000",
        "department": "",
        "unit": "",
    }
    values.update(changes)
    return [values[c.name] for c in REGISTRANT_SHEET.columns]


def _vehicle(**changes: object) -> list[object]:
    values: dict[str, object] = {
        "kind": "机动车",
        "plate": "京a 12345",
        "owner_name": "张三",
        "relation": "",
        "registrant_number": "T001",
        "registrant_kind": "教师",
        "valid_until": "",
    }
    values.update(changes)
    return [values[c.name] for c in VEHICLE_SHEET.columns]


def test_a_good_registrant_row_is_normalised() -> None:
    row, problems = parse_row(RegistrantRow, REGISTRANT_SHEET, _registrant())
    assert problems == []
    assert isinstance(row, RegistrantRow)
    assert row.kind == IdentityKind.teacher
    assert row.phone == "13800000000" and row.id_card_tail == "12345X"


@pytest.mark.parametrize(
    ("changes", "field", "key"),
    [
        ({"kind": "老师"}, "kind", "imports.error.kind_label"),
        ({"kind": ""}, "kind", "error.required"),
        ({"name": " "}, "name", "error.required"),
        ({"number": "T 01"}, "number", "imports.error.number_space"),
        ({"phone": "1380000000"}, "phone", "registrants.error.phone"),
        ({"phone": "23800000000"}, "phone", "registrants.error.phone"),
        ({"id_card_tail": "1234Y5"}, "id_card_tail", "registrants.error.id_card_tail"),
        ({"id_card_tail": "12345"}, "id_card_tail", "registrants.error.id_card_tail"),
    ],
)
def test_a_bad_registrant_row_names_the_field_and_why(
    changes: dict[str, object], field: str, key: str
) -> None:
    row, problems = parse_row(RegistrantRow, REGISTRANT_SHEET, _registrant(**changes))
    assert row is None
    assert (field, key) in problems


def test_every_bad_field_of_a_row_is_reported_at_once_in_chinese() -> None:
    _, problems = parse_row(
        RegistrantRow, REGISTRANT_SHEET, _registrant(phone="123", id_card_tail="abc")
    )
    text = reason_text(REGISTRANT_SHEET, 7, problems, "zh")
    assert text.startswith("第 7 行")
    assert "手机号：须为 11 位手机号码" in text
    assert "身份证后六位：须为 6 位" in text


def test_motor_plates_are_validated_and_ebike_numbers_are_free_text() -> None:
    row, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle())
    assert problems == [] and isinstance(row, VehicleRow)
    assert row.plate == "京A12345" and row.relation == OwnerRelation.self
    _, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle(plate="ABC"))
    assert ("plate", "error.plate_invalid") in problems
    row, problems = parse_row(
        VehicleRow,
        VEHICLE_SHEET,
        _vehicle(kind="电动自行车", plate="车架 0042", valid_until="2031/1/5"),
    )
    assert problems == [] and isinstance(row, VehicleRow)
    assert row.kind == VehicleKind.ebike and row.valid_until == date(2031, 1, 5)
    _, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle(kind="电动自行车", plate="X" * 17))
    assert ("plate", "imports.error.ebike_plate") in problems


def test_vehicle_rows_refuse_bad_labels_dates_and_a_motor_validity() -> None:
    _, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle(relation="朋友"))
    assert ("relation", "imports.error.relation_label") in problems
    _, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle(kind="电动车"))
    assert ("kind", "imports.error.vehicle_label") in problems
    _, problems = parse_row(
        VehicleRow, VEHICLE_SHEET, _vehicle(kind="电动自行车", plate="A1", valid_until="明年")
    )
    assert ("valid_until", "imports.error.date") in problems
    _, problems = parse_row(VehicleRow, VEHICLE_SHEET, _vehicle(valid_until="2031-01-01"))
    assert ("valid_until", "imports.error.motor_validity") in problems


def _book(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_template_has_chinese_headers_an_example_and_drop_down_lists() -> None:
    book = load_workbook(io.BytesIO(template(ImportKind.registrants)))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["身份*", "身份类型", "姓名*", "学号/工号*"]
    assert sheet["A2"].value == "教师"  # the example row
    lists = [v.formula1 for v in sheet.data_validations.dataValidation]
    assert '"学生,教师,第三方服务人员,居民"' in lists
    vehicles = load_workbook(io.BytesIO(template(ImportKind.vehicles))).worksheets[0]
    formulas = [v.formula1 for v in vehicles.data_validations.dataValidation]
    assert '"机动车,电动自行车"' in formulas and '"本人,配偶,父母,子女,亲属,其他"' in formulas


def test_reading_skips_the_untouched_example_row_and_blank_rows() -> None:
    data = _book(
        [
            REGISTRANT_SHEET.headers(),
            REGISTRANT_SHEET.example(),
            [None] * 8,
            ["学生", "", "李四", "S1", "", "", "", ""],
        ]
    )
    rows = read_rows(data, REGISTRANT_SHEET).rows
    assert [number for number, _ in rows] == [4]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "imports.error.empty_file"),
        (b"name,phone\nzhang,138\n", "imports.error.not_xlsx"),
        (b"PK\x03\x04 not really a zip", "imports.error.not_xlsx"),
    ],
)
def test_unreadable_files_fail_as_a_whole(data: bytes, key: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_rows(data, REGISTRANT_SHEET)
    assert caught.value.key == key


def test_files_without_the_template_columns_or_rows_fail_as_a_whole() -> None:
    with pytest.raises(ImportFileError) as caught:
        read_rows(_book([["姓名", "电话"], ["张三", "138"]]), REGISTRANT_SHEET)
    assert caught.value.key == "imports.error.columns"
    assert "学号/工号" in str(caught.value.params["columns"])
    with pytest.raises(ImportFileError) as caught:
        read_rows(_book([REGISTRANT_SHEET.headers()]), REGISTRANT_SHEET)
    assert caught.value.key == "imports.error.no_rows"
    # The blank template as downloaded: its example row is not data.
    with pytest.raises(ImportFileError) as caught:
        read_rows(template(ImportKind.registrants), REGISTRANT_SHEET)
    assert caught.value.key == "imports.error.no_rows"
