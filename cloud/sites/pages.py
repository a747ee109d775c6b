"""Sites admin pages: sites, gates, lanes and devices, declared for the generic list and form."""

from __future__ import annotations

from aiohttp import web

from cloud import ui
from cloud.sites import service
from cloud.sites.models import DeviceKind
from cloud.sites.schemas import (
    DeviceFilter,
    DeviceIn,
    GateFilter,
    GateIn,
    LaneFilter,
    LaneIn,
    SiteFilter,
    SiteIn,
)
from cloud.ui import Column, Filter, FormField, Resource
from protocols.site import DefaultAction, Direction, SiteKind, Wiring

GROUP = "menu.group.sites"
VIEW, EDIT = "sites.view", "sites.edit"
SITES = ui.service_choices(service.site_choices)
GATES = ui.service_choices(service.gate_choices)
LANES = ui.service_choices(service.lane_choices)
ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
SEARCH = Filter("q", "field.search", placeholder="filter.code_or_name")

SITES_PAGE = Resource(
    name="sites",
    path="/sites",
    title="sites.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=10,
    columns=(
        Column("code", "field.code", sort="code", link=True),
        Column("name", "field.name", sort="name"),
        Column("kind", "field.site_kind", kind="enum", prefix="site.kind."),
        Column("address", "field.address"),
        Column("capacity", "field.capacity"),
        Column("revision", "field.revision"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=SiteFilter,
    filters=(
        SEARCH,
        Filter("kind", "field.site_kind", "select", ui.enum_choices(SiteKind, "site.kind.")),
        ENABLED,
    ),
    create_model=SiteIn,
    update_model=SiteIn,
    fields=(
        FormField("code", "field.code", required=True, help="help.code"),
        FormField("name", "field.name", required=True),
        FormField(
            "kind",
            "field.site_kind",
            "select",
            ui.enum_choices(SiteKind, "site.kind."),
            required=True,
        ),
        FormField("address", "field.address"),
        FormField("capacity", "field.capacity", "number"),
    ),
    crud=service.SITES,
    label_of=lambda s: f"{s.name} ({s.code})",
)

GATES_PAGE = Resource(
    name="gates",
    path="/gates",
    title="gates.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=20,
    columns=(
        Column("code", "field.code", sort="code", link=True),
        Column("name", "field.name", sort="name"),
        Column("site_name", "field.site"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=GateFilter,
    filters=(SEARCH, Filter("site_id", "field.site", "select", SITES), ENABLED),
    create_model=GateIn,
    update_model=GateIn,
    fields=(
        FormField("site_id", "field.site", "select", SITES, required=True),
        FormField("code", "field.code", required=True, help="help.code"),
        FormField("name", "field.name", required=True),
    ),
    crud=service.GATES,
    label_of=lambda g: f"{g.name} ({g.code})",
)

LANES_PAGE = Resource(
    name="lanes",
    path="/lanes",
    title="lanes.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=30,
    columns=(
        Column("code", "field.code", sort="code", link=True),
        Column("name", "field.name", sort="name"),
        Column("site_name", "field.site"),
        Column("gate_name", "field.gate"),
        Column("direction", "field.direction", kind="enum", prefix="direction."),
        Column("wiring", "field.wiring", kind="enum", prefix="wiring."),
        Column("default_action", "field.default_action", kind="enum", prefix="action."),
        Column("min_confidence", "field.min_confidence"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=LaneFilter,
    filters=(
        SEARCH,
        Filter("site_id", "field.site", "select", SITES),
        Filter("gate_id", "field.gate", "select", GATES),
        ENABLED,
    ),
    create_model=LaneIn,
    update_model=LaneIn,
    fields=(
        FormField("gate_id", "field.gate", "select", GATES, required=True),
        FormField("code", "field.code", required=True, help="help.code"),
        FormField("name", "field.name", required=True),
        FormField(
            "direction",
            "field.direction",
            "select",
            ui.enum_choices(Direction, "direction."),
            required=True,
        ),
        FormField("wiring", "field.wiring", "select", ui.enum_choices(Wiring, "wiring.")),
        FormField(
            "default_action",
            "field.default_action",
            "select",
            ui.enum_choices(DefaultAction, "action."),
            help="lanes.default_help",
        ),
        FormField("min_confidence", "field.min_confidence", "number"),
    ),
    crud=service.LANES,
    label_of=lambda lane: f"{lane.name} ({lane.code})",
)

DEVICES_PAGE = Resource(
    name="devices",
    path="/devices",
    title="devices.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=40,
    columns=(
        Column("name", "field.name", sort="name", link=True),
        Column("kind", "field.device_kind", sort="kind", kind="enum", prefix="device.kind."),
        Column("site_name", "field.site"),
        Column("lane_name", "field.lane"),
        Column("vendor", "field.vendor"),
        Column("serial", "field.serial"),
        Column("address", "field.device_address"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=DeviceFilter,
    filters=(
        Filter("q", "field.search", placeholder="filter.name_or_serial"),
        Filter("site_id", "field.site", "select", SITES),
        Filter("kind", "field.device_kind", "select", ui.enum_choices(DeviceKind, "device.kind.")),
        ENABLED,
    ),
    create_model=DeviceIn,
    update_model=DeviceIn,
    fields=(
        FormField("site_id", "field.site", "select", SITES, required=True),
        FormField("lane_id", "field.lane", "select", LANES),
        FormField(
            "kind",
            "field.device_kind",
            "select",
            ui.enum_choices(DeviceKind, "device.kind."),
            required=True,
        ),
        FormField("name", "field.name", required=True),
        FormField("vendor", "field.vendor"),
        FormField("serial", "field.serial"),
        FormField("address", "field.device_address", help="devices.address_help"),
    ),
    crud=service.DEVICES,
    label_of=lambda d: d.name,
)

RESOURCES = (SITES_PAGE, GATES_PAGE, LANES_PAGE, DEVICES_PAGE)


def setup(app: web.Application) -> None:
    for resource in RESOURCES:
        ui.mount(app, resource)
