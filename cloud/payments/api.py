"""JSON routes of payment orders and refunds under /api/v1 (mounted with the charging order
routes)."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes
from cloud.auth import Principal
from cloud.charging.order_schemas import (
    PaymentCreated,
    PaymentFilter,
    PaymentIn,
    PaymentOut,
    RefundFilter,
    RefundOut,
)
from cloud.payments import service
from cloud.payments import texts as _texts  # noqa: F401 - registers the texts

PERMISSIONS = ("charging.view", "charging.orders")
TAGS = ("payments",)


async def create_payment(
    principal: Principal, request: web.Request, body: PaymentIn
) -> PaymentCreated:
    base = str(request.url.origin())
    return await service.create_payment(principal, body, notify_base=base, public_base=base)


ROUTES: list[ApiRoute] = [
    *crud_routes("/payments", "payments", PERMISSIONS, service.PAYMENTS, PaymentOut, PaymentFilter),
    ApiRoute(
        "POST", "/payments", create_payment,
        "Create a prepayment for an order: the answer holds the channel's pay URL; the channel "
        "notifies /payments/callback/{channel} when paid (the simulated channel pays by itself)",
        "charging.orders", body=PaymentIn, response=PaymentCreated, status=201, tags=TAGS,
    ),
    *crud_routes("/refunds", "payments", PERMISSIONS, service.REFUNDS, RefundOut, RefundFilter),
]  # fmt: skip
