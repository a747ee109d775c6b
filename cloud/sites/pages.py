"""Sites admin pages: sites, gates, lanes, devices and edges, declared for the generic list and
form; edges add their one-time enrollment token page, revoke and re-enroll; lanes an open-barrier
command; device commands and refused sync events (dead letters) are read-only lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiohttp import web

from cloud import ui
from cloud.auth import SETTINGS_KEY, Principal, principal_of, require
from cloud.sites import edges, service
from cloud.sites.models import CommandState, DeviceKind
from cloud.sites.schemas import (
    CommandFilter,
    DeadLetterFilter,
    DeviceFilter,
    DeviceIn,
    EdgeCreated,
    EdgeFilter,
    EdgeIn,
    EdgeStatus,
    EdgeUpdate,
    GateFilter,
    GateIn,
    LaneFilter,
    LaneIn,
    SiteFilter,
    SiteIn,
)
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.values import display, local_time
from cloud.ui.views import (
    _crumbs,
    action_view,
    export_view,
    form_view,
    list_view,
)
from protocols.site import DefaultAction, Direction, SiteKind, Wiring
from protocols.sync import CommandKind

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

# --- edges ------------------------------------------------------------------------------------

ENROLL_COOKIE = "wayside_enroll"
# The token of the edge just created or re-enrolled, handed from the service call to the handler
# that shows it; a context variable because the generic form calls the service, not this module.
_issued: ContextVar[list[EdgeCreated] | None] = ContextVar("issued_enrollment", default=None)


async def _create_edge(principal: Principal, data: EdgeIn) -> EdgeCreated:
    created = await edges.create_edge(principal, data)
    issued = _issued.get()
    if issued is not None:
        issued.append(created)
    return created


EDGES_PAGE = Resource(
    name="edges",
    path="/edges",
    title="edges.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=50,
    columns=(
        Column("code", "field.code", sort="code", link=True),
        Column("name", "field.name", sort="name"),
        Column("status", "field.edge_status", kind="enum", prefix="edge.status."),
        Column("revisions_text", "field.applied_revision"),
        Column("last_seen_at", "field.last_seen_at", sort="last_seen_at", kind="datetime"),
        Column("acked_seq", "field.acked_seq"),
        Column("backlog", "field.backlog"),
        Column("skew_seconds", "field.clock_skew"),
    ),
    filter_model=EdgeFilter,
    filters=(
        SEARCH,
        Filter("site_id", "field.site", "select", SITES),
        Filter(
            "status", "field.edge_status", "select", ui.enum_choices(EdgeStatus, "edge.status.")
        ),
        # The status names disabled edges too: no second "status" filter for enabled.
    ),
    create_model=EdgeIn,
    update_model=EdgeUpdate,
    fields=(
        FormField("code", "field.code", required=True, help="edges.code_help", on="create"),
        FormField("name", "field.name", required=True),
        FormField("site_ids", "field.sites", "checkboxes", SITES, help="edges.sites_help"),
    ),
    crud=dataclasses.replace(edges.EDGES, create=_create_edge),
    label_of=lambda e: f"{e.name} ({e.code})",
)


async def _edges_context(request: web.Request, principal: Principal) -> dict[str, object]:
    zone = ui.zone_of(request)
    return {"local_time": lambda value: local_time(value, zone, seconds=False)}


# The generic list with the row itself at hand: status, per-site revisions, skew flags.
edges_list = list_view(EDGES_PAGE, "sites/edges.html", _edges_context)


def _show_token_once(request: web.Request, created: EdgeCreated) -> web.HTTPFound:
    """Redirect to the page that shows the token, carrying it in a cookie that page deletes.

    The cloud keeps only the token's hash, so after a redirect (which keeps a reload from
    creating again) only the browser can hand the token back, once, to that one page.
    """
    target = f"{EDGES_PAGE.path}/{created.edge.id}/enrolled"
    response = web.HTTPFound(target)
    response.set_cookie(
        ENROLL_COOKIE,
        created.token,
        path=target,
        max_age=300,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS_KEY].secure_cookies,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


_show_new_edge_form, _save_new_edge = form_view(EDGES_PAGE, "create")


@require(EDIT)
async def edge_create(request: web.Request) -> web.StreamResponse:
    """The generic form save; on success, on to the one-time token page instead of the list."""
    issued: list[EdgeCreated] = []
    marker = _issued.set(issued)
    try:
        return await _save_new_edge(request)
    except web.HTTPFound:
        if not issued:
            raise
        raise _show_token_once(request, issued[0]) from None
    finally:
        _issued.reset(marker)


@require(EDIT)
async def edge_enrolled(request: web.Request) -> web.StreamResponse:
    """The enrollment command with the token, shown once: a reload finds the cookie gone."""
    principal = principal_of(request)
    ident = int(request.match_info["id"])
    edge = await edges.get_edge(principal, ident)
    token = request.cookies.get(ENROLL_COOKIE, "")
    shown = token if token and await edges.enroll_token_matches(principal, ident, token) else ""
    cloud_url = str(request.url.origin())
    zone = ui.zone_of(request)
    response = ui.render(
        request,
        "sites/enrolled.html",
        {
            "resource": EDGES_PAGE,
            "edge": edge,
            "token": shown,
            "command": f"wayside edge enroll --cloud {cloud_url} --token {shown}" if shown else "",
            "until": local_time(edge.enroll_expires_at, zone),
            "status": display(edge.status, "enum", ui.language_of(request), zone, "edge.status."),
            "crumbs": _crumbs(EDGES_PAGE, (EDGES_PAGE.label_of(edge), None)),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    if token:
        response.del_cookie(ENROLL_COOKIE, path=request.path)
    return response


def confirmed(
    resource: Resource,
    action: str,
    run: Callable[[web.Request, Principal, int], Awaitable[web.StreamResponse]],
) -> tuple[Callable[[web.Request], Awaitable[web.StreamResponse]], ...]:
    """An action of one row: GET asks for confirmation, POST runs it (another tenant's id: 404)."""

    @require(resource.edit_permission)
    async def confirm(request: web.Request) -> web.StreamResponse:
        assert resource.crud.get is not None
        row = await resource.crud.get(principal_of(request), int(request.match_info["id"]))
        label = resource.label_of(row)
        return ui.render(
            request,
            "confirm.html",
            {
                "resource": resource,
                "action": action,
                "row_label": label,
                "target": request.path,
                "crumbs": _crumbs(resource, (label, None)),
            },
        )

    @require(resource.edit_permission)
    async def act(request: web.Request) -> web.StreamResponse:
        return await run(request, principal_of(request), int(request.match_info["id"]))

    return confirm, act


async def _revoke(request: web.Request, principal: Principal, ident: int) -> web.StreamResponse:
    await edges.revoke_edge(principal, ident)
    raise ui.redirect(EDGES_PAGE.path, "flash.revoked")


async def _reenroll(request: web.Request, principal: Principal, ident: int) -> web.StreamResponse:
    raise _show_token_once(request, await edges.reenroll_edge(principal, ident))


async def _open_barrier(
    request: web.Request, principal: Principal, ident: int
) -> web.StreamResponse:
    command = await edges.issue_command(principal, ident, CommandKind.open_barrier)
    raise ui.redirect(f"{COMMANDS_PAGE.path}?lane={command.lane}", "flash.command_sent")


# --- commands and dead letters: read-only lists -------------------------------------------------

COMMANDS_PAGE = Resource(
    name="commands",
    path="/commands",
    title="commands.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=60,
    columns=(
        Column("issued_at", "field.issued_at", sort="issued_at", kind="datetime"),
        Column("state", "field.command_state", kind="enum", prefix="command.state."),
        Column("kind", "field.command_kind", kind="enum", prefix="command.kind."),
        Column("site_name", "field.site"),
        Column("lane_label", "field.lane"),
        Column("issued_by", "field.issued_by"),
        Column("expires_at", "field.expires_at", sort="expires_at", kind="datetime"),
        Column("delivered_at", "field.delivered_at", kind="datetime"),
        Column("finished_at", "field.finished_at", kind="datetime"),
        Column("detail", "field.command_detail", kind="wrap"),
    ),
    filter_model=CommandFilter,
    filters=(
        Filter("site_id", "field.site", "select", SITES),
        Filter("lane", "field.lane", "select", ui.service_choices(service.lane_code_choices)),
        Filter(
            "kind", "field.command_kind", "select", ui.enum_choices(CommandKind, "command.kind.")
        ),
        Filter(
            "state",
            "field.command_state",
            "select",
            ui.enum_choices(CommandState, "command.state."),
        ),
        Filter("issued_from", "field.from", "datetime"),
        Filter("issued_to", "field.to", "datetime"),
    ),
    crud=edges.COMMANDS,
)

DEAD_LETTERS_PAGE = Resource(
    name="dead_letters",
    path="/dead-letters",
    title="dead_letters.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=70,
    columns=(
        Column("received_at", "field.received_at", sort="received_at", kind="datetime"),
        Column("edge_code", "field.edge"),
        Column("seq", "field.seq", sort="seq"),
        Column("type", "field.event_type"),
        Column("site", "field.site"),
        Column("occurred_at", "field.occurred_at", sort="occurred_at", kind="datetime"),
        Column("error", "field.error", kind="wrap"),
        Column("uuid", "field.uuid"),
        Column("payload_text", "field.payload", kind="json"),
    ),
    filter_model=DeadLetterFilter,
    filters=(
        Filter("edge_id", "field.edge", "select", ui.service_choices(edges.edge_choices)),
        Filter(
            "type",
            "field.event_type",
            "select",
            ui.service_choices(edges.dead_letter_type_choices),
        ),
        Filter("occurred_from", "field.from", "datetime"),
        Filter("occurred_to", "field.to", "datetime"),
    ),
    crud=edges.DEAD_LETTERS,
)

RESOURCES = (
    SITES_PAGE,
    GATES_PAGE,
    LANES_PAGE,
    DEVICES_PAGE,
    EDGES_PAGE,
    COMMANDS_PAGE,
    DEAD_LETTERS_PAGE,
)
# Mounted whole by the generic plumbing; edges are wired below, since their list and create differ.
GENERIC = (SITES_PAGE, GATES_PAGE, LANES_PAGE, DEVICES_PAGE, COMMANDS_PAGE, DEAD_LETTERS_PAGE)


def _mount_edges(app: web.Application) -> None:
    router = app.router
    path, one = EDGES_PAGE.path, f"{EDGES_PAGE.path}/{{id:\\d+}}"
    router.add_get(path, edges_list, name="edges.list")
    router.add_get(f"{path}/export.xlsx", export_view(EDGES_PAGE), name="edges.export")
    router.add_get(f"{path}/new", _show_new_edge_form, name="edges.new")
    router.add_post(f"{path}/new", edge_create)
    show, save = form_view(EDGES_PAGE, "update")
    router.add_get(f"{one}/edit", show, name="edges.edit")
    router.add_post(f"{one}/edit", save)
    router.add_get(f"{one}/enrolled", edge_enrolled, name="edges.enrolled")
    confirm, act = action_view(EDGES_PAGE)
    router.add_get(f"{one}/{{action:(?:enable|disable|delete)}}", confirm, name="edges.confirm")
    router.add_post(f"{one}/{{action:(?:enable|disable|delete)}}", act)
    for action, run in (("revoke", _revoke), ("reenroll", _reenroll)):
        confirm, act = confirmed(EDGES_PAGE, action, run)
        router.add_get(f"{one}/{action}", confirm, name=f"edges.{action}")
        router.add_post(f"{one}/{action}", act)
    ui.add_menu(
        app, MenuItem(EDGES_PAGE.group, EDGES_PAGE.title, path, VIEW, EDGES_PAGE.menu_order)
    )


def setup(app: web.Application) -> None:
    for resource in GENERIC:
        ui.mount(app, resource)
    _mount_edges(app)
    confirm, act = confirmed(LANES_PAGE, "open_barrier", _open_barrier)
    lane_path = f"{LANES_PAGE.path}/{{id:\\d+}}/open-barrier"
    app.router.add_get(lane_path, confirm, name="lanes.open_barrier")
    app.router.add_post(lane_path, act)
