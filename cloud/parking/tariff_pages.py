"""Parking tariff pages (收费规则): the list, a form that builds the rule types (per unit
period, per visit, day/night, no charge; by vehicle class and day kind; free minutes, caps,
new-energy percent), the detail with the JSON document, enable/disable/delete, the verify page
(验证收费规则); and the holiday calendar (节假日配置) with a year view."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from cloud import ui
from cloud.auth import SETTINGS_KEY, principal_of, require
from cloud.errors import Conflict, Invalid, NotFound
from cloud.parking import (
    clock,
    texts_tariffs,  # noqa: F401 - registers this module's texts
)
from cloud.parking import tariffs as service
from cloud.parking.tariff_schemas import (
    HolidayFilter,
    HolidayIn,
    ParkingBillOut,
    ParkingTariffFilter,
    ParkingTariffIn,
    ParkingTariffOut,
    VerifyIn,
)
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display, fen_of, input_time, parse_local
from cloud.ui.views import _crumbs, action_view, error_text, export_view, list_view
from protocols.tariffs import DayKind, DayNight, NoCharge, PerPeriod, PerVisit, Scheme, yuan

GROUP = "menu.group.parking"
PATH = "/parking/tariffs"
HOLIDAYS_PATH = "/parking/holidays"
VIEW, EDIT = "parking.view", "parking.edit"
FORM_SCHEMES = 6
CLASSES = ("small", "large", "other")
KINDS = tuple(k.value for k in DayKind)
RULES = ("per_period", "per_visit", "day_night", "no_charge")
PART_RULES = ("per_period", "per_visit", "no_charge")
PART_KEYS = ("rule", "first_minutes", "first_price", "step_minutes", "price", "visit_price")
TERM_FIELDS = ("free_minutes", "cap_per_day", "cap_per_stay", "new_energy_percent")

TARIFFS_PAGE = Resource(
    name="parking_tariffs",
    path=PATH,
    title="parking.tariffs.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=10,
    columns=(
        Column("name", "parking.tariffs.field.name", sort="name", link=True),
        Column("summary", "parking.tariffs.field.summary"),
        Column("terms", "parking.tariffs.field.terms"),
        Column("sites", "parking.tariffs.field.sites", kind="list"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column(
            "updated_at", "parking.tariffs.field.updated_at", sort="updated_at", kind="datetime"
        ),
    ),
    filter_model=ParkingTariffFilter,
    filters=(
        Filter("name", "parking.tariffs.field.name"),
        Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES),
    ),
    create_model=ParkingTariffIn,
    update_model=ParkingTariffIn,
    crud=service.TARIFFS,
    label_of=lambda row: row.name,
)

HOLIDAYS_PAGE = Resource(
    name="parking_holidays",
    path=HOLIDAYS_PATH,
    title="parking.holidays.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=12,
    columns=(
        Column("day", "parking.holidays.field.day", sort="day", link=True),
        Column("weekday", "parking.holidays.field.weekday"),
        Column(
            "kind",
            "parking.holidays.field.kind",
            sort="kind",
            kind="enum",
            prefix="parking.tariffs.kind.",
        ),
        Column("name", "parking.holidays.field.name"),
    ),
    filter_model=HolidayFilter,
    filters=(
        Filter("year", "parking.holidays.field.year", placeholder="2025"),
        Filter(
            "kind",
            "parking.holidays.field.kind",
            "select",
            ui.enum_choices(DayKind, "parking.tariffs.kind."),
        ),
    ),
    create_model=HolidayIn,
    update_model=HolidayIn,
    fields=(
        FormField(
            "day", "parking.holidays.field.day", required=True, help="parking.holidays.help.day"
        ),
        FormField(
            "kind",
            "parking.holidays.field.kind",
            "select",
            ui.enum_choices(DayKind, "parking.tariffs.kind."),
            required=True,
        ),
        FormField("name", "parking.holidays.field.name"),
    ),
    crud=service.HOLIDAYS,
    label_of=lambda row: row.day.isoformat(),
)


def _ident(request: web.Request) -> int:
    return int(request.match_info["id"])


# --- values typed by a person ----------------------------------------------------------------------


def _int_of(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or len(value) > 6:
        raise ValueError(text)
    return int(value)


def _clock_of(text: str) -> time:
    value = text.strip()
    if value == "24:00":
        return time(0)
    return time.fromisoformat(value)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


# --- the form ----------------------------------------------------------------------------------------


def _read_part(
    form: Mapping[str, Any], prefix: str, errors: dict[str, str]
) -> tuple[PerPeriod | PerVisit | NoCharge | None, dict[str, str]]:
    shown = {key: str(form.get(f"{prefix}{key}", "")).strip() for key in PART_KEYS}
    rule = shown["rule"]
    try:
        if rule == "per_visit":
            return PerVisit(price_fen=fen_of(shown["visit_price"] or "x", most_yuan=100_000)), shown
        if rule == "no_charge":
            return NoCharge(), shown
        if rule == "per_period":
            first = _int_of(shown["first_minutes"] or "0")
            return (
                PerPeriod(
                    first_minutes=first,
                    first_price_fen=fen_of(shown["first_price"] or "0", most_yuan=100_000)
                    if first
                    else 0,
                    step_minutes=_int_of(shown["step_minutes"] or "x"),
                    price_fen=fen_of(shown["price"] or "x", most_yuan=100_000),
                ),
                shown,
            )
    except ValueError:
        errors[prefix.rstrip("_")] = "parking.tariffs.error.money"
        return None, shown
    except ValidationError as exc:
        first_error = exc.errors(include_url=False)[0]
        errors[prefix.rstrip("_")] = (
            f"{'.'.join(map(str, first_error['loc']))}: {first_error['msg']}"
        )
        return None, shown
    errors[prefix.rstrip("_")] = "error.required"
    return None, shown


def _read_form(
    form: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(schema data, errors by form field, values to show again) of a posted tariff form."""
    errors: dict[str, str] = {}
    shown: dict[str, Any] = {"name": str(form.get("name", "")).strip()}
    for name in TERM_FIELDS:
        shown[name] = str(form.get(name, "")).strip()
    shown["free_minutes_deducted"] = "free_minutes_deducted" in form
    getall = getattr(form, "getall", None)
    schemes: list[Scheme] = []
    shown_schemes: list[dict[str, Any]] = []
    for index in range(FORM_SCHEMES):
        prefix = f"s{index}_"
        rule = str(form.get(f"{prefix}rule", "")).strip()
        classes = [str(v) for v in getall(f"{prefix}classes", [])] if getall else []
        kinds = [str(v) for v in getall(f"{prefix}kinds", [])] if getall else []
        block: dict[str, Any] = {"rule": rule, "classes": classes, "kinds": kinds}
        for key in ("day_start", "day_end"):
            block[key] = str(form.get(f"{prefix}{key}", "")).strip()
        built: Any = None
        if rule in ("per_period", "per_visit", "no_charge"):
            built, part = _read_part(form, prefix, errors)
            block["part"] = part
        elif rule == "day_night":
            day, block["day"] = _read_part(form, f"{prefix}day_", errors)
            night, block["night"] = _read_part(form, f"{prefix}night_", errors)
            start: time | None = None
            end: time | None = None
            try:
                start, end = _clock_of(block["day_start"]), _clock_of(block["day_end"])
            except ValueError:
                errors[f"s{index}"] = "error.invalid"
            if day is not None and night is not None and start is not None and end is not None:
                built = DayNight(day_start=start, day_end=end, day=day, night=night)
        shown_schemes.append(block)
        if built is None:
            continue
        try:
            schemes.append(
                Scheme.model_validate(
                    {"vehicle_classes": classes, "day_kinds": kinds, "rule": built}
                )
            )
        except ValidationError:
            errors[f"s{index}"] = "error.invalid"
    shown["schemes"] = shown_schemes
    data: dict[str, Any] = {
        "name": shown["name"],
        "schemes": schemes,
        "free_minutes_deducted": shown["free_minutes_deducted"],
    }
    try:
        data["free_minutes"] = _int_of(shown["free_minutes"] or "0")
    except ValueError:
        errors["free_minutes"] = "parking.tariffs.error.minutes"
    if shown["new_energy_percent"]:
        try:
            data["new_energy_percent"] = _int_of(shown["new_energy_percent"])
        except ValueError:
            errors["new_energy_percent"] = "error.invalid"
    for form_name, schema_name in (
        ("cap_per_day", "cap_per_day_fen"),
        ("cap_per_stay", "cap_per_stay_fen"),
    ):
        if shown[form_name]:
            try:
                data[schema_name] = fen_of(shown[form_name], most_yuan=100_000)
            except ValueError:
                errors[form_name] = "parking.tariffs.error.money"
    return data, errors, shown


def _part_values(part: PerPeriod | PerVisit | NoCharge) -> dict[str, str]:
    values = dict.fromkeys(PART_KEYS, "")
    values["rule"] = part.kind
    if isinstance(part, PerVisit):
        values["visit_price"] = yuan(part.price_fen)
    elif isinstance(part, PerPeriod):
        values["first_minutes"] = str(part.first_minutes) if part.first_minutes else ""
        values["first_price"] = yuan(part.first_price_fen) if part.first_minutes else ""
        values["step_minutes"] = str(part.step_minutes)
        values["price"] = yuan(part.price_fen)
    return values


def _values_of(row: ParkingTariffOut) -> dict[str, Any]:
    document = row.document
    cap_day, cap_stay = document.get("cap_per_day_fen"), document.get("cap_per_stay_fen")
    percent = document.get("new_energy_percent")
    blocks = []
    for scheme in row.schemes or []:
        block: dict[str, Any] = {
            "rule": scheme.rule.kind,
            "classes": list(scheme.vehicle_classes),
            "kinds": [k.value for k in scheme.day_kinds],
            "day_start": "",
            "day_end": "",
        }
        if isinstance(scheme.rule, DayNight):
            block["day_start"] = _hhmm(scheme.rule.day_start)
            block["day_end"] = _hhmm(scheme.rule.day_end)
            block["day"] = _part_values(scheme.rule.day)
            block["night"] = _part_values(scheme.rule.night)
        else:
            block["part"] = _part_values(scheme.rule)
        blocks.append(block)
    return {
        "name": row.name,
        "free_minutes": str(document.get("free_minutes") or ""),
        "free_minutes_deducted": bool(document.get("free_minutes_deducted")),
        "cap_per_day": yuan(cap_day) if cap_day is not None else "",
        "cap_per_stay": yuan(cap_stay) if cap_stay is not None else "",
        "new_energy_percent": str(percent) if percent is not None else "",
        "schemes": blocks,
    }


def _padded(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    empty_part = dict.fromkeys(PART_KEYS, "")
    shown = []
    for index in range(FORM_SCHEMES):
        block: dict[str, Any] = dict(blocks[index]) if index < len(blocks) else {"rule": ""}
        block.setdefault("classes", [])
        block.setdefault("kinds", [])
        block.setdefault("day_start", "08:00")
        block.setdefault("day_end", "20:00")
        for key in ("part", "day", "night"):
            block[key] = {**empty_part, **block.get(key, {})}
        shown.append(block)
    return shown


async def _render_form(
    request: web.Request,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    row: ParkingTariffOut | None,
    status: int = 200,
) -> web.Response:
    lang = ui.language_of(request)
    return ui.render(
        request,
        "parking/tariff_form.html",
        {
            "resource": TARIFFS_PAGE,
            "row": row,
            "values": values,
            "schemes": _padded(list(values.get("schemes", []))),
            "errors": {k: error_text(v, lang) for k, v in errors.items()},
            "classes": CLASSES,
            "kinds": KINDS,
            "rules": RULES,
            "part_rules": PART_RULES,
            "custom": row is not None and row.schemes is None,
            "action": f"{PATH}/new" if row is None else f"{PATH}/{row.id}/edit",
            "crumbs": _crumbs(TARIFFS_PAGE, ("common.new" if row is None else row.name, None)),
        },
        status=status,
    )


@require(EDIT)
async def new_form(request: web.Request) -> web.StreamResponse:
    values = {
        "schemes": [
            {
                "rule": "per_period",
                "part": {
                    "rule": "per_period",
                    "first_minutes": "60",
                    "first_price": "5.00",
                    "step_minutes": "30",
                    "price": "2.00",
                },
            }
        ],
        "free_minutes": "15",
    }
    return await _render_form(request, values=values, errors={}, row=None)


@require(EDIT)
async def edit_form(request: web.Request) -> web.StreamResponse:
    row = await service.get_tariff(principal_of(request), _ident(request))
    return await _render_form(request, values=_values_of(row), errors={}, row=row)


async def _save(request: web.Request, row: ParkingTariffOut | None) -> web.StreamResponse:
    principal = principal_of(request)
    data, errors, shown = _read_form(await request.post())
    if not errors:
        try:
            payload = ParkingTariffIn.model_validate(data)
            if row is None:
                await service.create_tariff(principal, payload)
            else:
                await service.update_tariff(principal, row.id, payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            context = first.get("ctx") or {}
            field = str(context.get("field") or (first["loc"][0] if first["loc"] else "schemes"))
            errors = {field: str(context.get("key") or first["msg"])}
        except (Invalid, Conflict) as exc:
            errors = {exc.field: exc.message}
    if errors:
        return await _render_form(request, values=shown, errors=errors, row=row, status=400)
    raise ui.redirect(PATH, "flash.saved")


@require(EDIT)
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@require(EDIT)
async def update(request: web.Request) -> web.StreamResponse:
    row = await service.get_tariff(principal_of(request), _ident(request))  # 404 first
    return await _save(request, row)


# --- detail --------------------------------------------------------------------------------------------


@require(VIEW)
async def detail(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    tariff = await service.get_tariff(principal, _ident(request))
    return ui.render(
        request,
        "parking/tariff_detail.html",
        {
            "resource": TARIFFS_PAGE,
            "tariff": tariff,
            "document_json": json.dumps(tariff.document, ensure_ascii=False, indent=2),
            "can_edit": principal.can(EDIT),
            "crumbs": _crumbs(TARIFFS_PAGE, (tariff.name, None)),
        },
    )


# --- verify (验证收费规则) -------------------------------------------------------------------------------


async def _render_verify(
    request: web.Request,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    bill: ParkingBillOut | None = None,
    status: int = 200,
) -> web.Response:
    lang = ui.language_of(request)
    principal = principal_of(request)
    zone = ui.zone_of(request)
    return ui.render(
        request,
        "parking/tariff_verify.html",
        {
            "resource": TARIFFS_PAGE,
            "tariffs": await service.tariff_choices(principal),
            "values": values,
            "errors": {k: error_text(v, lang) for k, v in errors.items()},
            "bill": bill,
            "classes": CLASSES,
            "yuan": yuan,
            "local": lambda moment: display(moment, "datetime", lang, zone),
            "crumbs": _crumbs(TARIFFS_PAGE, ("parking.tariffs.verify", None)),
        },
        status=status,
    )


@require(VIEW)
async def verify_form(request: web.Request) -> web.StreamResponse:
    zone = ui.zone_of(request)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    chosen = request.match_info.get("id") or request.query.get("tariff", "")
    if chosen:
        await service.get_tariff(principal_of(request), int(chosen))  # 404 for another tenant's
    values = {
        "tariff": chosen,
        "entered_at": input_time(now - timedelta(hours=2), zone),
        "exited_at": input_time(now, zone),
        "vehicle_class": "small",
        "new_energy": False,
    }
    return await _render_verify(request, values=values, errors={})


@require(VIEW)
async def verify_run(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    zone = ui.zone_of(request)
    form = await request.post()
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("tariff", "entered_at", "exited_at", "vehicle_class")
    }
    values["new_energy"] = "new_energy" in form
    errors: dict[str, str] = {}
    if not values["tariff"].isdigit():
        errors["tariff"] = "error.required"
    data: dict[str, Any] = {
        "vehicle_class": values["vehicle_class"] or "small",
        "new_energy": values["new_energy"],
    }
    for name in ("entered_at", "exited_at"):
        try:
            data[name] = parse_local(values[name], zone)
        except ValueError:
            errors[name] = "error.invalid"
        if data.get(name) is None and name not in errors:
            errors[name] = "error.required"
    bill = None
    if not errors:
        try:
            bill = await service.verify(
                principal, int(values["tariff"]), VerifyIn.model_validate(data)
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            context = first.get("ctx") or {}
            field = str(context.get("field") or first["loc"][0])
            errors[field] = str(context.get("key") or first["msg"])
        except Invalid as exc:
            errors[exc.field] = exc.message
        except NotFound:
            errors["tariff"] = "error.reference"
    return await _render_verify(
        request, values=values, errors=errors, bill=bill, status=400 if errors else 200
    )


# --- holidays: year view -------------------------------------------------------------------------------


@require(VIEW)
async def holiday_year(request: web.Request) -> web.StreamResponse:
    zone = ui.zone_of(request)
    raw = request.query.get("year", "")
    year = int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else datetime.now(zone).year
    marked = await service.year_of(principal_of(request), year)
    months = []
    for month in range(1, 13):
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        weeks: list[list[dict[str, Any] | None]] = [[None] * first.weekday()]
        day = first
        while day < following:
            if len(weeks[-1]) == 7:
                weeks.append([])
            holiday = marked.get(day)
            kind = (
                holiday.kind.value
                if holiday
                else (DayKind.weekend.value if day.weekday() >= 5 else DayKind.workday.value)
            )
            weeks[-1].append(
                {
                    "day": day,
                    "kind": kind,
                    "name": holiday.name if holiday else "",
                    "listed": holiday is not None,
                    "id": holiday.id if holiday else None,
                }
            )
            day += timedelta(days=1)
        weeks[-1] += [None] * (7 - len(weeks[-1]))
        months.append({"month": month, "weeks": weeks})
    return ui.render(
        request,
        "parking/holiday_year.html",
        {
            "resource": HOLIDAYS_PAGE,
            "year": year,
            "months": months,
            "can_edit": principal_of(request).can(EDIT),
            "crumbs": _crumbs(HOLIDAYS_PAGE, ("parking.holidays.year", None)),
        },
    )


# --- wiring --------------------------------------------------------------------------------------------


def _not_found(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")

    return wrapped


def setup(app: web.Application) -> None:
    """Mount the tariff and holiday pages."""
    clock.configure(app[SETTINGS_KEY].timezone)
    router = app.router
    one = f"{PATH}/{{id:\\d+}}"
    router.add_get(
        PATH, list_view(TARIFFS_PAGE, "parking/tariff_list.html"), name="parking_tariffs.list"
    )
    router.add_get(f"{PATH}/export.xlsx", export_view(TARIFFS_PAGE), name="parking_tariffs.export")
    router.add_get(f"{PATH}/new", new_form, name="parking_tariffs.new")
    router.add_post(f"{PATH}/new", create)
    router.add_get(f"{PATH}/verify", _not_found(verify_form), name="parking_tariffs.verify")
    router.add_post(f"{PATH}/verify", _not_found(verify_run))
    router.add_get(one, _not_found(detail), name="parking_tariffs.detail")
    router.add_get(f"{one}/edit", _not_found(edit_form), name="parking_tariffs.edit")
    router.add_post(f"{one}/edit", _not_found(update))
    router.add_get(f"{one}/verify", _not_found(verify_form), name="parking_tariffs.verify_one")
    confirm, act = action_view(TARIFFS_PAGE)
    actions = f"{one}/{{action:(?:enable|disable|delete)}}"
    router.add_get(actions, confirm, name="parking_tariffs.confirm")
    router.add_post(actions, act)
    ui.add_menu(app, MenuItem(GROUP, TARIFFS_PAGE.title, PATH, VIEW, TARIFFS_PAGE.menu_order))
    ui.add_menu(app, MenuItem(GROUP, "parking.tariffs.verify", f"{PATH}/verify", VIEW, 11))
    router.add_get(f"{HOLIDAYS_PATH}/year", holiday_year, name="parking_holidays.year")
    ui.mount(app, HOLIDAYS_PAGE)
    ui.add_menu(app, MenuItem(GROUP, "parking.holidays.year", f"{HOLIDAYS_PATH}/year", VIEW, 13))
