"""Charging admin pages: the operator's home (3.1), service providers and property companies
(3.7.1, 3.7.2), car stations, areas, spaces, chargers and connectors (3.2.1-3.2.6), cards and
members, and the connectivity log (3.6.6).

Lists are the generic declarations rendered through one charging template that adds detail
links and row actions; stations and chargers have detail pages, chargers their device actions
(commands through the edge) and a QR export.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from aiohttp import web
from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from pydantic import BaseModel, ValidationError

from cloud import i18n, ui
from cloud.auth import SETTINGS_KEY, Handler, Principal, principal_of, require
from cloud.charging import (
    chargers,
    home,
    id_tags,
    links,
    providers,
    station_publish,
    stations,
    texts_stations,  # noqa: F401 - registers this module's texts
)
from cloud.charging.models import (
    ChargeSpeed,
    CurrentType,
    IdTagKind,
    LockKind,
    OperationKind,
    ReviewState,
)
from cloud.charging.station_schemas import (
    AreaCreate,
    AreaFilter,
    AreaUpdate,
    AvailabilityIn,
    ChargerCreate,
    ChargerFilter,
    ChargerOut,
    ChargerUpdate,
    ConnectorFilter,
    ConnectorIn,
    IdTagCreate,
    IdTagFilter,
    IdTagUpdate,
    LinkFilter,
    PropertyCreate,
    PropertyFilter,
    PropertyUpdate,
    ProviderCreate,
    ProviderFilter,
    ProviderUpdate,
    RemoteStartIn,
    ResetIn,
    SpaceCreate,
    SpaceFilter,
    SpaceUpdate,
    StationCreate,
    StationFilter,
    StationOut,
    StationUpdate,
)
from cloud.errors import Conflict, Invalid
from cloud.sites.schemas import CommandOut
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.values import display
from cloud.ui.views import (
    _choices,
    _crumbs,
    _filter_data,
    _strip_bad_fields,
    _url,
    error_text,
    export_rows,
    list_view,
    mount_routes,
    query_params,
    validation_errors,
)

GROUP = "menu.group.charging"
VIEW, EDIT = "charging.view", "charging.edit"
HOME_PATH = "/charging"
COMMANDS_PATH = "/commands"
QR_EXPORT_LIMIT = 2000

ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
C_ENABLED = Column("enabled", "field.enabled", kind="enabled")
C_CREATED = Column("created_at", "stations.field.created_at", sort="created_at", kind="datetime")
PROVIDERS = ui.service_choices(providers.provider_choices)
PROPERTIES = ui.service_choices(providers.property_choices)
STATIONS = ui.service_choices(stations.station_choices)
AREAS = ui.service_choices(stations.area_choices)
REVIEWS = ui.enum_choices(ReviewState, "stations.review.")
OPERATIONS = ui.enum_choices(OperationKind, "stations.operation.")
LOCKS = ui.enum_choices(LockKind, "stations.lock.")
CURRENTS = ui.enum_choices(CurrentType, "stations.current.")
SPEEDS = ui.enum_choices(ChargeSpeed, "stations.speed.")
TAG_KINDS = ui.enum_choices(IdTagKind, "stations.tag_kind.")
LINK_STATES = ui.static_choices(
    [("true", "stations.link.online"), ("false", "stations.link.offline")]
)
TAG_STATES = ui.static_choices([("true", "stations.tag.active"), ("false", "stations.tag.blocked")])
STATION_FILTER = Filter("station_id", "stations.field.station", "select", STATIONS)
AREA_FILTER = Filter("area_id", "stations.field.area", "select", AREAS)

PROVIDERS_PAGE = Resource(
    name="charging_providers",
    path="/charging/providers",
    title="stations.providers.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=90,
    columns=(
        Column("name", "stations.field.name", sort="name", link=True),
        Column("contact", "stations.field.contact"),
        Column("phone", "stations.field.phone"),
        Column("email", "stations.field.email"),
        Column("review", "stations.field.review", kind="enum", prefix="stations.review."),
        C_ENABLED,
        C_CREATED,
    ),
    filter_model=ProviderFilter,
    filters=(
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        Filter("phone", "stations.field.phone", placeholder="stations.filter.phone"),
        Filter("review", "stations.field.review", "select", REVIEWS),
        ENABLED,
    ),
    create_model=ProviderCreate,
    update_model=ProviderUpdate,
    fields=(
        FormField("name", "stations.field.name", required=True),
        FormField("contact", "stations.field.contact"),
        FormField(
            "phone",
            "stations.field.phone",
            required=True,
            help="stations.help.account_phone",
            on="create",
        ),
        FormField("email", "stations.field.email"),
    ),
    crud=providers.PROVIDERS,
    label_of=lambda p: p.name,
)

PROPERTIES_PAGE = Resource(
    name="charging_properties",
    path="/charging/properties",
    title="stations.properties.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=95,
    columns=(
        Column("name", "stations.field.name", sort="name", link=True),
        Column("provider_name", "stations.field.provider"),
        Column("contact", "stations.field.contact"),
        Column("phone", "stations.field.phone"),
        Column("email", "stations.field.email"),
        Column("province", "stations.field.province"),
        Column("city", "stations.field.city"),
        Column("address", "stations.field.address"),
        C_ENABLED,
        C_CREATED,
    ),
    filter_model=PropertyFilter,
    filters=(
        Filter("provider_id", "stations.field.provider", "select", PROVIDERS),
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        Filter("phone", "stations.field.phone", placeholder="stations.filter.phone"),
        ENABLED,
    ),
    create_model=PropertyCreate,
    update_model=PropertyUpdate,
    fields=(
        FormField(
            "provider_id",
            "stations.field.provider",
            "select",
            PROVIDERS,
            required=True,
            on="create",
        ),
        FormField("name", "stations.field.name", required=True),
        FormField("contact", "stations.field.contact"),
        FormField(
            "phone",
            "stations.field.phone",
            required=True,
            help="stations.help.account_phone",
            on="create",
        ),
        FormField("email", "stations.field.email"),
        FormField("province", "stations.field.province"),
        FormField("city", "stations.field.city"),
        FormField("address", "stations.field.address"),
    ),
    crud=providers.PROPERTIES,
    label_of=lambda p: p.name,
)

STATION_FIELDS = (
    FormField("name", "stations.field.name", required=True),
    FormField("operation", "stations.field.operation", "select", OPERATIONS, required=True),
    FormField("contact", "stations.field.contact"),
    FormField("contact_phone", "stations.field.contact_phone"),
    FormField("description", "stations.field.description", "textarea"),
    FormField("hotline", "stations.field.hotline"),
    FormField("opening_hours", "stations.field.opening_hours"),
    FormField("max_power_kw", "stations.field.max_power_kw", "number"),
    FormField("capacity_kva", "stations.field.capacity_kva", "number"),
    FormField("province", "stations.field.province"),
    FormField("city", "stations.field.city"),
    FormField("address", "stations.field.address"),
)

STATIONS_PAGE = Resource(
    name="charging_stations",
    path="/charging/stations",
    title="stations.stations.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=10,
    columns=(
        Column("name", "stations.field.name", sort="name", link=True),
        Column("property_name", "stations.field.property"),
        Column("operation", "stations.field.operation", kind="enum", prefix="stations.operation."),
        Column("contact", "stations.field.contact"),
        Column("contact_phone", "stations.field.contact_phone"),
        Column("hotline", "stations.field.hotline"),
        Column("opening_hours", "stations.field.opening_hours"),
        Column("max_power_kw", "stations.field.max_power_kw"),
        Column("address", "stations.field.address"),
        Column("review", "stations.field.review", kind="enum", prefix="stations.review."),
        C_ENABLED,
        C_CREATED,
    ),
    filter_model=StationFilter,
    filters=(
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        Filter("property_id", "stations.field.property", "select", PROPERTIES),
        Filter("review", "stations.field.review", "select", REVIEWS),
        ENABLED,
    ),
    create_model=StationCreate,
    update_model=StationUpdate,
    fields=(
        FormField(
            "property_id",
            "stations.field.property",
            "select",
            PROPERTIES,
            required=True,
            on="create",
        ),
        FormField(
            "site_code", "stations.field.site_code", help="stations.help.site_code", on="create"
        ),
        *STATION_FIELDS,
    ),
    crud=stations.STATIONS,
    label_of=lambda s: s.name,
)

AREAS_PAGE = Resource(
    name="charging_areas",
    path="/charging/areas",
    title="stations.areas.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=20,
    columns=(
        Column("code", "stations.field.area_code", sort="code"),
        Column("name", "stations.field.name", sort="name", link=True),
        Column("station_name", "stations.field.station"),
        Column("phone", "stations.field.phone"),
        Column("power_kw", "stations.field.power_kw"),
        Column("is_default", "stations.field.is_default", kind="bool"),
        C_ENABLED,
        Column("updated_at", "stations.field.updated_at", kind="datetime"),
    ),
    filter_model=AreaFilter,
    filters=(
        STATION_FILTER,
        Filter("code", "stations.field.area_code", placeholder="stations.filter.prefix"),
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        ENABLED,
    ),
    create_model=AreaCreate,
    update_model=AreaUpdate,
    fields=(
        FormField(
            "station_id", "stations.field.station", "select", STATIONS, required=True, on="create"
        ),
        FormField("name", "stations.field.name", required=True),
        FormField("phone", "stations.field.phone"),
        FormField("power_kw", "stations.field.power_kw", "number"),
    ),
    crud=stations.AREAS,
    label_of=lambda a: f"{a.station_name} / {a.name}",
)

SPACES_PAGE = Resource(
    name="charging_spaces",
    path="/charging/spaces",
    title="stations.spaces.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=30,
    columns=(
        Column("code", "stations.field.code", sort="code"),
        Column("name", "stations.field.name", sort="name", link=True),
        Column("station_name", "stations.field.station"),
        Column("area_name", "stations.field.area"),
        Column("lock_kind", "stations.field.lock_kind", kind="enum", prefix="stations.lock."),
        C_ENABLED,
    ),
    filter_model=SpaceFilter,
    filters=(
        STATION_FILTER,
        AREA_FILTER,
        Filter("code", "stations.field.code", placeholder="stations.filter.prefix"),
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        Filter("lock_kind", "stations.field.lock_kind", "select", LOCKS),
        ENABLED,
    ),
    create_model=SpaceCreate,
    update_model=SpaceUpdate,
    fields=(
        FormField("area_id", "stations.field.area", "select", AREAS, required=True, on="create"),
        FormField(
            "count",
            "stations.field.count",
            "number",
            required=True,
            help="stations.help.count",
            on="create",
        ),
        FormField(
            "name_prefix",
            "stations.field.name_prefix",
            help="stations.help.name_prefix",
            on="create",
        ),
        FormField("name", "stations.field.name", required=True, on="update"),
        FormField("lock_kind", "stations.field.lock_kind", "select", LOCKS, required=True),
    ),
    crud=stations.SPACES,
    label_of=lambda s: f"{s.station_name} / {s.name}",
)

CHARGER_FIELDS = (
    FormField("name", "stations.field.name", required=True),
    FormField("model", "stations.field.model"),
    FormField("version", "stations.field.version"),
    FormField(
        "connectors",
        "stations.field.connectors",
        "number",
        required=True,
        help="stations.help.connectors",
    ),
    FormField("sim", "stations.field.sim"),
    FormField("operation", "stations.field.operation", "select", OPERATIONS, required=True),
    FormField("occupancy_fee", "stations.field.occupancy_fee", "checkbox"),
    FormField("reservable", "stations.field.reservable", "checkbox"),
    FormField("max_current_a", "stations.field.max_current_a", "number"),
    FormField("max_power_kw", "stations.field.output_power_kw", "number"),
    FormField("max_voltage_v", "stations.field.max_voltage_v", "number"),
    FormField("current_type", "stations.field.current_type", "select", CURRENTS, required=True),
    FormField("speed", "stations.field.speed", "select", SPEEDS, required=True),
    FormField("installation", "stations.field.installation"),
    FormField("protection", "stations.field.protection"),
    FormField("link", "stations.field.link"),
    FormField("heartbeat_s", "stations.field.heartbeat_s", "number"),
    FormField("lenient", "stations.field.lenient", "checkbox"),
)

CHARGERS_PAGE = Resource(
    name="charging_chargers",
    path="/charging/chargers",
    title="stations.chargers.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=40,
    columns=(
        Column("code", "stations.field.charger_code", sort="code"),
        Column("name", "stations.field.name", sort="name", link=True),
        Column("serial", "stations.field.serial"),
        Column("station_name", "stations.field.station"),
        Column("area_name", "stations.field.area"),
        Column("connectors", "stations.field.connectors"),
        Column(
            "current_type", "stations.field.current_type", kind="enum", prefix="stations.current."
        ),
        Column("speed", "stations.field.speed", kind="enum", prefix="stations.speed."),
        Column("max_power_kw", "stations.field.output_power_kw"),
        Column("link_state", "stations.field.online", kind="enum", prefix="stations.link."),
        Column("last_seen_at", "stations.field.last_seen_at", sort="last_seen_at", kind="datetime"),
        C_ENABLED,
    ),
    filter_model=ChargerFilter,
    filters=(
        STATION_FILTER,
        AREA_FILTER,
        Filter("code", "stations.field.charger_code", placeholder="stations.filter.prefix"),
        Filter("serial", "stations.field.serial", placeholder="stations.filter.prefix"),
        Filter("q", "stations.field.name", placeholder="stations.filter.name"),
        Filter("speed", "stations.field.speed", "select", SPEEDS),
        Filter("online", "stations.field.online", "select", LINK_STATES),
        ENABLED,
    ),
    create_model=ChargerCreate,
    update_model=ChargerUpdate,
    fields=(
        FormField("area_id", "stations.field.area", "select", AREAS, required=True, on="create"),
        FormField(
            "serial",
            "stations.field.serial",
            required=True,
            help="stations.help.serial",
            on="create",
        ),
        FormField(
            "code", "stations.field.charger_code", help="stations.help.charger_code", on="create"
        ),
        *CHARGER_FIELDS,
        FormField(
            "password",
            "stations.field.password",
            "password",
            help="stations.help.password",
            on="create",
        ),
        FormField(
            "password",
            "stations.field.password",
            "password",
            help="stations.help.password_keep",
            on="update",
        ),
        FormField("clear_password", "stations.field.clear_password", "checkbox", on="update"),
    ),
    crud=chargers.CHARGERS,
    label_of=lambda c: f"{c.name} ({c.serial})",
)

CONNECTORS_PAGE = Resource(
    name="charging_connectors",
    path="/charging/connectors",
    title="stations.connectors.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=50,
    columns=(
        Column("code", "stations.field.connector_code", sort="code"),
        Column("connector", "stations.field.connector"),
        Column("charger_name", "stations.field.charger"),
        Column("serial", "stations.field.serial"),
        Column("station_name", "stations.field.station"),
        Column("area_name", "stations.field.area"),
        Column(
            "status",
            "stations.field.status",
            sort="status",
            kind="enum",
            prefix="connector.status.",
        ),
        Column("error_code", "stations.field.error_code"),
        Column("status_at", "stations.field.status_at", kind="datetime"),
        C_ENABLED,
    ),
    filter_model=ConnectorFilter,
    filters=(
        STATION_FILTER,
        AREA_FILTER,
        Filter("charger_code", "stations.field.charger_code", placeholder="stations.filter.prefix"),
        Filter("serial", "stations.field.serial", placeholder="stations.filter.prefix"),
        Filter("status", "stations.field.status"),
        ENABLED,
    ),
    crud=chargers.CONNECTORS,
    label_of=lambda c: c.code,
)

ID_TAGS_PAGE = Resource(
    name="charging_id_tags",
    path="/charging/id-tags",
    title="stations.id_tags.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=60,
    columns=(
        Column("tag", "stations.field.tag", sort="tag", link=True),
        Column("kind", "stations.field.kind", kind="enum", prefix="stations.tag_kind."),
        Column("holder", "stations.field.holder"),
        Column("phone", "stations.field.phone"),
        Column("balance_fen", "stations.field.balance"),
        Column("expires_at", "stations.field.expires_at", kind="datetime"),
        Column("tag_state", "stations.field.tag_state", kind="enum", prefix="stations.tag."),
        C_CREATED,
    ),
    filter_model=IdTagFilter,
    filters=(
        Filter("q", "field.search", placeholder="stations.filter.tag"),
        Filter("kind", "stations.field.kind", "select", TAG_KINDS),
        Filter("enabled", "stations.field.tag_state", "select", TAG_STATES),
    ),
    create_model=IdTagCreate,
    update_model=IdTagUpdate,
    fields=(
        FormField(
            "tag", "stations.field.tag", required=True, help="stations.help.tag", on="create"
        ),
        FormField("kind", "stations.field.kind", "select", TAG_KINDS, required=True, on="create"),
        FormField("holder", "stations.field.holder"),
        FormField("phone", "stations.field.phone"),
        FormField("expires_at", "stations.field.expires_at", "datetime"),
    ),
    crud=id_tags.ID_TAGS,
    label_of=lambda t: t.tag,
)

LINKS_PAGE = Resource(
    name="charging_links",
    path="/charging/links",
    title="stations.links.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=VIEW,
    menu_order=70,
    columns=(
        Column("at", "stations.field.at", sort="at", kind="datetime"),
        Column("charger_name", "stations.field.device_name"),
        Column("charger_code", "stations.field.device_code"),
        Column("serial", "stations.field.device_serial"),
        Column("station_name", "stations.field.station"),
        Column("link_state", "stations.field.link_state", kind="enum", prefix="stations.link."),
        Column("reason", "stations.field.reason"),
    ),
    filter_model=LinkFilter,
    filters=(
        Filter("name", "stations.field.device_name", placeholder="stations.filter.name"),
        Filter("code", "stations.field.device_code", placeholder="stations.filter.prefix"),
        Filter("serial", "stations.field.device_serial", placeholder="stations.filter.prefix"),
        Filter("online", "stations.field.link_state", "select", LINK_STATES),
        Filter("at_from", "field.from", "datetime"),
        Filter("at_to", "field.to", "datetime"),
    ),
    crud=links.LINKS,
)

# Lists whose name opens a detail page rather than the edit form.
DETAILED = {STATIONS_PAGE.name, CHARGERS_PAGE.name}
RESOURCES = (
    STATIONS_PAGE,
    AREAS_PAGE,
    SPACES_PAGE,
    CHARGERS_PAGE,
    CONNECTORS_PAGE,
    ID_TAGS_PAGE,
    LINKS_PAGE,
    PROVIDERS_PAGE,
    PROPERTIES_PAGE,
)

# --- the lists -----------------------------------------------------------------------------------


def list_page(resource: Resource) -> Handler:
    """The generic list, rendered by the charging template (detail links, row actions)."""

    async def context(request: web.Request, principal: Principal) -> dict[str, object]:
        return {"detailed": resource.name in DETAILED}

    return list_view(resource, "charging/stations/list.html", context)


def mount(app: web.Application, resource: Resource) -> None:
    """A resource's list (charging template), export, forms, enable/disable and menu entry."""
    path = resource.path
    mount_routes(app, resource, list_page(resource))
    ui.add_menu(
        app, MenuItem(GROUP, resource.title, path, resource.view_permission, resource.menu_order)
    )


# --- confirmed actions of one row ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RowAction:
    """An action on one row: GET shows a confirmation (with the inputs it needs), POST runs it."""

    slug: str  # path segment
    label: str  # translation key of the button and title
    inputs: tuple[FormField, ...] = ()
    body: type[BaseModel] | None = None


def _row_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def confirmed(
    resource: Resource,
    action: RowAction,
    message: Callable[[Any, str], str],
    run: Callable[[web.Request, Principal, int, BaseModel | None], Awaitable[web.StreamResponse]],
    back: Callable[[int], str],
) -> tuple[Handler, Handler]:
    async def render(
        request: web.Request, row: Any, values: dict[str, str], errors: dict[str, str], status: int
    ) -> web.StreamResponse:
        principal = principal_of(request)
        lang = ui.language_of(request)
        return ui.render(
            request,
            "charging/stations/confirm.html",
            {
                "resource": resource,
                "action": action,
                "message": message(row, lang),
                "target": request.path,
                "back": back(_row_id(request)),
                "inputs": action.inputs,
                "choices": await _choices(action.inputs, principal, lang),
                "values": values,
                "errors": {k: error_text(v, lang) for k, v in errors.items()},
                "crumbs": _crumbs(resource, (resource.label_of(row), back(_row_id(request)))),
            },
            status=status,
        )

    @require(resource.edit_permission)
    async def confirm(request: web.Request) -> web.StreamResponse:
        assert resource.crud.get is not None
        row = await resource.crud.get(principal_of(request), _row_id(request))
        defaults = action.body.model_construct() if action.body is not None else None
        values = {f.name: str(getattr(defaults, f.name, "")) for f in action.inputs}
        return await render(request, row, values, {}, 200)

    @require(resource.edit_permission)
    async def act(request: web.Request) -> web.StreamResponse:
        assert resource.crud.get is not None
        principal = principal_of(request)
        ident = _row_id(request)
        row = await resource.crud.get(principal, ident)  # another tenant's id: 404 first
        form = await request.post()
        values = {f.name: str(form.get(f.name, "")) for f in action.inputs}
        try:
            body = action.body.model_validate(values) if action.body is not None else None
            return await run(request, principal, ident, body)
        except ValidationError as exc:
            return await render(request, row, values, validation_errors(exc), 400)
        except (Invalid, Conflict) as exc:
            return await render(request, row, values, {exc.field: exc.message}, 400)

    return confirm, act


# --- providers: review ---------------------------------------------------------------------------


def _review(approve: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    async def run(
        request: web.Request, principal: Principal, ident: int, body: BaseModel | None
    ) -> web.StreamResponse:
        await providers.review_provider(principal, ident, approve)
        flash = "stations.flash.approved" if approve else "stations.flash.rejected"
        raise ui.redirect(PROVIDERS_PAGE.path, flash)

    return run


# --- stations: detail ------------------------------------------------------------------------------


def _station_facts(station: StationOut, lang: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    return [
        ("stations.field.name", station.name),
        ("stations.field.provider", station.provider_name),
        ("stations.field.property", station.property_name),
        ("stations.field.site_code", station.site_code),
        (
            "stations.field.operation",
            display(station.operation, "enum", lang, zone, "stations.operation."),
        ),
        ("stations.field.contact", station.contact),
        ("stations.field.contact_phone", station.contact_phone),
        ("stations.field.hotline", station.hotline),
        ("stations.field.opening_hours", station.opening_hours),
        ("stations.field.max_power_kw", str(station.max_power_kw)),
        ("stations.field.capacity_kva", str(station.capacity_kva)),
        ("stations.field.province", station.province),
        ("stations.field.city", station.city),
        ("stations.field.address", station.address),
        ("stations.field.description", station.description),
        ("stations.field.review", display(station.review, "enum", lang, zone, "stations.review.")),
        ("field.enabled", display(station.enabled, "enabled", lang, zone)),
        ("stations.field.created_at", display(station.created_at, "datetime", lang, zone)),
        ("stations.field.updated_at", display(station.updated_at, "datetime", lang, zone)),
    ]


@require(VIEW)
async def station_detail(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    ident = _row_id(request)
    station = await stations.get_station(principal, ident)
    counts = await stations.station_counts(principal, ident)
    lang, zone = ui.language_of(request), ui.zone_of(request)
    return ui.render(
        request,
        "charging/stations/station.html",
        {
            "resource": STATIONS_PAGE,
            "station": station,
            "counts": counts,
            "facts": _station_facts(station, lang, zone),
            "can_edit": principal.can(EDIT),
            "crumbs": _crumbs(STATIONS_PAGE, (station.name, None)),
        },
    )


# --- chargers: detail, device actions, QR export ----------------------------------------------------


def _charger_facts(charger: ChargerOut, lang: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    def enum(value: Any, prefix: str) -> str:
        return display(value, "enum", lang, zone, prefix)

    def yes(value: bool) -> str:
        return display(value, "bool", lang, zone)

    return [
        ("stations.field.charger_code", charger.code),
        ("stations.field.serial", charger.serial),
        ("stations.field.name", charger.name),
        ("stations.field.station", charger.station_name),
        ("stations.field.area", charger.area_name),
        ("stations.field.model", charger.model),
        ("stations.field.version", charger.version),
        ("stations.field.connectors", str(charger.connectors)),
        ("stations.field.sim", charger.sim),
        ("stations.field.operation", enum(charger.operation, "stations.operation.")),
        ("stations.field.occupancy_fee", yes(charger.occupancy_fee)),
        ("stations.field.reservable", yes(charger.reservable)),
        ("stations.field.max_current_a", str(charger.max_current_a)),
        ("stations.field.output_power_kw", str(charger.max_power_kw)),
        ("stations.field.max_voltage_v", str(charger.max_voltage_v)),
        ("stations.field.current_type", enum(charger.current_type, "stations.current.")),
        ("stations.field.speed", enum(charger.speed, "stations.speed.")),
        ("stations.field.installation", charger.installation),
        ("stations.field.protection", charger.protection),
        ("stations.field.link", charger.link),
        ("stations.field.has_password", yes(charger.has_password)),
        ("stations.field.heartbeat_s", str(charger.heartbeat_s)),
        ("stations.field.lenient", yes(charger.lenient)),
        ("stations.field.online", enum(charger.link_state, "stations.link.")),
        ("stations.field.last_seen_at", display(charger.last_seen_at, "datetime", lang, zone)),
        ("stations.field.vendor", charger.vendor),
        ("stations.field.firmware", charger.firmware),
        ("stations.field.qr_url", station_publish.charger_url(charger.serial)),
        ("field.enabled", display(charger.enabled, "enabled", lang, zone)),
        ("stations.field.created_at", display(charger.created_at, "datetime", lang, zone)),
        ("stations.field.updated_at", display(charger.updated_at, "datetime", lang, zone)),
    ]


CONNECTOR_NO = FormField("connector", "stations.field.connector", "number", required=True)
CHARGER_ACTIONS = (
    RowAction(
        "reset",
        "stations.action.reset",
        (
            FormField(
                "type",
                "stations.field.reset_type",
                "select",
                ui.static_choices(
                    [("Soft", "stations.reset.Soft"), ("Hard", "stations.reset.Hard")]
                ),
                required=True,
            ),
        ),
        ResetIn,
    ),
    RowAction("clock-sync", "stations.action.clock_sync"),
    RowAction("push-tariff", "stations.action.push_tariff"),
    RowAction("push-hotline", "stations.action.push_hotline"),
    RowAction("push-qr", "stations.action.push_qr"),
    RowAction("refresh-status", "stations.action.refresh_status"),
    RowAction(
        "remote-start",
        "stations.action.remote_start",
        (CONNECTOR_NO, FormField("id_tag", "stations.field.id_tag", required=True)),
        RemoteStartIn,
    ),
    RowAction("remote-stop", "stations.action.remote_stop", (CONNECTOR_NO,), ConnectorIn),
    RowAction(
        "availability",
        "stations.action.availability",
        (
            FormField(
                "connector", "stations.field.connector", "number", help="stations.help.whole"
            ),
            FormField(
                "type",
                "stations.field.availability",
                "select",
                ui.static_choices(
                    [
                        ("Operative", "stations.availability.Operative"),
                        ("Inoperative", "stations.availability.Inoperative"),
                    ]
                ),
                required=True,
            ),
        ),
        AvailabilityIn,
    ),
    RowAction("unlock", "stations.action.unlock", (CONNECTOR_NO,), ConnectorIn),
)


async def _command(
    request: web.Request, principal: Principal, ident: int, slug: str, body: BaseModel | None
) -> CommandOut:
    if slug == "reset":
        assert isinstance(body, ResetIn)
        return await chargers.reset(principal, ident, body)
    if slug == "clock-sync":
        return await chargers.clock_sync(principal, ident)
    if slug == "push-tariff":
        return await chargers.push_tariff(principal, ident)
    if slug == "push-hotline":
        return await chargers.push_hotline(principal, ident)
    if slug == "push-qr":
        return await chargers.push_qr(principal, ident, request.app[SETTINGS_KEY].public_url)
    if slug == "refresh-status":
        return await chargers.refresh_status(principal, ident)
    if slug == "remote-start":
        assert isinstance(body, RemoteStartIn)
        return await chargers.remote_start(principal, ident, body)
    if slug == "remote-stop":
        assert isinstance(body, ConnectorIn)
        return await chargers.remote_stop(principal, ident, body)
    if slug == "availability":
        assert isinstance(body, AvailabilityIn)
        return await chargers.change_availability(principal, ident, body)
    assert slug == "unlock" and isinstance(body, ConnectorIn)
    return await chargers.unlock(principal, ident, body)


def commands_link(site_id: int, kind: str = "") -> str:
    """The device-command list filtered to a station's site (and a kind)."""
    return _url(COMMANDS_PATH, {"site_id": site_id, "kind": kind})


def _charger_run(slug: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    async def run(
        request: web.Request, principal: Principal, ident: int, body: BaseModel | None
    ) -> web.StreamResponse:
        command = await _command(request, principal, ident, slug, body)
        raise ui.redirect(
            commands_link(command.site_id, command.kind), "stations.flash.command_sent"
        )

    return run


@require(VIEW)
async def charger_detail(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    ident = _row_id(request)
    charger = await chargers.get_charger(principal, ident)
    lang, zone = ui.language_of(request), ui.zone_of(request)
    qr = segno.make(station_publish.charger_url(charger.serial), error="m")
    return ui.render(
        request,
        "charging/stations/charger.html",
        {
            "resource": CHARGERS_PAGE,
            "charger": charger,
            "facts": _charger_facts(charger, lang, zone),
            "connectors": await chargers.connectors_of(principal, ident),
            "actions": CHARGER_ACTIONS,
            "commands": commands_link(charger.site_id),
            "qr": qr.svg_data_uri(scale=4, border=2),
            "can_edit": principal.can(EDIT),
            "local": lambda value: display(value, "datetime", lang, zone),
            "crumbs": _crumbs(CHARGERS_PAGE, (charger.name, None)),
        },
    )


def _png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4, border=2)
    return buffer.getvalue()


def _qr_book(rows: list[ChargerOut], titles: list[str], sheet_title: str) -> bytes:
    """A sheet of chargers with their QR codes as images (built off the event loop)."""
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title[:31]
    sheet.append(titles)
    sheet.column_dimensions["B"].width = 22
    for width, column in ((24, "A"), (56, "C"), (24, "D"), (24, "E")):
        sheet.column_dimensions[column].width = width
    for index, charger in enumerate(rows, start=2):
        url = station_publish.charger_url(charger.serial)
        sheet.append([charger.station_name, "", url, charger.serial, charger.name])
        image = SheetImage(io.BytesIO(_png(url)))
        image.width = image.height = 140
        sheet.add_image(image, f"B{index}")
        sheet.row_dimensions[index].height = 110
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as spool:
        book.save(spool.name)
        with open(spool.name, "rb") as saved:
            return saved.read()


@require(VIEW)
async def qr_export(request: web.Request) -> web.StreamResponse:
    """3.2.5 7: the chargers of the current filters with station, QR image, URL and serial."""
    principal = principal_of(request)
    lang, zone = ui.language_of(request), ui.zone_of(request)
    resource = CHARGERS_PAGE
    params = query_params(request, resource)
    filters, _ = _strip_bad_fields(resource.filter_model, _filter_data(request, resource))
    limited = dataclasses.replace(resource, export_limit=QR_EXPORT_LIMIT)
    rows = [item async for item in export_rows(limited, principal, filters, params)]
    titles = [
        i18n.t(key, lang)
        for key in (
            "stations.field.station",
            "stations.field.qr_image",
            "stations.field.qr_url",
            "stations.field.serial",
            "stations.field.name",
        )
    ]
    body = await asyncio.to_thread(_qr_book, rows, titles, i18n.t(resource.title, lang))
    stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
    return web.Response(
        body=body,
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="charger-qr-{stamp}.xlsx"',
        },
    )


# --- home ----------------------------------------------------------------------------------------


@require(VIEW)
async def charging_home(request: web.Request) -> web.StreamResponse:
    data = await home.charging_home(principal_of(request), ui.zone_of(request))
    return ui.render(
        request,
        "charging/home.html",
        {
            "data": data,
            "orders_chart": ui.bar_chart([(d.day, d.value, d.second) for d in data.orders_7d]),
            "energy_chart": ui.bar_chart([(d.day, d.value, 0) for d in data.energy_5d]),
            "crumbs": [("menu.home", "/"), (GROUP, None), ("stations.home.title", None)],
        },
    )


# --- wiring ------------------------------------------------------------------------------------------


def _add_actions(
    app: web.Application,
    resource: Resource,
    actions: tuple[RowAction, ...],
    message: Callable[[Any, str], str],
    runner: Callable[[str], Callable[..., Awaitable[web.StreamResponse]]],
    back: Callable[[int], str],
) -> None:
    for action in actions:
        confirm, act = confirmed(resource, action, message, runner(action.slug), back)
        path = f"{resource.path}/{{id:\\d+}}/{action.slug}"
        app.router.add_get(path, confirm, name=f"{resource.name}.{action.slug}")
        app.router.add_post(path, act)


def setup(app: web.Application) -> None:
    """Mount this module's pages and take the chargers' reports from edges."""
    station_publish.configure(app[SETTINGS_KEY].public_url)
    links.setup()
    app.router.add_get(HOME_PATH, charging_home, name="charging.home")
    ui.add_menu(app, MenuItem(GROUP, "stations.home.title", HOME_PATH, VIEW, 0))
    # Fixed paths before the generic {id} ones.
    app.router.add_get(f"{CHARGERS_PAGE.path}/qr.xlsx", qr_export, name="charging_chargers.qr")
    for resource in RESOURCES:
        mount(app, resource)
    app.router.add_get(
        f"{STATIONS_PAGE.path}/{{id:\\d+}}", station_detail, name="charging_stations.detail"
    )
    app.router.add_get(
        f"{CHARGERS_PAGE.path}/{{id:\\d+}}", charger_detail, name="charging_chargers.detail"
    )

    def provider_message(action: str) -> Callable[[Any, str], str]:
        return lambda row, lang: i18n.t(f"stations.confirm.{action}", lang, label=row.name)

    for approve in (True, False):
        verb = "approve" if approve else "reject"
        _add_actions(
            app,
            PROVIDERS_PAGE,
            (RowAction(verb, f"stations.action.{verb}"),),
            provider_message(verb),
            lambda slug: _review(slug == "approve"),
            lambda ident: PROVIDERS_PAGE.path,
        )

    def command_message(action: RowAction) -> Callable[[Any, str], str]:
        return lambda row, lang: i18n.t(
            "stations.confirm.command", lang, label=row.name, action=i18n.t(action.label, lang)
        )

    for action in CHARGER_ACTIONS:
        _add_actions(
            app,
            CHARGERS_PAGE,
            (action,),
            command_message(action),
            _charger_run,
            lambda ident: f"{CHARGERS_PAGE.path}/{ident}",
        )
