"""JSON routes of parking orders and pass-through records under /api/v1: list (with the
totals of a filter), get, detail and void."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.parking import orders
from cloud.parking import texts_orders as _texts  # noqa: F401 - registers the texts
from cloud.parking.order_schemas import (
    ParkingOrderDetail,
    ParkingOrderFilter,
    ParkingOrderOut,
    ParkingOrderTotals,
    PassRecordFilter,
    PassRecordOut,
    VoidIn,
)

VIEW = "parking.view"
EDIT = "parking.orders"
TAGS = ("parking",)


async def order_detail(principal: Principal, request: web.Request) -> ParkingOrderDetail:
    return await orders.order_detail(principal, path_id(request))


async def order_totals(
    principal: Principal, request: web.Request, query: Any
) -> ParkingOrderTotals:
    return await orders.order_totals(principal, query)


async def void_order(principal: Principal, request: web.Request, body: VoidIn) -> ParkingOrderOut:
    return await orders.void_order(principal, path_id(request), body)


ROUTES: list[ApiRoute] = [
    ApiRoute(
        "GET", "/parking-orders/totals", order_totals,
        "预缴费, 应收, 实收 and 应缴余额 over every order the filter leaves", VIEW,
        query=ParkingOrderFilter, response=ParkingOrderTotals, tags=TAGS,
    ),
    *crud_routes("/parking-orders", "parking", (VIEW, EDIT), orders.ORDERS, ParkingOrderOut, ParkingOrderFilter),
    ApiRoute(
        "GET", "/parking-orders/{id}/detail", order_detail,
        "One order with its bill lines, both bills' totals, payments, arrears and evidence",
        VIEW, response=ParkingOrderDetail, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/parking-orders/{id}/void", void_order,
        "Void (作废) an order still in progress: reason required; its berth is freed",
        EDIT, body=VoidIn, response=ParkingOrderOut, tags=TAGS,
    ),
    *crud_routes("/parking-records", "parking", (VIEW, EDIT), orders.RECORDS, PassRecordOut, PassRecordFilter),
]  # fmt: skip
