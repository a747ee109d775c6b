"""Parking order pages (停车记录): the order list with its search, totals row and Excel export,
the detail (bill line by line, payments, arrears, evidence images), voiding an order still in
progress; the pass-through record list (过车记录). Mounting them registers the order ingest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import Principal, principal_of, require
from cloud.errors import Conflict, Invalid, NotFound
from cloud.parking import order_ingest, orders
from cloud.parking import texts_orders as _texts  # noqa: F401 - registers the texts
from cloud.parking.models import OrderState, PayState
from cloud.parking.order_schemas import (
    ParkingOrderDetail,
    ParkingOrderFilter,
    PassRecordFilter,
    VoidIn,
)
from cloud.ui import Column, Filter, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display
from cloud.ui.views import _crumbs, _filter_data, _strip_bad_fields, export_view, list_view
from protocols.events import Verdict
from protocols.parking import VehicleType
from protocols.site import Direction
from protocols.tariffs import yuan

GROUP = "menu.group.parking"
VIEW = "parking.view"
EDIT = "parking.orders"
SNAPSHOTS = "/parking/snapshots"

STATES = ui.enum_choices(OrderState, "parking.orders.state.")
PAY_STATES = ui.enum_choices(PayState, "parking.orders.pay_state.")
VEHICLE_TYPES = ui.enum_choices(VehicleType, "parking.orders.vehicle_type.")
SITES = ui.service_choices(orders.parking_site_choices)
REGIONS = ui.service_choices(orders.region_choices)
STREETS = ui.service_choices(orders.street_choices)


async def _collector_choices(principal: Principal) -> list[tuple[str, str]]:
    from cloud.parking.models import Collector

    rows = await Collector.filter(tenant_id=principal.tenant_id).order_by("account")
    return [(c.account, f"{c.account} · {c.name}") for c in rows]


ORDERS_PAGE = Resource(
    name="parking_orders",
    path="/parking/orders",
    title="parking.orders.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=40,
    columns=(
        Column("number", "parking.orders.field.number", sort="number", link=True),
        Column("region", "parking.orders.field.region"),
        Column("street", "parking.orders.field.street"),
        Column("site_name", "parking.orders.field.site"),
        Column("berth", "parking.orders.field.berth"),
        Column("plate", "parking.orders.field.plate"),
        Column("vehicle_type", "parking.orders.field.vehicle_type", kind="enum", prefix="parking.orders.vehicle_type."),
        Column("entered_at", "parking.orders.field.entered_at", sort="entered_at", kind="datetime"),
        Column("exited_at", "parking.orders.field.exited_at", sort="exited_at", kind="datetime"),
        Column("duration", "parking.orders.field.duration"),
        Column("state", "parking.orders.field.state", kind="enum", prefix="parking.orders.state."),
        Column("pay_state", "parking.orders.field.pay_state", kind="enum", prefix="parking.orders.pay_state."),
        Column("prepaid_yuan", "parking.orders.field.prepaid"),
        Column("due_yuan", "parking.orders.field.due", sort="due_fen"),
        Column("paid_yuan", "parking.orders.field.paid", sort="paid_fen"),
        Column("balance_yuan", "parking.orders.field.balance"),
        Column("collector", "parking.orders.field.collector"),
    ),
    filter_model=ParkingOrderFilter,
    filters=(
        Filter("region", "parking.orders.field.region", "select", REGIONS),
        Filter("street", "parking.orders.field.street", "select", STREETS),
        Filter("site_id", "parking.orders.field.site", "select", SITES),
        Filter("plate", "parking.orders.field.plate"),
        Filter("number", "parking.orders.field.number"),
        Filter("berth", "parking.orders.field.berth"),
        Filter("state", "parking.orders.field.state", "select", STATES),
        Filter("pay_state", "parking.orders.field.pay_state", "select", PAY_STATES),
        Filter("collector", "parking.orders.field.collector", "select", ui.service_choices(_collector_choices)),
        Filter("vehicle_type", "parking.orders.field.vehicle_type", "select", VEHICLE_TYPES),
        Filter("entered_from", "parking.orders.field.entered_from", "datetime"),
        Filter("entered_to", "parking.orders.field.entered_to", "datetime"),
        Filter("exited_from", "parking.orders.field.exited_from", "datetime"),
        Filter("exited_to", "parking.orders.field.exited_to", "datetime"),
    ),
    crud=orders.ORDERS,
    label_of=lambda o: o.number,
)  # fmt: skip

RECORDS_PAGE = Resource(
    name="parking_records",
    path="/parking/records",
    title="parking.records.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=41,
    columns=(
        Column("occurred_at", "parking.records.field.occurred_at", sort="occurred_at", kind="datetime"),
        Column("site_name", "parking.records.field.site"),
        Column("gate", "parking.records.field.gate"),
        Column("lane", "parking.records.field.lane"),
        Column("direction", "parking.records.field.direction", kind="enum", prefix="direction."),
        Column("plate", "parking.records.field.plate"),
        Column("verdict", "parking.records.field.verdict", kind="enum", prefix="verdict."),
        Column("reason", "parking.records.field.reason", kind="enum", prefix="reason."),
        Column("snapshot", "parking.records.field.snapshot"),
    ),
    filter_model=PassRecordFilter,
    filters=(
        Filter("site_id", "parking.records.field.site", "select", SITES),
        Filter("plate", "parking.records.field.plate"),
        Filter("lane", "parking.records.field.lane"),
        Filter("direction", "parking.records.field.direction", "select", ui.enum_choices(Direction, "direction.")),
        Filter("verdict", "parking.records.field.verdict", "select", ui.enum_choices(Verdict, "verdict.")),
        Filter("occurred_from", "parking.records.field.occurred_from", "datetime"),
        Filter("occurred_to", "parking.records.field.occurred_to", "datetime"),
    ),
    crud=orders.RECORDS,
)  # fmt: skip


def ident(request: web.Request) -> int:
    return int(request.match_info["id"])


def not_found_page(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


def mount_list(app: web.Application, resource: Resource, template: str, extra: Any = None) -> None:
    app.router.add_get(
        resource.path, list_view(resource, template, extra), name=f"{resource.name}.list"
    )
    app.router.add_get(
        f"{resource.path}/export.xlsx", export_view(resource), name=f"{resource.name}.export"
    )
    ui.add_menu(
        app,
        MenuItem(
            resource.group, resource.title, resource.path, resource.view_permission,
            resource.menu_order,
        ),
    )  # fmt: skip


async def _order_list_extra(request: web.Request, principal: Principal) -> dict[str, Any]:
    filters, _ = _strip_bad_fields(ParkingOrderFilter, _filter_data(request, ORDERS_PAGE))
    assert isinstance(filters, ParkingOrderFilter)
    return {
        "totals": await orders.order_totals(principal, filters),
        "can_edit": False,  # no generic row actions: the detail page holds them
        "snapshots": SNAPSHOTS,
    }


async def _records_extra(request: web.Request, principal: Principal) -> dict[str, Any]:
    return {"can_edit": False, "snapshots": SNAPSHOTS}


# --- detail and void ---------------------------------------------------------------------------


def _facts(order: ParkingOrderDetail, lang: str, request: web.Request) -> list[tuple[str, str]]:
    zone = ui.zone_of(request)

    def when(value: Any) -> str:
        return display(value, "datetime", lang, zone)

    def enum(value: Any, prefix: str) -> str:
        return display(value, "enum", lang, zone, prefix)

    return [
        ("parking.orders.field.number", order.number),
        ("parking.orders.field.site", order.site_name),
        ("parking.orders.field.region", order.region),
        ("parking.orders.field.street", order.street),
        ("parking.orders.field.berth", order.berth),
        ("parking.orders.field.entry_lane", order.entry_lane),
        ("parking.orders.field.exit_lane", order.exit_lane),
        ("parking.orders.field.plate", order.plate),
        ("parking.orders.field.vehicle_class", enum(order.vehicle_class, "parking.orders.vehicle_class.")),
        ("parking.orders.field.vehicle_type", enum(order.vehicle_type, "parking.orders.vehicle_type.")),
        ("parking.orders.field.entered_at", when(order.entered_at)),
        ("parking.orders.field.exited_at", when(order.exited_at)),
        ("parking.orders.field.duration", order.duration),
        ("parking.orders.field.state", enum(order.state, "parking.orders.state.")),
        ("parking.orders.field.pay_state", enum(order.pay_state, "parking.orders.pay_state.")),
        ("parking.orders.field.prepaid", order.prepaid_yuan),
        ("parking.orders.field.due", order.due_yuan),
        ("parking.orders.field.paid", order.paid_yuan),
        ("parking.orders.field.balance", order.balance_yuan),
        ("parking.orders.field.cloud_total", yuan(order.cloud_total_fen)),
        ("parking.orders.field.edge_total", yuan(order.edge_total_fen)),
        ("parking.orders.field.mismatch", i18n.t("common.yes" if order.bill_mismatch else "common.no", lang)),
        ("parking.orders.field.tariff", order.tariff),
        ("parking.orders.field.collector", order.collector),
        ("parking.orders.field.free_reason", order.free_reason),
        ("parking.orders.field.void_reason", order.void_reason),
        ("parking.orders.field.created_at", when(order.created_at)),
    ]  # fmt: skip


async def _render_detail(
    request: web.Request,
    *,
    template: str = "parking/order_detail.html",
    extra: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    order = await orders.order_detail(principal, ident(request))
    lang, zone = ui.language_of(request), ui.zone_of(request)
    return ui.render(
        request,
        template,
        {
            "resource": ORDERS_PAGE,
            "order": order,
            "facts": _facts(order, lang, request),
            "can_void": principal.can(EDIT) and order.state == OrderState.in_progress,
            "yuan": yuan,
            "when": lambda v: display(v, "datetime", lang, zone),
            "snapshots": SNAPSHOTS,
            "crumbs": _crumbs(ORDERS_PAGE, (order.number, None)),
            "values": {},
            "errors": {},
            **(extra or {}),
        },
        status=status,
    )


@require(VIEW)
async def order_detail(request: web.Request) -> web.StreamResponse:
    return await _render_detail(request)


@require(EDIT)
async def void_form(request: web.Request) -> web.StreamResponse:
    return await _render_detail(request, template="parking/order_void.html")


@require(EDIT)
async def void(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    row_id = ident(request)
    await orders.get_order(principal, row_id)  # another tenant's id: 404 before the form
    form = await request.post()
    reason = str(form.get("reason", "")).strip()[:255]
    try:
        await orders.void_order(principal, row_id, VoidIn(reason=reason))
    except (Invalid, Conflict) as exc:
        lang = ui.language_of(request)
        return await _render_detail(
            request,
            template="parking/order_void.html",
            extra={
                "values": {"reason": reason},
                "errors": {exc.field: i18n.t(exc.message, lang)},
            },
            status=400,
        )
    raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", "parking.orders.flash.voided")


def setup(app: web.Application) -> None:
    """Mount this module's pages and take the parking events of the sync ingest."""
    order_ingest.setup()
    router = app.router
    path, one = ORDERS_PAGE.path, "/{id:\\d+}"
    mount_list(app, ORDERS_PAGE, "parking/order_list.html", _order_list_extra)
    router.add_get(f"{path}{one}", not_found_page(order_detail), name="parking_orders.detail")
    router.add_get(f"{path}{one}/void", not_found_page(void_form))
    router.add_post(f"{path}{one}/void", not_found_page(void))
    mount_list(app, RECORDS_PAGE, "parking/record_list.html", _records_extra)
