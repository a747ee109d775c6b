"""Payment pages and routes: the channels' callback (/payments/callback/{channel}, a machine
endpoint, CSRF-exempt, authenticated by the channel's signature), the simulated channel's pay
page, the payment order list and detail (3.4.3) and the refund list and detail (3.4.6)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import principal_of, require
from cloud.charging.models import PaymentState, RefundState
from cloud.charging.order_pages import ident, mount_list, not_found_page
from cloud.charging.order_schemas import PaymentFilter, PaymentOut, RefundFilter, RefundOut
from cloud.errors import Invalid, NotFound
from cloud.payments import service
from cloud.payments import texts as _texts  # noqa: F401 - registers the texts
from cloud.payments.channels import CHANNELS, BadNotification, channel
from cloud.ui import Column, Filter, Resource
from cloud.ui.values import display
from cloud.ui.views import _crumbs

log = logging.getLogger(__name__)
GROUP = "menu.group.charging"
VIEW = "charging.view"
EDIT = "charging.orders"
CHANNEL_CHOICES = ui.static_choices([(name, f"payments.channel.{name}") for name in CHANNELS])

PAYMENTS_PAGE = Resource(
    name="payments",
    path="/payments",
    title="payments.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=62,
    columns=(
        Column("number", "payments.field.number", link=True),
        Column("order_number", "payments.field.order_number"),
        Column("station_name", "payments.field.station"),
        Column("channel", "payments.field.channel", kind="enum", prefix="payments.channel."),
        Column("amount_yuan", "payments.field.amount", sort="amount_fen"),
        Column("phone", "payments.field.phone"),
        Column("state", "payments.field.state", kind="enum", prefix="payments.state."),
        Column("callback", "payments.field.callback", kind="json"),
        Column("created_at", "payments.field.created_at", sort="created_at", kind="datetime"),
        Column("paid_at", "payments.field.paid_at", sort="paid_at", kind="datetime"),
    ),
    filter_model=PaymentFilter,
    filters=(
        Filter("station", "payments.field.station"),
        Filter("channel", "payments.field.channel", "select", CHANNEL_CHOICES),
        Filter(
            "state",
            "payments.field.state",
            "select",
            ui.enum_choices(PaymentState, "payments.state."),
        ),
        Filter("number", "payments.field.order_number"),
        Filter("phone", "payments.field.phone"),
        Filter("created_from", "payments.field.created_from", "datetime"),
        Filter("created_to", "payments.field.created_to", "datetime"),
        Filter("paid_from", "payments.field.paid_from", "datetime"),
        Filter("paid_to", "payments.field.paid_to", "datetime"),
    ),
    crud=service.PAYMENTS,
    label_of=lambda p: p.number,
)

REFUNDS_PAGE = Resource(
    name="refunds",
    path="/refunds",
    title="payments.refunds.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=64,
    columns=(
        Column("order_number", "payments.field.order_number", link=True),
        Column("number", "payments.field.refund_number"),
        Column("payee", "payments.field.payee"),
        Column("order_total_yuan", "payments.field.order_total"),
        Column("paid_yuan", "payments.field.paid_total"),
        Column("amount_yuan", "payments.field.refund_amount", sort="amount_fen"),
        Column("operator", "payments.field.operator"),
        Column("created_at", "payments.field.applied_at", sort="created_at", kind="datetime"),
        Column(
            "state", "payments.field.refund_state", kind="enum", prefix="payments.refund_state."
        ),
        Column("done_at", "payments.field.done_at", sort="done_at", kind="datetime"),
        Column("channel_ref", "payments.field.channel_ref"),
    ),
    filter_model=RefundFilter,
    filters=(
        Filter("station", "payments.field.station"),
        Filter(
            "state",
            "payments.field.refund_state",
            "select",
            ui.enum_choices(RefundState, "payments.refund_state."),
        ),
        Filter("payee", "payments.field.payee"),
        Filter("number", "payments.field.order_number"),
        Filter("created_from", "payments.field.applied_from", "datetime"),
        Filter("created_to", "payments.field.applied_to", "datetime"),
        Filter("done_from", "payments.field.done_from", "datetime"),
        Filter("done_to", "payments.field.done_to", "datetime"),
    ),
    crud=service.REFUNDS,
    label_of=lambda r: r.number,
)


# --- the channels' callback ---------------------------------------------------------------------


async def callback(request: web.Request) -> web.Response:
    """A channel's payment notification: verified by its signature (else 400, nothing changes,
    logged), applied once (a second delivery answers success and changes nothing)."""
    name = request.match_info["channel"]
    gateway = channel(name)
    if gateway is None:
        return web.json_response({"error": "not_found", "message": "unknown channel"}, status=404)
    body = await request.read()
    try:
        note = gateway.verify(body, request.headers)
    except BadNotification as exc:
        log.warning("payment callback %s from %s refused: %s", name, request.remote, exc)
        return web.json_response({"error": "bad_notification", "message": str(exc)}, status=400)
    try:
        row = await service.apply_notification(name, note)
    except NotFound:
        log.warning("payment callback %s: unknown payment %s", name, note.channel_ref)
        return web.json_response({"error": "not_found", "message": "unknown payment"}, status=404)
    except Invalid as exc:
        log.warning("payment callback %s: %s refused: %s", name, note.payment, exc.message)
        return web.json_response(
            {"error": "invalid", "message": i18n.t(exc.message, "en")}, status=400
        )
    return web.json_response({"ok": True, "payment": row.number, "state": row.state.value})


async def simulated_pay_page(request: web.Request) -> web.Response:
    """Where the simulated channel's pay URL points: there is nothing to do there."""
    return web.Response(text=i18n.t("payments.sim.page", ui.language_of(request)))


async def _close_channels(app: web.Application) -> AsyncIterator[None]:
    yield
    for gateway in CHANNELS.values():
        await gateway.close()


# --- details ------------------------------------------------------------------------------------


def _payment_facts(p: PaymentOut, request: web.Request) -> list[tuple[str, str]]:
    lang, zone = ui.language_of(request), ui.zone_of(request)
    return [
        ("payments.field.station", p.station_name),
        ("payments.field.area", p.area_name),
        ("payments.field.charger", p.charger_code),
        ("payments.field.order_type", i18n.t("orders.kind.car", lang)),
        ("payments.field.order_number", p.order_number),
        ("payments.field.number", p.number),
        ("payments.field.channel", display(p.channel, "enum", lang, zone, "payments.channel.")),
        ("payments.field.channel_ref", p.channel_ref),
        ("payments.field.amount", p.amount_yuan),
        ("payments.field.state", display(p.state, "enum", lang, zone, "payments.state.")),
        ("payments.field.duration", p.order_duration),
        ("payments.field.phone", p.phone),
        ("payments.field.created_at", display(p.created_at, "datetime", lang, zone)),
        ("payments.field.paid_at", display(p.paid_at, "datetime", lang, zone)),
    ]


def _refund_facts(r: RefundOut, request: web.Request) -> list[tuple[str, str]]:
    lang, zone = ui.language_of(request), ui.zone_of(request)
    state = display(r.state, "enum", lang, zone, "payments.refund_state.")
    return [
        ("payments.field.station", r.station_name),
        ("payments.field.area", r.area_name),
        ("payments.field.order_number", r.order_number),
        ("payments.field.payment_number", r.payment_number),
        ("payments.field.order_total", r.order_total_yuan),
        ("payments.field.paid_total", r.paid_yuan),
        ("payments.field.refund_amount", r.amount_yuan),
        ("payments.field.refund_kind", i18n.t("payments.refund_kind.prepaid", lang)),
        ("payments.field.operator", r.operator),
        ("payments.field.applied_at", display(r.created_at, "datetime", lang, zone)),
        ("payments.field.done_at", display(r.done_at, "datetime", lang, zone)),
        ("payments.field.reason", r.reason),
        ("payments.field.refund_state", state),
        ("payments.field.result", r.channel_ref),
        ("payments.field.refund_number", r.number),
        ("payments.field.payee", r.payee),
    ]


def _detail(resource: Resource, template: str, kind: str) -> Any:
    @require(VIEW)
    async def detail(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        if kind == "payment":
            row: Any = await service.get_payment(principal, ident(request))
            facts = _payment_facts(row, request)
        else:
            row = await service.get_refund(principal, ident(request))
            facts = _refund_facts(row, request)
        return ui.render(
            request,
            template,
            {
                "resource": resource,
                "row": row,
                "facts": facts,
                "crumbs": _crumbs(resource, (row.number, None)),
            },
        )

    detail.__name__ = f"{kind}_detail"
    return detail


def setup(app: web.Application) -> None:
    """Mount the payment routes."""
    app.cleanup_ctx.append(_close_channels)
    router = app.router
    router.add_post("/payments/callback/{channel}", callback, name="payments.callback")
    router.add_get("/payments/sim/{ref}", simulated_pay_page, name="payments.sim")
    mount_list(app, PAYMENTS_PAGE, "charging/orders/list.html")
    router.add_get(
        "/payments/{id:\\d+}",
        not_found_page(_detail(PAYMENTS_PAGE, "payments/detail.html", "payment")),
        name="payments.detail",
    )
    mount_list(app, REFUNDS_PAGE, "charging/orders/list.html")
    router.add_get(
        "/refunds/{id:\\d+}",
        not_found_page(_detail(REFUNDS_PAGE, "payments/detail.html", "refund")),
        name="refunds.detail",
    )
