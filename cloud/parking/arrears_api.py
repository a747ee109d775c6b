"""JSON routes of arrears under /api/v1: records (list, get, void, collect), vehicles owing
(by plate) and the reminder."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.parking import arrears
from cloud.parking.order_schemas import (
    ArrearsCollectIn,
    ArrearsFilter,
    ArrearsOut,
    ArrearsVehicleFilter,
    ArrearsVehicleOut,
    ReminderOut,
    RemindIn,
    VoidIn,
)

VIEW = "parking.view"
EDIT = "parking.orders"
TAGS = ("parking",)


async def void_arrears(principal: Principal, request: web.Request, body: VoidIn) -> ArrearsOut:
    return await arrears.void_arrears(principal, path_id(request), body)


async def collect_arrears(
    principal: Principal, request: web.Request, body: ArrearsCollectIn
) -> ArrearsOut:
    return await arrears.collect_arrears(principal, path_id(request), body)


async def remind(principal: Principal, request: web.Request, body: RemindIn) -> ReminderOut:
    return await arrears.remind(principal, body)


ROUTES: list[ApiRoute] = [
    *crud_routes("/parking-arrears", "parking", (VIEW, EDIT), arrears.ARREARS, ArrearsOut, ArrearsFilter),
    ApiRoute(
        "POST", "/parking-arrears/{id}/void", void_arrears,
        "Void (作废) an unpaid arrears record: reason required; the plate's arrears are republished",
        EDIT, body=VoidIn, response=ArrearsOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/parking-arrears/{id}/collect", collect_arrears,
        "Collect (补缴) an unpaid arrears record in cash: a payment (purpose arrears) settles it",
        EDIT, body=ArrearsCollectIn, response=ArrearsOut, tags=TAGS,
    ),
    *crud_routes("/parking-arrears-vehicles", "parking", (VIEW, EDIT), arrears.VEHICLES, ArrearsVehicleOut, ArrearsVehicleFilter),
    ApiRoute(
        "POST", "/parking-arrears-vehicles/remind", remind,
        "Remind (提醒) a plate's driver of its unpaid arrears, by SMS to the phone given or to "
        "its monthly pass holder's", EDIT, body=RemindIn, response=ReminderOut, tags=TAGS,
    ),
]  # fmt: skip
