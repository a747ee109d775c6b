"""Tariff admin pages (计费规则, 3.2.7): the list with filters and Excel export; create and edit
with a uniform price or an editable time-of-use period table (yuan with two decimals, kept as
fen); enable, disable, delete; the detail with every version; and the billing test (计费测试).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from cloud import ui
from cloud.auth import SETTINGS_KEY, principal_of, require
from cloud.charging import tariffs as service
from cloud.charging import texts_tariffs  # noqa: F401 - registers this module's texts
from cloud.charging.models import TariffMode
from cloud.charging.tariff_schemas import BillOut, BillTestIn, TariffFilter, TariffIn, TariffOut
from cloud.errors import Conflict, Invalid, NotFound
from cloud.ui import Column, Filter, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display, fen_of, input_time, parse_local
from cloud.ui.views import (
    _crumbs,
    action_view,
    error_text,
    export_view,
    list_view,
    validation_errors,
)
from protocols.tariffs import Period

GROUP = "menu.group.charging"
PATH = "/charging/tariffs"
VIEW, EDIT = "charging.view", "charging.edit"
MODES = ui.enum_choices(TariffMode, "tariffs.mode.")
PERIODS = [(p.value, f"tariffs.period.{p.value}") for p in Period]
# Half hours of the day; an end may be 24:00 (midnight at the end of the day).
STARTS = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60, 30)]
ENDS = [*STARTS[1:], "24:00"]
MIN_ROWS = 8
MAX_ROWS = 48
# Form input name -> schema field, and back (errors are shown beside the inputs).
FORM_FIELD = {
    "electricity": "electricity_fen",
    "service": "service_fen",
    "prepay": "prepay_options_fen",
}
SCHEMA_FIELD = {schema: form for form, schema in FORM_FIELD.items()}

TARIFFS_PAGE = Resource(
    name="charging_tariffs",
    path=PATH,
    title="tariffs.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=40,
    columns=(
        Column("station_name", "tariffs.field.station", sort="station"),
        Column("area_name", "tariffs.field.area"),
        Column("name", "tariffs.field.name", sort="name", link=True),
        Column("mode", "tariffs.field.mode", kind="enum", prefix="tariffs.mode."),
        Column("prices", "tariffs.field.prices"),
        Column("prepay", "tariffs.field.prepay"),
        Column("effective_from", "tariffs.field.effective_from"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("updated_at", "tariffs.field.updated_at", sort="updated_at", kind="datetime"),
    ),
    filter_model=TariffFilter,
    filters=(
        Filter("station", "tariffs.field.station"),
        Filter("area_id", "tariffs.field.area", "select", ui.service_choices(service.area_choices)),
        Filter("name", "tariffs.field.name"),
        Filter("mode", "tariffs.field.mode", "select", MODES),
        Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES),
    ),
    create_model=TariffIn,
    update_model=TariffIn,
    crud=service.TARIFFS,
    label_of=lambda row: row.name,
)


def _ident(request: web.Request) -> int:
    return int(request.match_info["id"])


# --- list ---------------------------------------------------------------------------------------


tariff_list = list_view(TARIFFS_PAGE, "charging/tariffs/list.html")


# --- the form -----------------------------------------------------------------------------------


def _clock(text: str) -> time:
    if text == "24:00":
        return time(0)
    if text not in STARTS:
        raise ValueError(text)
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _text(value: time, end: bool = False) -> str:
    text = value.strftime("%H:%M")
    return "24:00" if end and text == "00:00" else text


def _read_form(
    form: Mapping[str, Any], fixed_station: int | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(schema data, errors by form field, values to show again) of a posted tariff form."""
    shown: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("station_id", "area_id", "name", "mode", "electricity", "service", "prepay")
    }
    if fixed_station is not None:
        shown["station_id"] = str(fixed_station)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "station_id": shown["station_id"] or None,
        "area_id": shown["area_id"] or None,
        "name": shown["name"],
        "mode": shown["mode"] or None,
    }
    if shown["mode"] == TariffMode.uniform.value:
        for name in ("electricity", "service"):
            if shown[name]:
                try:
                    data[FORM_FIELD[name]] = fen_of(shown[name], most_yuan=1000)
                except ValueError:
                    errors[name] = "tariffs.error.money"
    rows: list[dict[str, str]] = []
    periods: list[dict[str, Any]] = []
    for index in range(MAX_ROWS):
        if f"period_{index}" not in form:
            break
        row = {
            key: str(form.get(f"{key}_{index}", "")).strip()
            for key in ("period", "start", "end", "electricity", "service")
        }
        rows.append(row)
        if not any(row[key] for key in ("start", "end", "electricity", "service")):
            continue  # a blank row
        if shown["mode"] != TariffMode.time_of_use.value:
            continue
        try:
            periods.append(
                {
                    "period": row["period"],
                    "start": _clock(row["start"]),
                    "end": _clock(row["end"]),
                    "electricity_fen": fen_of(row["electricity"], most_yuan=1000),
                    "service_fen": fen_of(row["service"], most_yuan=1000),
                }
            )
        except ValueError:
            errors["periods"] = f"{index + 1}: " + (
                "tariffs.error.time" if not (row["start"] and row["end"]) else "tariffs.error.money"
            )
    if shown["mode"] == TariffMode.time_of_use.value:
        data["periods"] = periods
    shown["rows"] = rows
    prepay = [p for p in re.split(r"[,，\s]+", shown["prepay"]) if p]
    try:
        data["prepay_options_fen"] = [fen_of(p, most_yuan=1000) for p in prepay]
    except ValueError:
        errors["prepay"] = "tariffs.error.prepay_count"
    return data, errors, shown


def _values_of(row: TariffOut) -> dict[str, Any]:
    return {
        "station_id": str(row.station_id),
        "area_id": str(row.area_id or ""),
        "name": row.name,
        "mode": row.mode.value,
        "electricity": service.yuan(row.electricity_fen) if row.electricity_fen is not None else "",
        "service": service.yuan(row.service_fen) if row.service_fen is not None else "",
        "prepay": ", ".join(service.yuan(f) for f in row.prepay_options_fen),
        "rows": [
            {
                "period": p.period.value,
                "start": _text(p.start),
                "end": _text(p.end, end=True),
                "electricity": service.yuan(p.electricity_fen),
                "service": service.yuan(p.service_fen),
            }
            for p in row.periods
        ],
    }


def _padded(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    blank = {"period": "", "start": "", "end": "", "electricity": "", "service": ""}
    shown = list(rows)
    while len(shown) < max(MIN_ROWS, len(rows) + 2) and len(shown) < MAX_ROWS:
        shown.append(dict(blank))
    return shown


async def _render_form(
    request: web.Request,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    row: TariffOut | None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    lang = ui.language_of(request)
    translated: dict[str, str] = {}
    for key, message in errors.items():
        number, _, rest = message.partition(": ")
        if number.isdigit() and rest:  # a row of the period table
            translated[key] = f"{number}: {error_text(rest, lang)}"
        else:
            translated[key] = error_text(message, lang)
    tomorrow = (datetime.now(service.zone()) + timedelta(days=1)).date()
    return ui.render(
        request,
        "charging/tariffs/form.html",
        {
            "resource": TARIFFS_PAGE,
            "row": row,
            "values": values,
            "rows": _padded(list(values.get("rows", []))),
            "errors": translated,
            "stations": await service.station_choices(principal),
            "areas": await service.area_choices(principal),
            "modes": await MODES(principal, lang),
            "periods": PERIODS,
            "starts": STARTS,
            "ends": ENDS,
            "tomorrow": tomorrow.isoformat(),
            "action": f"{PATH}/new" if row is None else f"{PATH}/{row.id}/edit",
            "crumbs": _crumbs(TARIFFS_PAGE, ("common.new" if row is None else row.name, None)),
        },
        status=status,
    )


@require(EDIT)
async def new_form(request: web.Request) -> web.StreamResponse:
    values = {"mode": TariffMode.uniform.value, "rows": []}
    return await _render_form(request, values=values, errors={}, row=None)


@require(EDIT)
async def edit_form(request: web.Request) -> web.StreamResponse:
    row = await service.get_tariff(principal_of(request), _ident(request))
    return await _render_form(request, values=_values_of(row), errors={}, row=row)


async def _save(request: web.Request, row: TariffOut | None) -> web.StreamResponse:
    principal = principal_of(request)
    form = await request.post()
    data, errors, shown = _read_form(form, row.station_id if row else None)
    if not errors:
        try:
            payload = TariffIn.model_validate(data)
            if row is None:
                await service.create_tariff(principal, payload)
            else:
                await service.update_tariff(principal, row.id, payload)
        except ValidationError as exc:
            errors = {SCHEMA_FIELD.get(k, k): v for k, v in validation_errors(exc).items()}
        except (Invalid, Conflict) as exc:
            errors = {SCHEMA_FIELD.get(exc.field, exc.field): exc.message}
    if errors:
        return await _render_form(request, values=shown, errors=errors, row=row, status=400)
    raise ui.redirect(PATH, "flash.saved")


@require(EDIT)
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@require(EDIT)
async def update(request: web.Request) -> web.StreamResponse:
    # Fetch first: another tenant's id is a 404 before any input is looked at.
    row = await service.get_tariff(principal_of(request), _ident(request))
    return await _save(request, row)


# --- detail -------------------------------------------------------------------------------------


@require(VIEW)
async def detail(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    tariff = await service.tariff_detail(principal, _ident(request))
    return ui.render(
        request,
        "charging/tariffs/detail.html",
        {
            "resource": TARIFFS_PAGE,
            "tariff": tariff,
            "yuan": service.yuan,
            "hhmm": _text,
            "today": datetime.now(service.zone()).date(),
            "can_edit": principal.can(EDIT),
            "crumbs": _crumbs(TARIFFS_PAGE, (tariff.name, None)),
        },
    )


# --- billing test -------------------------------------------------------------------------------


def wh_of(text: str) -> int:
    """kWh typed by a person (at most three decimals, 0–100000) as Wh; ValueError otherwise."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None
    if (
        not amount.is_finite()
        or amount < 0
        or amount > 100_000
        or amount != amount.quantize(Decimal("0.001"))
    ):
        raise ValueError(text)
    return int(amount * 1000)


def kwh(wh: int) -> str:
    return f"{wh // 1000}.{wh % 1000:03d}"


async def _render_test(
    request: web.Request,
    tariff: TariffOut,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    bill: BillOut | None = None,
    status: int = 200,
) -> web.Response:
    lang = ui.language_of(request)
    return ui.render(
        request,
        "charging/tariffs/test.html",
        {
            "resource": TARIFFS_PAGE,
            "tariff": tariff,
            "values": values,
            "errors": {k: error_text(v, lang) for k, v in errors.items()},
            "bill": bill,
            "yuan": service.yuan,
            "kwh": kwh,
            "local": lambda moment: display(moment, "datetime", lang, ui.zone_of(request)),
            "crumbs": _crumbs(
                TARIFFS_PAGE, (tariff.name, f"{PATH}/{tariff.id}"), ("tariffs.test", None)
            ),
        },
        status=status,
    )


@require(VIEW)
async def test_form(request: web.Request) -> web.StreamResponse:
    tariff = await service.get_tariff(principal_of(request), _ident(request))
    now = datetime.now(UTC)
    values = {"energy": "", "at": input_time(now, ui.zone_of(request)), "curve": ""}
    return await _render_test(request, tariff, values=values, errors={})


@require(VIEW)
async def test_run(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    tariff = await service.get_tariff(principal, _ident(request))  # 404 before the input
    zone = ui.zone_of(request)
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in ("energy", "at", "curve")}
    upload = form.get("curve_file")
    if isinstance(upload, web.FileField):
        content = upload.file.read(1_000_001)
        if content:
            values["curve"] = content.decode("utf-8-sig", errors="replace")
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    if values["curve"].strip():
        data["curve"] = values["curve"]
    else:
        if values["energy"].strip():
            try:
                data["energy_wh"] = wh_of(values["energy"])
            except ValueError:
                errors["energy"] = "tariffs.error.energy"
        try:
            data["at"] = parse_local(values["at"], zone)
        except ValueError:
            errors["at"] = "error.invalid"
    bill = None
    if not errors:
        try:
            bill = await service.bill_test(principal, tariff.id, BillTestIn.model_validate(data))
        except ValidationError as exc:
            errors = validation_errors(exc)
        except Invalid as exc:
            errors = {exc.field: exc.message}
    errors = {{"energy_wh": "energy", "readings": "curve"}.get(k, k): v for k, v in errors.items()}
    return await _render_test(
        request, tariff, values=values, errors=errors, bill=bill, status=400 if errors else 200
    )


# --- wiring -------------------------------------------------------------------------------------


def _not_found(handler: Any) -> Any:
    """A service's NotFound as the layout's 404 page."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")

    return wrapped


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    service.configure(app[SETTINGS_KEY].timezone)
    router = app.router
    one = f"{PATH}/{{id:\\d+}}"
    router.add_get(PATH, tariff_list, name="charging_tariffs.list")
    router.add_get(f"{PATH}/export.xlsx", export_view(TARIFFS_PAGE), name="charging_tariffs.export")
    router.add_get(f"{PATH}/new", new_form, name="charging_tariffs.new")
    router.add_post(f"{PATH}/new", create)
    router.add_get(one, _not_found(detail), name="charging_tariffs.detail")
    router.add_get(f"{one}/edit", _not_found(edit_form), name="charging_tariffs.edit")
    router.add_post(f"{one}/edit", _not_found(update))
    router.add_get(f"{one}/bill-test", _not_found(test_form), name="charging_tariffs.test")
    router.add_post(f"{one}/bill-test", _not_found(test_run))
    confirm, act = action_view(TARIFFS_PAGE)
    actions = f"{one}/{{action:(?:enable|disable|delete)}}"
    router.add_get(actions, confirm, name="charging_tariffs.confirm")
    router.add_post(actions, act)
    ui.add_menu(app, MenuItem(GROUP, TARIFFS_PAGE.title, PATH, VIEW, TARIFFS_PAGE.menu_order))
