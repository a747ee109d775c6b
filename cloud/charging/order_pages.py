"""Charging order pages (3.4.1): the order list with its search and Excel export, the detail
(bill lines, meter curve, payments, refunds), end (结束), refund (退费) and remote stop; the
unmatched-stop review list. Mounting them also registers the order ingest and starts the
sweep that turns unconfirmed remote starts abnormal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import Handler, Principal, principal_of, require
from cloud.charging import order_ingest, orders
from cloud.charging import texts_orders as _texts  # noqa: F401 - registers the texts
from cloud.charging.curves import meter_curve
from cloud.charging.models import OrderState, StartMethod
from cloud.charging.order_schemas import (
    OrderDetail,
    OrderFilter,
    RefundIn,
    UnmatchedStopFilter,
    kwh,
)
from cloud.errors import Conflict, Invalid, NotFound
from cloud.ui import Column, Filter, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display
from cloud.ui.views import (
    _crumbs,
    error_text,
    export_view,
    list_view,
)
from protocols.tariffs import yuan

log = logging.getLogger(__name__)
GROUP = "menu.group.charging"
VIEW = "charging.view"
EDIT = "charging.orders"
SWEEP_EVERY_S = 15.0

STATES = ui.enum_choices(OrderState, "orders.state.")
METHODS = ui.enum_choices(StartMethod, "orders.method.")

ORDERS_PAGE = Resource(
    name="charging_orders",
    path="/charging/orders",
    title="orders.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=60,
    columns=(
        Column("number", "orders.field.number", sort="number", link=True),
        Column("phone", "orders.field.phone"),
        Column("station_name", "orders.field.station"),
        Column("area_name", "orders.field.area"),
        Column("charger_code", "orders.field.charger_code"),
        Column("connector", "orders.field.connector"),
        Column("method", "orders.field.method", kind="enum", prefix="orders.method."),
        Column("prepaid_yuan", "orders.field.prepaid"),
        Column("electricity_yuan", "orders.field.electricity"),
        Column("service_yuan", "orders.field.service"),
        Column("total_yuan", "orders.field.total", sort="total_fen"),
        Column("energy_kwh", "orders.field.energy"),
        Column("duration", "orders.field.duration"),
        Column("state", "orders.field.state", kind="enum", prefix="orders.state."),
        Column("created_at", "orders.field.created_at", sort="created_at", kind="datetime"),
        Column("stopped_at", "orders.field.stopped_at", kind="datetime"),
    ),
    filter_model=OrderFilter,
    filters=(
        Filter("station", "orders.field.station"),
        Filter("number", "orders.field.number"),
        Filter("charger_code", "orders.field.charger_code"),
        Filter("charger_serial", "orders.field.charger_serial"),
        Filter("connector", "orders.field.connector"),
        Filter("phone", "orders.field.phone"),
        Filter("id_tag", "orders.field.id_tag"),
        Filter("state", "orders.field.state", "select", STATES),
        Filter("method", "orders.field.method", "select", METHODS),
        Filter("created_from", "orders.field.created_from", "datetime"),
        Filter("created_to", "orders.field.created_to", "datetime"),
    ),
    crud=orders.ORDERS,
    label_of=lambda o: o.number,
)

UNMATCHED_PAGE = Resource(
    name="charging_unmatched",
    path="/charging/unmatched-stops",
    title="orders.unmatched.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=69,
    columns=(
        Column("at", "orders.field.at", kind="datetime"),
        Column("edge_code", "orders.field.edge"),
        Column("site", "orders.field.station"),
        Column("charge_point", "orders.field.charger_serial"),
        Column("transaction_id", "orders.field.transaction"),
        Column("id_tag", "orders.field.id_tag"),
        Column("meter_stop_wh", "orders.field.meter_stop"),
        Column("received_at", "field.received_at", sort="received_at", kind="datetime"),
    ),
    filter_model=UnmatchedStopFilter,
    filters=(Filter("charge_point", "orders.field.charger_serial"),),
    crud=orders.UNMATCHED,
)


# --- lists whose rows link to a detail page (shared with the payment pages) --------------------


async def _no_row_actions(request: web.Request, principal: Principal) -> dict[str, object]:
    return {"can_edit": False}  # no generic row actions: the detail page holds them


def list_page(resource: Resource, template: str) -> Handler:
    """The generic list rendered by `template` (extends list.html): linked columns open the
    row's detail page at <path>/<id>."""
    return list_view(resource, template, _no_row_actions)


def mount_list(app: web.Application, resource: Resource, template: str) -> None:
    app.router.add_get(resource.path, list_page(resource, template), name=f"{resource.name}.list")
    if resource.export:
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


def not_found_page(handler: Handler) -> Handler:
    """A service's NotFound as the layout's 404 page."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")

    wrapped.__name__ = handler.__name__
    return wrapped


def ident(request: web.Request) -> int:
    return int(request.match_info["id"])


# --- detail -------------------------------------------------------------------------------------


def _facts(order: OrderDetail, lang: str, request: web.Request) -> list[tuple[str, str]]:
    zone = ui.zone_of(request)

    def when(value: Any) -> str:
        return display(value, "datetime", lang, zone)

    meters = [order.meter_start_wh, order.meter_last_wh, order.meter_stop_wh]
    return [
        ("orders.field.station", order.station_name),
        ("orders.field.area", order.area_name),
        ("orders.field.charger_code", order.charger_code),
        ("orders.field.charger_serial", order.charger_serial),
        ("orders.field.connector", str(order.connector)),
        ("orders.field.kind", i18n.t("orders.kind.car", lang)),
        ("orders.field.method", display(order.method, "enum", lang, zone, "orders.method.")),
        ("orders.field.number", order.number),
        ("orders.field.phone", order.phone),
        ("orders.field.id_tag", order.id_tag),
        ("orders.field.plate", order.plate),
        ("orders.field.duration", order.duration),
        ("orders.field.energy", order.energy_kwh),
        ("orders.field.power", str(order.power_w)),
        ("orders.field.meter", " / ".join("" if m is None else str(m) for m in meters)),
        ("orders.field.prepaid", order.prepaid_yuan),
        ("orders.field.electricity", order.electricity_yuan),
        ("orders.field.service", order.service_yuan),
        ("orders.field.total", order.total_yuan),
        ("orders.field.edge_total", yuan(order.edge_total_fen)),
        ("orders.field.refunded", order.refunded_yuan),
        ("orders.field.state", display(order.state, "enum", lang, zone, "orders.state.")),
        ("orders.field.end_reason", order.end_reason),
        ("orders.field.flags", ", ".join(order.flags)),
        ("orders.field.tariff", order.tariff_name),
        ("orders.field.transaction", "" if order.transaction_id is None else str(order.transaction_id)),
        ("orders.field.created_at", when(order.created_at)),
        ("orders.field.started_at", when(order.started_at)),
        ("orders.field.stopped_at", when(order.stopped_at)),
    ]  # fmt: skip


async def _render_detail(
    request: web.Request,
    order: OrderDetail,
    *,
    template: str = "charging/orders/detail.html",
    extra: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    lang, zone = ui.language_of(request), ui.zone_of(request)
    points = [(s.at, s.energy_wh, s.power_w) for s in order.samples]
    if order.started_at is not None and order.meter_start_wh is not None:
        points.insert(0, (order.started_at, order.meter_start_wh, 0))
    points = sorted({p[0]: p for p in points}.values(), key=lambda p: p[0])
    can_edit = principal.can(EDIT)
    return ui.render(
        request,
        template,
        {
            "resource": ORDERS_PAGE,
            "order": order,
            "facts": _facts(order, lang, request),
            "curve": meter_curve(points, order.meter_start_wh, zone),
            "can_end": can_edit and order.state in orders.ENDABLE,
            "can_stop": can_edit and order.state in orders.STOPPABLE,
            "can_refund": can_edit and order.refundable_fen > 0,
            "yuan": yuan,
            "kwh": kwh,
            "when": lambda v: display(v, "datetime", lang, zone),
            "crumbs": _crumbs(ORDERS_PAGE, (order.number, None)),
            **(extra or {}),
        },
        status=status,
    )


@require(VIEW)
async def order_detail(request: web.Request) -> web.StreamResponse:
    order = await orders.order_detail(principal_of(request), ident(request))
    return await _render_detail(request, order)


# --- end and remote stop (confirmed), refund (a form) ------------------------------------------


def _confirm(action: str) -> Handler:
    @require(EDIT)
    async def confirm(request: web.Request) -> web.StreamResponse:
        order = await orders.get_order(principal_of(request), ident(request))
        return ui.render(
            request,
            "charging/orders/confirm.html",
            {
                "resource": ORDERS_PAGE,
                "order": order,
                "action": action,
                "target": request.path,
                "crumbs": _crumbs(ORDERS_PAGE, (order.number, None)),
            },
        )

    confirm.__name__ = f"confirm_{action}"
    return confirm


@require(EDIT)
async def end(request: web.Request) -> web.StreamResponse:
    row_id = ident(request)
    try:
        await orders.end_order(principal_of(request), row_id)
    except Conflict as exc:
        raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", exc.message, "error") from exc
    raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", "orders.flash.ended")


@require(EDIT)
async def stop(request: web.Request) -> web.StreamResponse:
    row_id = ident(request)
    try:
        await orders.stop_remote(principal_of(request), row_id)
    except (Conflict, Invalid) as exc:
        raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", exc.message, "error") from exc
    raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", "orders.flash.stopping")


async def _refund_form(
    request: web.Request,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    lang = ui.language_of(request)
    order = await orders.order_detail(principal_of(request), ident(request))
    return await _render_detail(
        request,
        order,
        template="charging/orders/refund.html",
        extra={
            "values": dict(values or {}),
            "errors": {k: error_text(v, lang) for k, v in (errors or {}).items()},
        },
        status=status,
    )


@require(EDIT)
async def refund_form(request: web.Request) -> web.StreamResponse:
    return await _refund_form(request)


@require(EDIT)
async def refund(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    row_id = ident(request)
    await orders.get_order(principal, row_id)  # another tenant's id: 404 before the form
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "_csrf"}
    raw = values.get("amount_fen", "").strip()
    try:
        amount = int(raw) if raw else None
    except ValueError:
        return await _refund_form(request, values, {"amount_fen": "error.invalid"}, status=400)
    data = RefundIn(
        amount_fen=amount, reason=values.get("reason", "")[:255], payee=values.get("payee", "")[:64]
    )
    try:
        await orders.refund_order(principal, row_id, data)
    except (Invalid, Conflict) as exc:
        return await _refund_form(request, values, {exc.field: exc.message}, status=400)
    raise ui.redirect(f"{ORDERS_PAGE.path}/{row_id}", "orders.flash.refunded")


# --- the sweep of unconfirmed remote starts ----------------------------------------------------


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY_S)
        try:
            expired = await orders.expire_starting()
            if expired:
                log.info("%d remote starts were never confirmed: abnormal", expired)
        except Exception:
            log.exception("the starting-order sweep failed; retrying")


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    order_ingest.setup()
    app.cleanup_ctx.append(_sweeper)
    router = app.router
    path, one = ORDERS_PAGE.path, "/{id:\\d+}"
    mount_list(app, ORDERS_PAGE, "charging/orders/list.html")
    router.add_get(f"{path}{one}", not_found_page(order_detail), name="charging_orders.detail")
    router.add_get(f"{path}{one}/end", not_found_page(_confirm("end")))
    router.add_post(f"{path}{one}/end", not_found_page(end))
    router.add_get(f"{path}{one}/stop", not_found_page(_confirm("stop")))
    router.add_post(f"{path}{one}/stop", not_found_page(stop))
    router.add_get(f"{path}{one}/refund", not_found_page(refund_form))
    router.add_post(f"{path}{one}/refund", not_found_page(refund))
    mount_list(app, UNMATCHED_PAGE, "charging/orders/list.html")
