"""Arrears pages (欠费管理): vehicles owing (by plate, by amount or count, with 提醒), and the
arrears records (unpaid, paid, void) with void (a reason) and collect (补缴 in cash)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import Principal, principal_of, require
from cloud.errors import Conflict, Invalid
from cloud.parking import arrears
from cloud.parking import texts_orders as _texts  # noqa: F401 - registers the texts
from cloud.parking.models import ArrearsState
from cloud.parking.order_pages import SITES, ident, mount_list, not_found_page
from cloud.parking.order_schemas import (
    ArrearsCollectIn,
    ArrearsFilter,
    ArrearsOut,
    ArrearsVehicleFilter,
    RemindIn,
    VoidIn,
)
from cloud.ui import Column, Filter, Resource
from cloud.ui.views import _crumbs

GROUP = "menu.group.parking"
VIEW = "parking.view"
EDIT = "parking.orders"

ARREARS_PAGE = Resource(
    name="parking_arrears",
    path="/parking/arrears",
    title="parking.arrears.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=43,
    columns=(
        Column("plate", "parking.arrears.field.plate", sort="plate"),
        Column("order_number", "parking.arrears.field.order"),
        Column("site_name", "parking.arrears.field.site"),
        Column("berth", "parking.arrears.field.berth"),
        Column("amount_yuan", "parking.arrears.field.amount", sort="amount_fen"),
        Column("occurred_at", "parking.arrears.field.occurred_at", sort="occurred_at", kind="datetime"),
        Column("state", "parking.arrears.field.state", kind="enum", prefix="parking.arrears.state."),
        Column("settled_at", "parking.arrears.field.settled_at", kind="datetime"),
        Column("settled_by", "parking.arrears.field.settled_by"),
        Column("void_reason", "parking.arrears.field.void_reason"),
        Column("reminders", "parking.arrears.field.reminders"),
    ),
    filter_model=ArrearsFilter,
    filters=(
        Filter("plate", "parking.arrears.field.plate"),
        Filter("site_id", "parking.arrears.field.site", "select", SITES),
        Filter("state", "parking.arrears.field.state", "select", ui.enum_choices(ArrearsState, "parking.arrears.state.")),
        Filter("occurred_from", "parking.arrears.field.occurred_from", "datetime"),
        Filter("occurred_to", "parking.arrears.field.occurred_to", "datetime"),
    ),
    crud=arrears.ARREARS,
    label_of=lambda a: a.plate,
)  # fmt: skip

VEHICLES_PAGE = Resource(
    name="parking_arrears_vehicles",
    path="/parking/arrears-vehicles",
    title="parking.arrears.vehicles.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=42,
    columns=(
        Column("plate", "parking.arrears.field.plate", sort="plate"),
        Column("total_yuan", "parking.arrears.field.total", sort="total_fen"),
        Column("count", "parking.arrears.field.count", sort="count"),
        Column("first_at", "parking.arrears.field.first_at", kind="datetime"),
        Column("last_at", "parking.arrears.field.last_at", sort="last_at", kind="datetime"),
        Column("reminded_at", "parking.arrears.field.reminded_at", kind="datetime"),
        Column("reminders", "parking.arrears.field.reminders"),
    ),
    filter_model=ArrearsVehicleFilter,
    filters=(
        Filter("plate", "parking.arrears.field.plate"),
        Filter("min_total_fen", "parking.arrears.field.min_total"),
    ),
    crud=arrears.VEHICLES,
)  # fmt: skip


async def _list_extra(request: web.Request, principal: Principal) -> dict[str, Any]:
    # Row actions are drawn by the templates (only for rows they apply to).
    return {"can_act": principal.can(EDIT), "can_edit": False}


# --- void and collect --------------------------------------------------------------------------


async def _render_action(
    request: web.Request,
    row: ArrearsOut,
    action: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    return ui.render(
        request,
        "parking/arrears_action.html",
        {
            "resource": ARREARS_PAGE,
            "row": row,
            "action": action,
            "values": dict(values or {}),
            "errors": dict(errors or {}),
            "crumbs": _crumbs(ARREARS_PAGE, (row.plate, None)),
        },
        status=status,
    )


def _action(action: str) -> tuple[Any, Any]:
    @require(EDIT)
    async def show(request: web.Request) -> web.StreamResponse:
        row = await arrears.get_arrears(principal_of(request), ident(request))
        return await _render_action(request, row, action)

    @require(EDIT)
    async def act(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        row_id = ident(request)
        row = await arrears.get_arrears(principal, row_id)  # another tenant's id: 404 first
        form = await request.post()
        reason = str(form.get("reason", "")).strip()[:255]
        try:
            if action == "void":
                await arrears.void_arrears(principal, row_id, VoidIn(reason=reason))
            else:
                await arrears.collect_arrears(principal, row_id, ArrearsCollectIn(method="cash"))
        except (Invalid, Conflict) as exc:
            lang = ui.language_of(request)
            return await _render_action(
                request,
                row,
                action,
                {"reason": reason},
                {exc.field: i18n.t(exc.message, lang)},
                status=400,
            )
        flash = (
            "parking.arrears.flash.voided"
            if action == "void"
            else "parking.arrears.flash.collected"
        )
        raise ui.redirect(f"{ARREARS_PAGE.path}?plate={row.plate}", flash)

    show.__name__ = f"{action}_form"
    act.__name__ = action
    return show, act


# --- remind --------------------------------------------------------------------------------------


async def _render_remind(
    request: web.Request,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    return ui.render(
        request,
        "parking/arrears_remind.html",
        {
            "resource": VEHICLES_PAGE,
            "values": dict(values),
            "errors": dict(errors or {}),
            "crumbs": _crumbs(VEHICLES_PAGE, ("parking.arrears.action.remind", None)),
        },
        status=status,
    )


@require(EDIT)
async def remind_form(request: web.Request) -> web.StreamResponse:
    return await _render_remind(request, {"plate": request.query.get("plate", "")[:16]})


@require(EDIT)
async def remind(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        "plate": str(form.get("plate", "")).strip()[:16],
        "phone": str(form.get("phone", "")).strip()[:20],
    }
    lang = ui.language_of(request)
    if not values["plate"]:
        return await _render_remind(
            request, values, {"plate": i18n.t("error.required", lang)}, status=400
        )
    try:
        await arrears.remind(principal_of(request), RemindIn(**values))
    except (Invalid, Conflict) as exc:
        return await _render_remind(
            request, values, {exc.field: i18n.t(exc.message, lang)}, status=400
        )
    raise ui.redirect(VEHICLES_PAGE.path, "parking.arrears.flash.reminded")


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    router = app.router
    mount_list(app, VEHICLES_PAGE, "parking/arrears_vehicles.html", _list_extra)
    router.add_get(f"{VEHICLES_PAGE.path}/remind", remind_form)
    router.add_post(f"{VEHICLES_PAGE.path}/remind", remind)
    mount_list(app, ARREARS_PAGE, "parking/arrears_list.html", _list_extra)
    one = f"{ARREARS_PAGE.path}/{{id:\\d+}}"
    for action in ("void", "collect"):
        show, act = _action(action)
        router.add_get(f"{one}/{action}", not_found_page(show))
        router.add_post(f"{one}/{action}", not_found_page(act))
