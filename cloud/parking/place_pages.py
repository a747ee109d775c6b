"""Parking place and device pages: lots (停车场), road sections (路段) with the berth monitor
(泊位监控), berths (泊位), geomagnetic sensors (地磁检测器), their detections and false alarms
(地磁检测记录, 地磁误报) and parking locks (车位锁) with their raise/lower commands.

Lists are the generic declarations (filters, pagination, Excel export) rendered through the
parking templates, which add detail links, status badges and row actions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import Principal, principal_of, require
from cloud.crud import Crud
from cloud.errors import Conflict, Invalid, NotFound
from cloud.parking import (
    device_ingest,
    devices,
    places,
    texts_places,  # noqa: F401 - registers this module's texts
)
from cloud.parking.models import BerthStatus, LockStateName
from cloud.parking.place_schemas import (
    BerthCreate,
    BerthFilter,
    BerthUpdate,
    DetectionFilter,
    LockFilter,
    OccupancyFilter,
    PlaceCreateForm,
    PlaceFilter,
    PlaceForm,
    PlaceOut,
    SensorFilter,
    yuan,
)
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display
from cloud.ui.views import (
    _crumbs,
    _url,
    list_view,
    mount_routes,
)
from protocols.site import SiteKind

GROUP = "menu.group.parking"
VIEW, EDIT = "parking.view", "parking.edit"
P = "parking.places."
COMMANDS_PATH = "/commands"

ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
C_ENABLED = Column("enabled", "field.enabled", kind="enabled")
TARIFFS = ui.service_choices(places.tariff_choices)
PLACES = ui.service_choices(places.place_choices)
SITE_KINDS = ui.static_choices(
    [("parking_lot", "site.kind.parking_lot"), ("street_section", "site.kind.street_section")]
)
STATUSES = ui.enum_choices(BerthStatus, f"{P}status.")
LOCK_STATES = ui.enum_choices(LockStateName, f"{P}lock_state.")
YES_NO = ui.static_choices([("true", "common.yes"), ("false", "common.no")])
LINK_STATES = ui.static_choices([("true", f"{P}link.online"), ("false", f"{P}link.offline")])
KINDS = ui.static_choices([("arrived", f"{P}kind.arrived"), ("departed", f"{P}kind.departed")])
PLACE_FILTER = Filter("site_id", f"{P}field.place", "select", PLACES)


def _form_crud(crud: Crud) -> Crud:
    """A place's operations for the admin form, which types its amounts in yuan."""
    assert crud.create is not None and crud.update is not None
    create, update = crud.create, crud.update

    async def create_form(principal: Principal, data: PlaceCreateForm) -> PlaceOut:
        result: PlaceOut = await create(principal, data.create())
        return result

    async def update_form(principal: Principal, ident: int, data: PlaceForm) -> PlaceOut:
        result: PlaceOut = await update(principal, ident, data.update())
        return result

    return dataclasses.replace(crud, create=create_form, update=update_form)


def _place_resource(kind: SiteKind) -> Resource:
    lot = kind == SiteKind.parking_lot
    name = "lots" if lot else "sections"
    return Resource(
        name=f"parking_{name}",
        path=f"/parking/{name}",
        title=f"{P}{name}.title",
        group=GROUP,
        view_permission=VIEW,
        edit_permission=EDIT,
        menu_order=10 if lot else 20,
        columns=(
            Column("name", f"{P}field.name", sort="name", link=True),
            Column("site_code", f"{P}field.site_code"),
            Column("region", f"{P}field.region", sort="region"),
            Column("street", f"{P}field.street", sort="street"),
            Column("address", f"{P}field.address"),
            *((Column("capacity", f"{P}field.capacity"),) if lot else ()),
            Column("tariff_name", f"{P}field.tariff"),
            Column("refuse_arrears_above_yuan", f"{P}field.refuse_arrears_above_yuan"),
            Column("arrears_confirm_above_yuan", f"{P}field.arrears_confirm_above_yuan"),
            Column("hotline", f"{P}field.hotline"),
            C_ENABLED,
        ),
        filter_model=PlaceFilter,
        filters=(
            Filter("q", f"{P}field.name", placeholder=f"{P}filter.name"),
            Filter("region", f"{P}field.region"),
            Filter("street", f"{P}field.street"),
            Filter("tariff_id", f"{P}field.tariff", "select", TARIFFS),
            ENABLED,
        ),
        create_model=PlaceCreateForm,
        update_model=PlaceForm,
        fields=(
            FormField("name", f"{P}field.name", required=True),
            FormField("site_code", f"{P}field.site_code", help=f"{P}help.site_code", on="create"),
            FormField("region", f"{P}field.region"),
            FormField("street", f"{P}field.street"),
            FormField("address", f"{P}field.address"),
            FormField(
                "capacity",
                f"{P}field.capacity",
                "number",
                help=f"{P}help.capacity" if lot else f"{P}help.section_capacity",
            ),
            FormField("tariff_id", f"{P}field.tariff", "select", TARIFFS, help=f"{P}help.tariff"),
            FormField(
                "refuse_arrears_above_yuan",
                f"{P}field.refuse_arrears_above_yuan",
                help=f"{P}help.refuse_arrears",
            ),
            FormField(
                "arrears_confirm_above_yuan",
                f"{P}field.arrears_confirm_above_yuan",
                help=f"{P}help.arrears_confirm",
            ),
            FormField("hotline", f"{P}field.hotline"),
        ),
        crud=_form_crud(places.LOTS if lot else places.SECTIONS),
        label_of=lambda p: p.name,
    )


LOTS_PAGE = _place_resource(SiteKind.parking_lot)
SECTIONS_PAGE = _place_resource(SiteKind.street_section)

OCCUPANCY_PAGE = Resource(
    name="parking_occupancy",
    path="/parking/occupancy",
    title=f"{P}occupancy.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=25,
    columns=(
        Column("region", f"{P}field.region", sort="region"),
        Column("street", f"{P}field.street", sort="street"),
        Column("name", f"{P}field.place", sort="name", link=True),
        Column("kind", f"{P}field.kind", kind="enum", prefix="site.kind."),
        Column("total", f"{P}field.total"),
        Column("occupied", f"{P}field.occupied"),
        Column("free", f"{P}field.free"),
        Column("fault", f"{P}field.fault"),
    ),
    filter_model=OccupancyFilter,
    filters=(
        Filter("kind", f"{P}field.kind", "select", SITE_KINDS),
        Filter("region", f"{P}field.region"),
        Filter("street", f"{P}field.street"),
        Filter("q", f"{P}field.place", placeholder=f"{P}filter.name"),
    ),
    crud=places.OCCUPANCY,
)

BERTHS_PAGE = Resource(
    name="parking_berths",
    path="/parking/berths",
    title=f"{P}berths.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=30,
    columns=(
        Column("code", f"{P}field.berth_code", sort="code", link=True),
        Column("number", f"{P}field.number", sort="number"),
        Column("site_name", f"{P}field.place"),
        Column("status", f"{P}field.status", sort="status", kind="enum", prefix=f"{P}status."),
        Column("plate", f"{P}field.plate"),
        Column("entered_at", f"{P}field.entered_at", sort="entered_at", kind="datetime"),
        Column("sensor", f"{P}field.sensor"),
        Column("has_lock", f"{P}field.has_lock", kind="bool"),
        C_ENABLED,
    ),
    filter_model=BerthFilter,
    filters=(
        PLACE_FILTER,
        Filter("status", f"{P}field.status", "select", STATUSES),
        Filter("plate", f"{P}field.plate", placeholder=f"{P}filter.plate"),
        Filter("number", f"{P}field.number", placeholder=f"{P}filter.number"),
        Filter("sensor", f"{P}field.sensor", placeholder=f"{P}filter.prefix"),
        Filter("has_lock", f"{P}field.has_lock", "select", YES_NO),
        ENABLED,
    ),
    create_model=BerthCreate,
    update_model=BerthUpdate,
    fields=(
        FormField("site_id", f"{P}field.place", "select", PLACES, required=True, on="create"),
        FormField("code", f"{P}field.berth_code", required=True, help=f"{P}help.code", on="create"),
        FormField("count", f"{P}field.count", "number", help=f"{P}help.count", on="create"),
        FormField("number", f"{P}field.number", help=f"{P}help.number"),
        FormField("sensor", f"{P}field.sensor", help=f"{P}help.sensor"),
        FormField("has_lock", f"{P}field.has_lock", "checkbox"),
    ),
    crud=places.BERTHS,
    label_of=lambda b: f"{b.site_name} / {b.code}",
)

SENSORS_PAGE = Resource(
    name="parking_sensors",
    path="/parking/sensors",
    title=f"{P}sensors.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=40,
    columns=(
        Column("serial", f"{P}field.serial", sort="serial"),
        Column("berth", f"{P}field.berth", sort="berth"),
        Column("site_name", f"{P}field.place"),
        Column("battery_pct", f"{P}field.battery", sort="battery_pct"),
        Column("temperature_c", f"{P}field.temperature"),
        Column(
            "last_heartbeat_at",
            f"{P}field.last_heartbeat_at",
            sort="last_heartbeat_at",
            kind="datetime",
        ),
        Column("link_state", f"{P}field.online", kind="enum", prefix=f"{P}link."),
        Column("detections", f"{P}field.detections"),
        Column("false_alarms", f"{P}field.false_alarms", sort="false_alarms"),
    ),
    filter_model=SensorFilter,
    filters=(
        PLACE_FILTER,
        Filter("serial", f"{P}field.serial", placeholder=f"{P}filter.prefix"),
        Filter("berth", f"{P}field.berth", placeholder=f"{P}filter.prefix"),
        Filter("online", f"{P}field.online", "select", LINK_STATES),
        Filter("battery_below", f"{P}field.battery_below"),
    ),
    crud=devices.SENSORS,
)

DETECTIONS_PAGE = Resource(
    name="parking_detections",
    path="/parking/detections",
    title=f"{P}detections.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=50,
    menu=(
        (f"{P}detections.title", "/parking/detections"),
        (f"{P}false_alarms.title", "/parking/detections?false_alarm=true"),
    ),
    columns=(
        Column("occurred_at", f"{P}field.occurred_at", sort="occurred_at", kind="datetime"),
        Column("site_name", f"{P}field.place"),
        Column("berth", f"{P}field.berth", sort="berth"),
        Column("sensor", f"{P}field.serial"),
        Column("kind", f"{P}field.detection_kind", kind="enum", prefix=f"{P}kind."),
        Column("source", f"{P}field.source", kind="enum", prefix=f"{P}source."),
        Column("session", f"{P}field.session"),
        Column("false_alarm", f"{P}field.false_alarm", kind="bool"),
        Column("false_alarm_reason", f"{P}field.false_alarm_reason"),
        Column("reported_by", f"{P}field.reported_by"),
    ),
    filter_model=DetectionFilter,
    filters=(
        PLACE_FILTER,
        Filter("berth", f"{P}field.berth", placeholder=f"{P}filter.prefix"),
        Filter("sensor", f"{P}field.serial", placeholder=f"{P}filter.prefix"),
        Filter("kind", f"{P}field.detection_kind", "select", KINDS),
        Filter("false_alarm", f"{P}field.false_alarm", "select", YES_NO),
        Filter("at_from", "field.from", "datetime"),
        Filter("at_to", "field.to", "datetime"),
    ),
    crud=devices.DETECTIONS,
)

LOCKS_PAGE = Resource(
    name="parking_locks",
    path="/parking/locks",
    title=f"{P}locks.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=60,
    columns=(
        Column("berth", f"{P}field.berth", sort="berth"),
        Column("site_name", f"{P}field.place"),
        Column(
            "state", f"{P}field.lock_state", sort="state", kind="enum", prefix=f"{P}lock_state."
        ),
        Column("fault", f"{P}field.fault_text"),
        Column("updated_at", f"{P}field.reported_at", sort="updated_at", kind="datetime"),
    ),
    filter_model=LockFilter,
    filters=(
        PLACE_FILTER,
        Filter("berth", f"{P}field.berth", placeholder=f"{P}filter.prefix"),
        Filter("state", f"{P}field.lock_state", "select", LOCK_STATES),
        Filter("faulty", f"{P}field.faulty", "select", YES_NO),
    ),
    crud=devices.LOCKS,
    label_of=lambda lock: f"{lock.site_name} / {lock.berth}",
)

RESOURCES = (
    LOTS_PAGE,
    SECTIONS_PAGE,
    OCCUPANCY_PAGE,
    BERTHS_PAGE,
    SENSORS_PAGE,
    DETECTIONS_PAGE,
    LOCKS_PAGE,
)
TEMPLATES = {
    LOTS_PAGE.name: "parking/place_list.html",
    SECTIONS_PAGE.name: "parking/place_list.html",
    OCCUPANCY_PAGE.name: "parking/place_list.html",
    BERTHS_PAGE.name: "parking/berth_list.html",
    SENSORS_PAGE.name: "parking/sensor_list.html",
    DETECTIONS_PAGE.name: "parking/sensor_detection_list.html",
    LOCKS_PAGE.name: "parking/lock_list.html",
}


def _occupancy_link(item: Any) -> str:
    return f"/parking/{'lots' if item.kind == SiteKind.parking_lot else 'sections'}/{item.id}"


def mount(app: web.Application, resource: Resource) -> None:
    """A resource's list (its parking template), export, forms, actions and menu entries."""
    name, path = resource.name, resource.path

    async def context(request: web.Request, principal: Principal) -> dict[str, object]:
        return {"detail_of": _occupancy_link, "commands": COMMANDS_PATH}

    mount_routes(app, resource, list_view(resource, TEMPLATES[name], context))
    entries = resource.menu if resource.menu is not None else ((resource.title, path),)
    for offset, (label, target) in enumerate(entries):
        ui.add_menu(app, MenuItem(GROUP, label, target, VIEW, resource.menu_order + offset))


# --- lot and road section details ---------------------------------------------------------------


def _place_facts(place: PlaceOut, lang: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    def fen(value: int | None) -> str:
        return "" if value is None else i18n.t(f"{P}yuan", lang, yuan=yuan(value))

    return [
        (f"{P}field.name", place.name),
        (f"{P}field.site_code", place.site_code),
        (f"{P}field.kind", display(place.kind, "enum", lang, zone, "site.kind.")),
        (f"{P}field.region", place.region),
        (f"{P}field.street", place.street),
        (f"{P}field.address", place.address),
        (f"{P}field.capacity", "" if place.capacity is None else str(place.capacity)),
        (f"{P}field.tariff", place.tariff_name or i18n.t(f"{P}no_tariff", lang)),
        (
            f"{P}field.refuse_arrears_above_yuan",
            fen(place.refuse_arrears_above_fen)
            if place.refuse_arrears_above_fen is not None
            else i18n.t(f"{P}never_refuse", lang),
        ),
        (f"{P}field.arrears_confirm_above_yuan", fen(place.arrears_confirm_above_fen)),
        (f"{P}field.hotline", place.hotline),
        ("field.enabled", display(place.enabled, "enabled", lang, zone)),
    ]


def _detail(
    resource: Resource, kind: SiteKind
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @require(VIEW)
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        ident = int(request.match_info["id"])
        try:
            place = await places.get_place(principal, kind, ident)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        occupancy = await places.place_occupancy(principal, kind, ident)
        lang, zone = ui.language_of(request), ui.zone_of(request)
        berths = await places.section_berths(principal, place.site_id)
        sensors = await devices.sensors_by_serial(principal, {b.sensor for b in berths if b.sensor})
        return ui.render(
            request,
            "parking/place_detail.html",
            {
                "resource": resource,
                "place": place,
                "lot": kind == SiteKind.parking_lot,
                "occupancy": occupancy,
                "facts": _place_facts(place, lang, zone),
                "berths": berths,
                "sensors": sensors,
                "shown_limit": places.SECTION_BERTHS_SHOWN,
                "can_edit": principal.can(EDIT),
                "local": lambda value: display(value, "datetime", lang, zone),
                "crumbs": _crumbs(resource, (place.name, None)),
            },
        )

    return handler


# --- parking locks: raise / lower ---------------------------------------------------------------


def _lock_action(
    raise_it: bool,
) -> tuple[Callable[[web.Request], Awaitable[web.StreamResponse]], ...]:
    slug = "raise" if raise_it else "lower"

    @require(EDIT)
    async def confirm(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        try:
            lock = await devices.get_lock(principal, int(request.match_info["id"]))
        except NotFound:
            return render_error(request, 404, "error.not_found")
        return ui.render(
            request,
            "parking/lock_confirm.html",
            {
                "resource": LOCKS_PAGE,
                "lock": lock,
                "slug": slug,
                "label": f"{P}action.{slug}",
                "target": request.path,
                "crumbs": _crumbs(LOCKS_PAGE, (LOCKS_PAGE.label_of(lock), None)),
            },
        )

    @require(EDIT)
    async def act(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        try:
            command = await devices.lock_command(principal, int(request.match_info["id"]), raise_it)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        except (Invalid, Conflict) as exc:
            key = exc.message if i18n.has(exc.message) else "error.invalid"
            raise ui.redirect(LOCKS_PAGE.path, key, "error") from exc
        target = _url(COMMANDS_PATH, {"site_id": command.site_id, "kind": command.kind})
        raise ui.redirect(target, f"{P}flash.command_sent")

    return confirm, act


def setup(app: web.Application) -> None:
    """Mount the place and device pages and take berth device reports from edges."""
    device_ingest.setup()
    for resource in RESOURCES:
        mount(app, resource)
    for resource, kind in (
        (LOTS_PAGE, SiteKind.parking_lot),
        (SECTIONS_PAGE, SiteKind.street_section),
    ):
        app.router.add_get(
            f"{resource.path}/{{id:\\d+}}", _detail(resource, kind), name=f"{resource.name}.detail"
        )
    for raise_it in (True, False):
        slug = "raise" if raise_it else "lower"
        confirm, act = _lock_action(raise_it)
        path = f"{LOCKS_PAGE.path}/{{id:\\d+}}/{slug}"
        app.router.add_get(path, confirm, name=f"parking_locks.{slug}_lock")
        app.router.add_post(path, act)
