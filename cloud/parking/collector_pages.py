"""Collector admin pages (人员管理): collectors with password reset, 离职 and 强制签退 from their
row, and the attendance list (考勤) with takings and late/early flags, both exported to Excel."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from cloud import ui
from cloud.auth import Principal
from cloud.parking import (
    collectors,
    texts_collectors,  # noqa: F401 - registers this module's texts
)
from cloud.parking.collector_schemas import (
    CollectorCreate,
    CollectorFilter,
    CollectorUpdate,
    PasswordIn,
    ShiftFilter,
)
from cloud.parking.pass_pages import GROUP, VIEW, RowAction, mount, mount_actions
from cloud.ui import Column, Filter, FormField, Resource

EDIT = "parking.edit"
SECTIONS = ui.service_choices(collectors.section_choices)
STATES = ui.static_choices(
    [("true", "parking.collectors.state.true"), ("false", "parking.collectors.state.false")]
)
OPEN = ui.static_choices(
    [("true", "parking.shifts.open.true"), ("false", "parking.shifts.open.false")]
)

COLLECTORS_PAGE = Resource(
    name="parking_collectors",
    path="/parking/collectors",
    title="parking.collectors.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=70,
    columns=(
        Column("account", "parking.collectors.field.account", sort="account", link=True),
        Column("name", "parking.collectors.field.name", sort="name"),
        Column("employee_no", "parking.collectors.field.employee_no"),
        Column("phone", "parking.collectors.field.phone"),
        Column("section_names", "parking.collectors.field.sections"),
        Column("active", "parking.collectors.field.state"),
        Column("signed_in", "parking.collectors.field.signed_in"),
        Column(
            "created_at", "parking.collectors.field.created_at", sort="created_at", kind="datetime"
        ),
    ),
    filter_model=CollectorFilter,
    filters=(
        Filter("section_id", "parking.collectors.field.section", "select", SECTIONS),
        Filter("account", "parking.collectors.field.account"),
        Filter("name", "parking.collectors.field.name"),
        Filter("active", "parking.collectors.field.state", "select", STATES),
    ),
    create_model=CollectorCreate,
    update_model=CollectorUpdate,
    fields=(
        FormField("account", "parking.collectors.field.account", required=True, on="create"),
        FormField("name", "parking.collectors.field.name", required=True),
        FormField("employee_no", "parking.collectors.field.employee_no"),
        FormField("phone", "parking.collectors.field.phone"),
        FormField(
            "password",
            "parking.collectors.field.password",
            "password",
            required=True,
            help="parking.collectors.help.password",
            on="create",
        ),
        FormField(
            "sections",
            "parking.collectors.field.sections",
            "checkboxes",
            SECTIONS,
            required=True,
            help="parking.collectors.help.sections",
        ),
    ),
    crud=collectors.COLLECTORS,
    label_of=lambda row: f"{row.name} ({row.account})",
)

SHIFTS_PAGE = Resource(
    name="parking_shifts",
    path="/parking/shifts",
    title="parking.shifts.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=71,
    columns=(
        Column("collector_name", "parking.shifts.field.collector"),
        Column("collector", "parking.shifts.field.account", sort="collector"),
        Column("employee_no", "parking.shifts.field.employee_no"),
        Column("section_name", "parking.shifts.field.section"),
        Column("device", "parking.shifts.field.device"),
        Column(
            "signed_in_at",
            "parking.shifts.field.signed_in_at",
            sort="signed_in_at",
            kind="datetime",
        ),
        Column("signed_out_at", "parking.shifts.field.signed_out_at", kind="datetime"),
        Column("hours", "parking.shifts.field.hours"),
        Column("cash", "parking.shifts.field.cash"),
        Column("qr", "parking.shifts.field.qr"),
        Column("arrears", "parking.shifts.field.arrears"),
        Column("total", "parking.shifts.field.total"),
        Column("receipts", "parking.shifts.field.receipts"),
        Column("late", "parking.shifts.field.late", kind="bool"),
        Column("early", "parking.shifts.field.early", kind="bool"),
    ),
    filter_model=ShiftFilter,
    filters=(
        Filter("section_id", "parking.shifts.field.section", "select", SECTIONS),
        Filter("collector", "parking.shifts.field.collector"),
        Filter("signed_in_from", "parking.shifts.field.signed_in_from", "datetime"),
        Filter("signed_in_to", "parking.shifts.field.signed_in_to", "datetime"),
        Filter("open", "parking.shifts.field.open", "select", OPEN),
        Filter(
            "starts", "parking.shifts.field.starts", placeholder="parking.shifts.placeholder.clock"
        ),
        Filter("ends", "parking.shifts.field.ends", placeholder="parking.shifts.placeholder.clock"),
    ),
    crud=collectors.SHIFTS,
)


async def _reset(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    assert isinstance(body, PasswordIn)
    return await collectors.reset_password(principal, ident, body)


async def _resign(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    return await collectors.set_active(principal, ident, False)


async def _reinstate(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    return await collectors.set_active(principal, ident, True)


async def _sign_out(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    return await collectors.force_sign_out(principal, ident)


COLLECTOR_ACTIONS = (
    RowAction(
        "reset-password",
        "parking.collectors.action.reset_password",
        "parking.collectors.confirm.reset_password",
        "parking.collectors.flash.password",
        _reset,
        (
            FormField(
                "password",
                "parking.collectors.field.new_password",
                "password",
                required=True,
                help="parking.collectors.help.password",
            ),
        ),
        PasswordIn,
    ),
    RowAction(
        "resign",
        "parking.collectors.action.resign",
        "parking.collectors.confirm.resign",
        "parking.collectors.flash.resigned",
        _resign,
        danger=True,
    ),
    RowAction(
        "reinstate",
        "parking.collectors.action.reinstate",
        "parking.collectors.confirm.reinstate",
        "parking.collectors.flash.reinstated",
        _reinstate,
    ),
    RowAction(
        "sign-out",
        "parking.collectors.action.sign_out",
        "parking.collectors.confirm.sign_out",
        "parking.collectors.flash.signed_out",
        _sign_out,
        danger=True,
    ),
)


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    mount(app, COLLECTORS_PAGE, "parking/collector_list.html")
    mount_actions(app, COLLECTORS_PAGE, COLLECTOR_ACTIONS)
    mount(app, SHIFTS_PAGE, "parking/shift_list.html")
