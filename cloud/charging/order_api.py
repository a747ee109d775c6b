"""JSON routes of charging orders under /api/v1: list, get, remote start and stop, end and
refund; the payment and refund routes (cloud.payments.api) are mounted with them."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.charging import orders
from cloud.charging import texts_orders as _texts  # noqa: F401 - registers the texts
from cloud.charging.order_schemas import (
    OrderDetail,
    OrderFilter,
    OrderOut,
    RefundIn,
    RemoteStartIn,
    UnmatchedStopFilter,
    UnmatchedStopOut,
)
from cloud.payments import api as payments_api

VIEW = "charging.view"
EDIT = "charging.orders"
TAGS = ("charging",)


async def order_detail(principal: Principal, request: web.Request) -> OrderDetail:
    return await orders.order_detail(principal, path_id(request))


async def remote_start(principal: Principal, request: web.Request, body: RemoteStartIn) -> OrderOut:
    return await orders.start_remote(principal, body)


async def remote_stop(principal: Principal, request: web.Request) -> OrderOut:
    return await orders.stop_remote(principal, path_id(request))


async def end_order(principal: Principal, request: web.Request) -> OrderOut:
    return await orders.end_order(principal, path_id(request))


async def refund_order(principal: Principal, request: web.Request, body: RefundIn) -> OrderOut:
    return await orders.refund_order(principal, path_id(request), body)


ROUTES: list[ApiRoute] = [
    *crud_routes("/charging-orders", "charging", (VIEW, EDIT), orders.ORDERS, OrderOut, OrderFilter),
    ApiRoute(
        "GET", "/charging-orders/{id}/detail", order_detail,
        "One order with its bill lines, meter samples, payments and refunds", VIEW,
        response=OrderDetail, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/charging-orders", remote_start,
        "Remote start: the order is made (starting) and the charger is asked through its edge; "
        "no start reported within 120 s makes it abnormal", EDIT,
        body=RemoteStartIn, response=OrderOut, status=201, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/charging-orders/{id}/remote-stop", remote_stop,
        "Remote stop of a charging or suspended order (state stopping until the edge reports)",
        EDIT, response=OrderOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/charging-orders/{id}/end", end_order,
        "End (结束) a starting, charging, stopping, suspended or abnormal order, settled from "
        "the last reported meter value", EDIT, response=OrderOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/charging-orders/{id}/refund", refund_order,
        "Refund part of a completed order's prepayment: amount_fen at most prepaid minus "
        "refunded", EDIT, body=RefundIn, response=OrderOut, tags=TAGS,
    ),
    *crud_routes("/charging-unmatched-stops", "charging", (VIEW, EDIT), orders.UNMATCHED, UnmatchedStopOut, UnmatchedStopFilter),
    *payments_api.ROUTES,
]  # fmt: skip
