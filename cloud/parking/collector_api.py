"""JSON routes of collectors (create, change, password reset, 离职, 强制签退) and their
attendance under /api/v1."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id, read_body
from cloud.auth import Principal
from cloud.parking import collectors
from cloud.parking.collector_schemas import (
    CollectorCreate,
    CollectorFilter,
    CollectorOut,
    CollectorUpdate,
    PasswordIn,
    ShiftFilter,
    ShiftOut,
)

PERMISSIONS = ("parking.view", "parking.edit")
TAGS = ("parking",)


async def reset_collector_password(
    principal: Principal, request: web.Request
) -> CollectorOut | web.Response:
    """The body (PasswordIn) is read after the collector is found: another tenant's id is a 404
    whatever the body holds."""
    ident = path_id(request)
    await collectors.get_collector(principal, ident)
    body = await read_body(request, PasswordIn)
    if isinstance(body, web.Response):
        return body
    return await collectors.reset_password(principal, ident, body)


async def resign_collector(principal: Principal, request: web.Request) -> CollectorOut:
    return await collectors.set_active(principal, path_id(request), False)


async def reinstate_collector(principal: Principal, request: web.Request) -> CollectorOut:
    return await collectors.set_active(principal, path_id(request), True)


async def sign_out_collector(principal: Principal, request: web.Request) -> CollectorOut:
    return await collectors.force_sign_out(principal, path_id(request))


ROUTES: list[ApiRoute] = [
    *crud_routes("/collectors", "parking", PERMISSIONS, collectors.COLLECTORS, CollectorOut, CollectorFilter, CollectorCreate, CollectorUpdate),
    ApiRoute(
        "POST", "/collectors/{id}/reset-password", reset_collector_password,
        "A new password (body PasswordIn), published as its hash to the collector's sections",
        PERMISSIONS[1], response=CollectorOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/collectors/{id}/resign", resign_collector,
        "离职: the account stops working on every PDA; an open shift is signed out",
        PERMISSIONS[1], response=CollectorOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/collectors/{id}/reinstate", reinstate_collector,
        "Back to work after 离职", PERMISSIONS[1], response=CollectorOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/collectors/{id}/sign-out", sign_out_collector,
        "强制签退: close the collector's open shift now (422 when none is open)",
        PERMISSIONS[1], response=CollectorOut, tags=TAGS,
    ),
    *crud_routes("/collector-shifts", "parking", PERMISSIONS, collectors.SHIFTS, ShiftOut, ShiftFilter),
]  # fmt: skip
