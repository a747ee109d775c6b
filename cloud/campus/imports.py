"""Excel import of registrants and vehicles: templates, row validation, the import itself, results.

A file that cannot be read as a spreadsheet (or breaks the size limits, or lacks the template's
columns) fails as a whole and imports nothing. Otherwise every row is validated; the good rows
are imported in one transaction and published to the campuses, the bad ones are kept with a
reason (row, column, message) in a rejects workbook the admin downloads from the results list.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from tortoise.transactions import in_transaction

from cloud import i18n
from cloud.auth import Principal
from cloud.campus import texts_registrants as _texts  # noqa: F401 - registers the texts
from cloud.campus.identities import enabled_kinds
from cloud.campus.models import (
    IdentityKind,
    IdentityType,
    ImportJob,
    ImportKind,
    ImportState,
    OwnerRelation,
    Registrant,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.campus.publish import sync_registrants, sync_vehicle
from cloud.campus.registrant_schemas import (
    ImportJobFilter,
    ImportJobOut,
    check_id_card_tail,
    check_mobile,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import NotFound
from cloud.org.models import Department
from cloud.org.schemas import field_error
from cloud.org.service import audit, get_owned, scoped
from protocols.plates import is_valid_plate, normalize_plate

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
TEMPLATE_ROWS = MAX_ROWS + 1  # data validation lists reach this far down
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REASON_HEADER = "错误原因"

# The labels a spreadsheet uses for enum values (the template's drop-down lists).
KIND_LABELS: dict[str, IdentityKind] = {
    "学生": IdentityKind.student,
    "教师": IdentityKind.teacher,
    "第三方服务人员": IdentityKind.staff,
    "居民": IdentityKind.resident,
}
VEHICLE_LABELS: dict[str, VehicleKind] = {
    "机动车": VehicleKind.motor,
    "电动自行车": VehicleKind.ebike,
}
RELATION_LABELS: dict[str, OwnerRelation] = {
    "本人": OwnerRelation.self,
    "配偶": OwnerRelation.spouse,
    "父母": OwnerRelation.parent,
    "子女": OwnerRelation.child,
    "亲属": OwnerRelation.relative,
    "其他": OwnerRelation.other,
}


class ImportFileError(Exception):
    """The file as a whole cannot be imported; `key` (a translation key) and `params` say why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Column:
    name: str  # field of the row model
    header: str  # the template's Chinese header (without the required mark)
    required: bool = False
    choices: tuple[str, ...] = ()  # drop-down list in the template
    example: str = ""
    width: int = 16


@dataclass(frozen=True)
class Sheet:
    kind: ImportKind
    title: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def headers(self) -> list[str]:
        return [c.header + ("*" if c.required else "") for c in self.columns]

    def example(self) -> list[str]:
        return [c.example for c in self.columns]


REGISTRANT_SHEET = Sheet(
    ImportKind.registrants,
    "备案人",
    (
        Column("kind", "身份", True, tuple(KIND_LABELS), "教师", 12),
        Column("identity_type", "身份类型", example="", width=14),
        Column("name", "姓名", True, example="张三", width=12),
        Column("number", "学号/工号", True, example="T2024001"),
        Column("id_card_tail", "身份证后六位", example="12345X", width=14),
        Column("phone", "手机号", example="13800000000", width=14),
        Column("department", "部门", example=""),
        Column("unit", "单位/被分管部门", example="", width=20),
    ),
    (
        "带 * 的列必填；身份从下拉列表选择：学生、教师、第三方服务人员、居民。",
        "身份类型、部门须与系统中已建的名称一致（可留空）。",
        "学号/工号在同一身份下不能重复；手机号为 11 位手机号码；身份证后六位为 5 位数字加 1 位数字或 X。",
        "导入成功的备案人没有出入规则：全部校区的全部校门均不允许出入，请之后在“出入规则”中设置。",
        "第 2 行为示例，原样保留时导入会跳过它；每次最多 20000 行、文件不超过 5 MB。",
    ),
)
VEHICLE_SHEET = Sheet(
    ImportKind.vehicles,
    "车辆",
    (
        Column("kind", "车辆类型", True, tuple(VEHICLE_LABELS), "机动车", 12),
        Column("plate", "号牌号码", True, example="京A12345", width=14),
        Column("owner_name", "车辆所有人", example="张三", width=12),
        Column("relation", "与车主关系", False, tuple(RELATION_LABELS), "本人", 12),
        Column("registrant_number", "备案人学号/工号", True, example="T2024001", width=18),
        Column("registrant_kind", "备案人身份", True, tuple(KIND_LABELS), "教师", 12),
        Column("valid_until", "有效期至", example="", width=14),
    ),
    (
        "带 * 的列必填；车辆类型、与车主关系、备案人身份从下拉列表选择（与车主关系留空为本人）。",
        "机动车号牌须为有效车牌，如 京A12345；电动自行车号牌或车架号 1-16 个字符。",
        "备案人须已存在（按学号/工号和身份查找）；有效期至仅限电动自行车，格式 2025-12-31，留空为长期有效。",
        "导入的车辆直接为“已通过”备案状态，审核人为导入人。",
        "第 2 行为示例，原样保留时导入会跳过它；每次最多 20000 行、文件不超过 5 MB。",
    ),
)
SHEETS = {ImportKind.registrants: REGISTRANT_SHEET, ImportKind.vehicles: VEHICLE_SHEET}


# --- templates -------------------------------------------------------------------------------


def template(kind: ImportKind) -> bytes:
    """The import template: Chinese headers, an example row, drop-down lists, a notes sheet."""
    sheet = SHEETS[kind]
    book = Workbook()
    data = book.active
    assert data is not None
    data.title = sheet.title
    data.append(sheet.headers())
    data.append(sheet.example())
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for index, column in enumerate(sheet.columns, start=1):
        cell = data.cell(row=1, column=index)
        cell.font = bold
        if column.required:
            cell.fill = fill
        letter = cell.column_letter
        data.column_dimensions[letter].width = column.width
        # Text cells, so numbers keep their leading zeros and phones do not turn into 1.38E+10.
        for row in range(2, 3):
            data.cell(row=row, column=index).number_format = "@"
        if column.choices:
            rule = DataValidation(
                type="list",
                formula1='"' + ",".join(column.choices) + '"',
                allow_blank=not column.required,
                showErrorMessage=True,
                errorTitle=column.header,
                error="请从下拉列表中选择",
            )
            rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            data.add_data_validation(rule)
    data.freeze_panes = "A2"
    notes = book.create_sheet("填写说明")
    for line in sheet.notes:
        notes.append([line])
    notes.column_dimensions["A"].width = 100
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_filename(kind: ImportKind) -> str:
    return f"{kind.value}-template.xlsx"


# --- reading a workbook --------------------------------------------------------------------------


def _cell_text(value: Any) -> Any:
    """A cell as the row models read it: text stripped, whole floats as integers, dates kept."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return str(value).strip()


@dataclass
class SheetRows:
    headers: list[str]  # as found in the file
    rows: list[tuple[int, list[Any]]]  # (Excel row number, raw values in template column order)
    raw: dict[int, list[Any]]  # Excel row number -> every cell of the row as found


def _header_key(text: Any) -> str:
    return re.sub(r"[\s*＊]", "", str(text or ""))


def read_rows(data: bytes, sheet: Sheet) -> SheetRows:
    """The data rows of an uploaded workbook, in template column order; blank rows and an
    untouched example row are skipped. Raises ImportFileError for a file that cannot be imported."""
    if not data:
        raise ImportFileError("imports.error.empty_file")
    if len(data) > MAX_BYTES:
        raise ImportFileError("imports.error.too_large", mb=MAX_BYTES // (1024 * 1024))
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportFileError("imports.error.not_xlsx")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise ImportFileError("imports.error.not_xlsx") from exc
    try:
        work = book.worksheets[0] if book.worksheets else None
        if work is None:
            raise ImportFileError("imports.error.no_header")
        lines = work.iter_rows(values_only=True)
        try:
            header = list(next(lines))
        except StopIteration:
            raise ImportFileError("imports.error.no_header") from None
        found = [_header_key(h) for h in header]
        positions: list[int] = []
        missing: list[str] = []
        for column in sheet.columns:
            if column.header in found:
                positions.append(found.index(column.header))
            else:
                missing.append(column.header)
        if missing:
            raise ImportFileError("imports.error.columns", columns="、".join(missing))
        example = sheet.example()
        rows: list[tuple[int, list[Any]]] = []
        raw: dict[int, list[Any]] = {}
        for number, line in enumerate(lines, start=2):
            cells = list(line)
            if all(_cell_text(c) == "" for c in cells):
                continue
            values = [_cell_text(cells[p]) if p < len(cells) else "" for p in positions]
            if number == 2 and [str(v) for v in values] == example:
                continue  # the template's example row, left as it was
            if len(rows) >= MAX_ROWS:
                raise ImportFileError("imports.error.too_many_rows", rows=MAX_ROWS)
            rows.append((number, values))
            raw[number] = cells
    except ImportFileError:
        raise
    except Exception as exc:  # a sheet that breaks half-way through reading
        raise ImportFileError("imports.error.not_xlsx") from exc
    finally:
        book.close()
    if not rows:
        raise ImportFileError("imports.error.no_rows")
    return SheetRows(headers=[str(h) if h is not None else "" for h in header], rows=rows, raw=raw)


# --- row models (pure: no database) ----------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


def _required(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("error.required")
    return text


def _max(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError("imports.error.too_long")
    return text


def _label(mapping: dict[str, Any], value: Any, key: str) -> Any:
    text = str(value).strip()
    if not text:
        raise ValueError("error.required")
    if text not in mapping:
        raise ValueError(key)
    return mapping[text]


class RegistrantRow(_Row):
    """One registrant row of the template, checked for what needs no database."""

    kind: IdentityKind
    identity_type: str = ""
    name: str
    number: str
    id_card_tail: str = ""
    phone: str = ""
    department: str = ""
    unit: str = ""

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> IdentityKind:
        result: IdentityKind = _label(KIND_LABELS, value, "imports.error.kind_label")
        return result

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return _max(_required(value), 64)

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> str:
        text = _max(_required(value), 32)
        if re.search(r"\s", text):
            raise ValueError("imports.error.number_space")
        return text

    @field_validator("identity_type", "department", mode="before")
    @classmethod
    def _short(cls, value: Any) -> str:
        return _max(str(value).strip(), 64)

    @field_validator("unit", mode="before")
    @classmethod
    def _unit(cls, value: Any) -> str:
        return _max(str(value).strip(), 128)

    @field_validator("id_card_tail", mode="before")
    @classmethod
    def _tail(cls, value: Any) -> str:
        return check_id_card_tail(str(value))

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> str:
        return check_mobile(str(value))


class VehicleRow(_Row):
    """One vehicle row of the template, checked for what needs no database."""

    kind: VehicleKind
    plate: str
    owner_name: str = ""
    relation: OwnerRelation = OwnerRelation.self
    registrant_number: str
    registrant_kind: IdentityKind
    valid_until: date | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> VehicleKind:
        result: VehicleKind = _label(VEHICLE_LABELS, value, "imports.error.vehicle_label")
        return result

    @field_validator("registrant_kind", mode="before")
    @classmethod
    def _registrant_kind(cls, value: Any) -> IdentityKind:
        result: IdentityKind = _label(KIND_LABELS, value, "imports.error.kind_label")
        return result

    @field_validator("relation", mode="before")
    @classmethod
    def _relation(cls, value: Any) -> OwnerRelation:
        if not str(value).strip():
            return OwnerRelation.self
        result: OwnerRelation = _label(RELATION_LABELS, value, "imports.error.relation_label")
        return result

    @field_validator("plate", mode="before")
    @classmethod
    def _plate(cls, value: Any) -> str:
        return _required(value)

    @field_validator("owner_name", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> str:
        return _max(str(value).strip(), 64)

    @field_validator("registrant_number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> str:
        return _max(_required(value), 32)

    @field_validator("valid_until", mode="before")
    @classmethod
    def _date(cls, value: Any) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = str(value).strip()
        if not text:
            return None
        match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
        if match is None:
            raise ValueError("imports.error.date")
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise ValueError("imports.error.date") from None

    @model_validator(mode="after")
    def _plate_by_kind(self) -> VehicleRow:
        if self.kind == VehicleKind.motor:
            plate = normalize_plate(self.plate)
            if not is_valid_plate(plate):
                raise field_error("plate", "error.plate_invalid")
            self.plate = plate
            if self.valid_until is not None:
                raise field_error("valid_until", "imports.error.motor_validity")
        elif len(self.plate) > 16:
            raise field_error("plate", "imports.error.ebike_plate")
        return self


Problem = tuple[str, str]  # (field, translation key)


def row_problems(exc: ValidationError) -> list[Problem]:
    """Each failing field once, with the translation key of why."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "field_error":
            ctx = error.get("ctx", {})
            found.setdefault(str(ctx.get("field", name)), str(ctx.get("key", "error.invalid")))
        elif error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", "error.invalid"))
            found.setdefault(name, message if i18n.has(message) else "error.invalid")
        elif error["type"] == "missing":
            found.setdefault(name, "error.required")
        else:
            found.setdefault(name, "error.invalid")
    return list(found.items())


def parse_row(
    model: type[BaseModel], sheet: Sheet, values: Sequence[Any]
) -> tuple[BaseModel | None, list[Problem]]:
    """A row's values (template column order) as the row model, or what is wrong with them."""
    data = {column.name: value for column, value in zip(sheet.columns, values, strict=True)}
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, row_problems(exc)


def reason_text(sheet: Sheet, row_number: int, problems: Iterable[Problem], lang: str) -> str:
    """ "第 5 行 手机号：…；身份：…" in the admin's language."""
    headers = {c.name: c.header for c in sheet.columns}
    parts = [
        i18n.t(
            "imports.reason",
            lang,
            column=headers.get(name, name),
            message=i18n.t(key, lang),
        )
        for name, key in problems
    ]
    return i18n.t("imports.reason_row", lang, row=row_number) + "；".join(parts)


# --- the import ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    imported: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


async def _import_registrants(
    principal: Principal, rows: list[tuple[int, list[Any]]], lang: str
) -> Outcome:
    sheet = REGISTRANT_SHEET
    outcome = Outcome()
    tenant = principal.tenant_id
    open_kinds = await enabled_kinds(tenant)
    types = {(row.kind, row.name): row.id for row in await IdentityType.filter(tenant_id=tenant)}
    departments: dict[str, int] = {}
    for ident, name in await Department.filter(tenant_id=tenant).values_list("id", "name"):
        departments.setdefault(str(name), int(ident))
    taken = {
        (IdentityKind(kind), str(number))
        for kind, number in await Registrant.filter(tenant_id=tenant).values_list("kind", "number")
    }
    seen: dict[tuple[IdentityKind, str], int] = {}
    good: list[Registrant] = []
    for number, values in rows:
        parsed, problems = parse_row(RegistrantRow, sheet, values)
        first = 0
        if isinstance(parsed, RegistrantRow):
            key = (parsed.kind, parsed.number)
            if parsed.kind not in open_kinds:
                problems.append(("kind", "registrants.error.kind_closed"))
            type_id = types.get((parsed.kind, parsed.identity_type))
            if parsed.identity_type and type_id is None:
                problems.append(("identity_type", "imports.error.type_unknown"))
            department_id = departments.get(parsed.department)
            if parsed.department and department_id is None:
                problems.append(("department", "imports.error.department_unknown"))
            if key in taken:
                problems.append(("number", "registrants.error.number_taken"))
            elif key in seen:
                problems.append(("number", "imports.error.number_repeated"))
                first = seen[key]
            else:
                seen[key] = number
        if problems or not isinstance(parsed, RegistrantRow):
            text = reason_text(sheet, number, problems, lang)
            if first:
                text += i18n.t("imports.same_as_row", lang, row=first)
            outcome.rejects.append((number, text))
            continue
        good.append(
            Registrant(
                tenant_id=tenant,
                kind=parsed.kind,
                identity_type_id=type_id,
                name=parsed.name,
                number=parsed.number,
                id_card_tail=parsed.id_card_tail,
                phone=parsed.phone,
                department_id=department_id,
                unit=parsed.unit,
                operator=principal.account,
            )
        )
    if good:
        await Registrant.bulk_create(good, batch_size=500)
        for kind in {r.kind for r in good}:
            numbers = [r.number for r in good if r.kind == kind]
            for start in range(0, len(numbers), 500):
                created = await Registrant.filter(
                    tenant_id=tenant, kind=kind, number__in=numbers[start : start + 500]
                )
                # No rules: every campus knows them, no gate lets them through yet.
                await sync_registrants(list(created))
    outcome.imported = len(good)
    return outcome


async def _import_vehicles(
    principal: Principal, rows: list[tuple[int, list[Any]]], lang: str
) -> Outcome:
    sheet = VEHICLE_SHEET
    outcome = Outcome()
    tenant = principal.tenant_id
    owners = {
        (IdentityKind(kind), str(number)): int(ident)
        for ident, kind, number in await Registrant.filter(tenant_id=tenant).values_list(
            "id", "kind", "number"
        )
    }
    taken = {
        (VehicleKind(kind), str(plate))
        for kind, plate in await Vehicle.filter(tenant_id=tenant).values_list("kind", "plate")
    }
    seen: dict[tuple[VehicleKind, str], int] = {}
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    good: list[Vehicle] = []
    for number, values in rows:
        parsed, problems = parse_row(VehicleRow, sheet, values)
        first = 0
        if isinstance(parsed, VehicleRow):
            owner = owners.get((parsed.registrant_kind, parsed.registrant_number))
            if owner is None:
                problems.append(("registrant_number", "imports.error.registrant_unknown"))
            if parsed.valid_until is not None and parsed.valid_until < today:
                problems.append(("valid_until", "imports.error.date_past"))
            key = (parsed.kind, parsed.plate)
            if key in taken:
                problems.append(("plate", "imports.error.plate_taken"))
            elif key in seen:
                problems.append(("plate", "imports.error.plate_repeated"))
                first = seen[key]
            else:
                seen[key] = number
        if problems or not isinstance(parsed, VehicleRow):
            text = reason_text(sheet, number, problems, lang)
            if first:
                text += i18n.t("imports.same_as_row", lang, row=first)
            outcome.rejects.append((number, text))
            continue
        good.append(
            Vehicle(
                tenant_id=tenant,
                registrant_id=owner,
                kind=parsed.kind,
                plate=parsed.plate,
                owner_name=parsed.owner_name,
                relation=parsed.relation,
                status=ReviewStatus.approved,
                valid_until=parsed.valid_until,
                reviewed_at=now,
                reviewer=principal.account,
            )
        )
    if good:
        await Vehicle.bulk_create(good, batch_size=500)
        for kind in {v.kind for v in good}:
            plates = [v.plate for v in good if v.kind == kind]
            for start in range(0, len(plates), 500):
                for vehicle in await Vehicle.filter(
                    tenant_id=tenant, kind=kind, plate__in=plates[start : start + 500]
                ):
                    await sync_vehicle(vehicle)
    outcome.imported = len(good)
    return outcome


IMPORTERS: dict[ImportKind, Callable[..., Any]] = {
    ImportKind.registrants: _import_registrants,
    ImportKind.vehicles: _import_vehicles,
}


def rejects_workbook(found: SheetRows, rejects: list[tuple[int, str]]) -> bytes:
    """The rejected rows as the file had them, with the reason in a last column."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("问题数据")
    sheet.append([*found.headers, REASON_HEADER])
    width = len(found.headers)
    for number, reason in rejects:
        cells = list(found.raw.get(number, []))[:width]
        cells += [None] * (width - len(cells))
        sheet.append([*cells, reason])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _job_out(row: ImportJob) -> ImportJobOut:
    return ImportJobOut(
        id=row.id,
        kind=row.kind,
        filename=row.filename,
        state=row.state,
        total=row.total,
        imported=row.imported,
        rejected=row.rejected,
        error=row.error,
        has_rejects=row.rejects is not None and row.rejected > 0,
        operator=row.operator,
        created_at=row.created_at,
    )


async def _record(
    principal: Principal, kind: ImportKind, filename: str, **values: Any
) -> ImportJob:
    job = await ImportJob.create(
        tenant_id=principal.tenant_id,
        kind=kind,
        filename=filename[:255],
        operator=principal.account,
        **values,
    )
    await audit(
        principal,
        "import",
        "import",
        job.id,
        {
            name: {"from": None, "to": values.get(name)}
            for name in ("total", "imported", "rejected", "error")
            if values.get(name) not in (None, "")
        }
        | {"kind": {"from": None, "to": kind.value}, "filename": {"from": None, "to": filename}},
    )
    return job


def clean_filename(name: str) -> str:
    """The file's own name (no folders); some clients send it percent-encoded."""
    base = re.split(r"[\\/]", unquote(name or ""))[-1].strip()
    return base or "upload.xlsx"


async def run_import(
    principal: Principal, kind: ImportKind, filename: str, data: bytes
) -> ImportJobOut:
    """Import one uploaded workbook; the job it leaves says what happened (never raises for bad
    content: a file that cannot be read leaves a failed job and imports nothing)."""
    lang = principal.language if principal.language in i18n.LANGUAGES else i18n.DEFAULT
    filename = clean_filename(filename)
    sheet = SHEETS[kind]
    try:
        found = read_rows(data, sheet)
    except ImportFileError as exc:
        message = i18n.t(exc.key, lang, **exc.params)[:255]
        async with in_transaction():
            job = await _record(principal, kind, filename, state=ImportState.failed, error=message)
        return _job_out(job)
    async with in_transaction():
        outcome: Outcome = await IMPORTERS[kind](principal, found.rows, lang)
        job = await _record(
            principal,
            kind,
            filename,
            state=ImportState.done,
            total=len(found.rows),
            imported=outcome.imported,
            rejected=len(outcome.rejects),
            rejects=rejects_workbook(found, outcome.rejects) if outcome.rejects else None,
        )
    return _job_out(job)


# --- results -------------------------------------------------------------------------------------


async def list_jobs(
    principal: Principal, f: ImportJobFilter, params: PageParams
) -> Page[ImportJobOut]:
    query = where_given(scoped(ImportJob, principal), f, "kind", "state")
    return await paginate(
        query.only(
            "id", "tenant_id", "kind", "filename", "state", "total", "imported", "rejected",
            "error", "operator", "created_at",
        ),
        params,
        sorts={"created_at": "created_at"},
        default_sort="-created_at",
        convert=_job_out_light,
    )  # fmt: skip


def _job_out_light(row: ImportJob) -> ImportJobOut:
    """A list row without loading the rejects workbook: it exists when rows were rejected."""
    return ImportJobOut(
        id=row.id,
        kind=row.kind,
        filename=row.filename,
        state=row.state,
        total=row.total,
        imported=row.imported,
        rejected=row.rejected,
        error=row.error,
        has_rejects=row.state == ImportState.done and row.rejected > 0,
        operator=row.operator,
        created_at=row.created_at,
    )


async def get_job(principal: Principal, ident: int) -> ImportJobOut:
    return _job_out(await get_owned(ImportJob, principal, ident, "import"))


async def job_rejects(principal: Principal, ident: int) -> tuple[str, bytes]:
    """(download name, xlsx) of a job's rejected rows; NotFound when it rejected none."""
    job = await get_owned(ImportJob, principal, ident, "import")
    if job.rejects is None:
        raise NotFound("import_rejects", ident)
    stem = job.filename.rsplit(".", 1)[0] or "import"
    return f"{stem}-问题数据.xlsx", bytes(job.rejects)


IMPORT_JOBS = Crud(list=list_jobs, get=get_job)
