"""Access admin pages: home dashboard, white/black lists, access rules and the access-records list."""

from __future__ import annotations

from aiohttp import web

from cloud import ui
from cloud.access import service
from cloud.access.schemas import (
    AccessRecordFilter,
    AccessRuleFilter,
    AccessRuleIn,
    ListEntryFilter,
    ListEntryIn,
)
from cloud.auth import principal_of, require
from cloud.org.models import Tenant, TenantKind
from cloud.sites.service import site_choices
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from protocols.events import Verdict
from protocols.sync import ListKind

GROUP = "menu.group.access"
SITES = ui.service_choices(site_choices)
SITE_FILTER = Filter("site_id", "field.site", "select", SITES)
ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
WEEKDAYS = ui.static_choices([(str(day), f"weekday.{day}") for day in range(1, 8)])

LISTS_PAGE = Resource(
    name="lists",
    path="/lists",
    title="lists.title",
    group=GROUP,
    view_permission="lists.view",
    edit_permission="lists.edit",
    menu=(
        ("lists.whitelist", "/lists?kind=whitelist"),
        ("lists.blacklist", "/lists?kind=blacklist"),
    ),
    menu_order=20,
    columns=(
        Column("plate", "field.plate", sort="plate", link=True),
        Column("kind", "field.list_kind", kind="enum", prefix="list.kind."),
        Column("site_name", "field.site"),
        Column("valid_from", "field.valid_from", kind="datetime"),
        Column("valid_until", "field.valid_until", kind="datetime"),
        Column("note", "field.note"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("created_at", "field.created_at", sort="created_at", kind="datetime"),
    ),
    filter_model=ListEntryFilter,
    filters=(
        Filter("plate", "field.plate", placeholder="filter.plate_prefix"),
        Filter("kind", "field.list_kind", "select", ui.enum_choices(ListKind, "list.kind.")),
        SITE_FILTER,
        ENABLED,
    ),
    create_model=ListEntryIn,
    update_model=ListEntryIn,
    fields=(
        FormField("site_id", "field.site", "select", SITES, required=True),
        FormField(
            "kind",
            "field.list_kind",
            "select",
            ui.enum_choices(ListKind, "list.kind."),
            required=True,
        ),
        FormField("plate", "field.plate", required=True, help="help.plate"),
        FormField("valid_from", "field.valid_from", "datetime"),
        FormField("valid_until", "field.valid_until", "datetime"),
        FormField("note", "field.note", "textarea"),
    ),
    crud=service.LIST_ENTRIES,
    label_of=lambda e: e.plate,
)

RULES_PAGE = Resource(
    name="rules",
    path="/rules",
    title="rules.title",
    group=GROUP,
    view_permission="lists.view",
    edit_permission="lists.edit",
    menu_order=30,
    columns=(
        Column("name", "field.name", sort="name", link=True),
        Column("site_name", "field.site"),
        Column("plate", "field.plate"),
        Column("lanes", "field.lanes", kind="list"),
        Column("weekdays", "field.weekdays", kind="list", prefix="weekday.short."),
        Column("start_time", "field.start_time", kind="time"),
        Column("end_time", "field.end_time", kind="time"),
        Column("valid_until", "field.valid_until", kind="datetime"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=AccessRuleFilter,
    filters=(Filter("q", "field.search", placeholder="filter.name_or_plate"), SITE_FILTER, ENABLED),
    create_model=AccessRuleIn,
    update_model=AccessRuleIn,
    fields=(
        FormField("site_id", "field.site", "select", SITES, required=True),
        FormField("name", "field.name", required=True),
        FormField("plate", "field.plate", help="rules.plate_help"),
        FormField(
            "lanes",
            "field.lanes",
            "checkboxes",
            ui.service_choices(service.lane_code_choices),
            help="rules.lanes_help",
        ),
        FormField("weekdays", "field.weekdays", "checkboxes", WEEKDAYS, required=True),
        FormField("start_time", "field.start_time", "time", required=True),
        FormField("end_time", "field.end_time", "time", required=True),
        FormField("valid_from", "field.valid_from", "datetime"),
        FormField("valid_until", "field.valid_until", "datetime"),
    ),
    crud=service.ACCESS_RULES,
    label_of=lambda r: r.name,
)

RECORDS_PAGE = Resource(
    name="records",
    path="/records",
    title="records.title",
    group=GROUP,
    view_permission="access.view",
    edit_permission="access.view",
    menu_order=10,
    columns=(
        Column("occurred_at", "field.occurred_at", sort="occurred_at", kind="datetime"),
        Column("plate", "field.plate"),
        Column("site_name", "field.site"),
        Column("gate", "field.gate"),
        Column("lane", "field.lane"),
        Column("direction", "field.direction", kind="enum", prefix="direction."),
        Column("verdict", "field.verdict", kind="enum", prefix="verdict."),
        Column("reason", "field.reason", kind="enum", prefix="reason."),
        Column("confidence", "field.confidence"),
    ),
    filter_model=AccessRecordFilter,
    filters=(
        Filter("plate", "field.plate", placeholder="filter.plate_exact_or_prefix"),
        SITE_FILTER,
        Filter("gate", "field.gate", "select", ui.service_choices(service.gate_code_choices)),
        Filter("lane", "field.lane", "select", ui.service_choices(service.lane_code_choices)),
        Filter("verdict", "field.verdict", "select", ui.enum_choices(Verdict, "verdict.")),
        Filter("occurred_from", "field.from", "datetime"),
        Filter("occurred_to", "field.to", "datetime"),
    ),
    crud=service.ACCESS_RECORDS,
)

RESOURCES = (RECORDS_PAGE, LISTS_PAGE, RULES_PAGE)


@require()
async def home(request: web.Request) -> web.StreamResponse:
    """Today's decisions and the 30-day trend; users without the dashboard see only a welcome."""
    principal = principal_of(request)
    tenant = await Tenant.get(id=principal.tenant_id)
    if tenant.kind == TenantKind.charging_provider and principal.can("charging.view"):
        raise web.HTTPFound("/charging")  # a charging operator's home is its own dashboard
    context: dict[str, object] = {"dashboard": None, "chart": None, "crumbs": [("menu.home", None)]}
    if principal.can("dashboard.view"):
        data = await service.dashboard(principal, ui.zone_of(request))
        context["dashboard"] = data
        context["chart"] = ui.bar_chart([(d.day, d.open, d.deny) for d in data.trend])
    return ui.render(request, "home.html", context)


def setup(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    ui.add_menu(app, MenuItem("menu.group.home", "menu.home", "/", None, 0))
    for resource in RESOURCES:
        ui.mount(app, resource)
