"""JSON routes of monthly-pass rules, monthly passes (issue, edit, renew, cancel) and special
plates under /api/v1."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id, read_body
from cloud.auth import Principal
from cloud.parking import passes, specials
from cloud.parking.pass_schemas import (
    PassFilter,
    PassHolderIn,
    PassIssueIn,
    PassOut,
    PassRenewIn,
    PassRuleFilter,
    PassRuleIn,
    PassRuleOut,
    SpecialPlateFilter,
    SpecialPlateIn,
    SpecialPlateOut,
)

PERMISSIONS = ("parking.view", "parking.edit")
TAGS = ("parking",)


async def renew_monthly_pass(principal: Principal, request: web.Request) -> PassOut | web.Response:
    """The body (PassRenewIn) is read after the pass is found: another tenant's id is a 404
    whatever the body holds."""
    ident = path_id(request)
    await passes.get_pass(principal, ident)
    body = await read_body(request, PassRenewIn)
    if isinstance(body, web.Response):
        return body
    return await passes.renew_pass(principal, ident, body)


async def cancel_monthly_pass(principal: Principal, request: web.Request) -> PassOut:
    return await passes.cancel_pass(principal, path_id(request))


ROUTES: list[ApiRoute] = [
    *crud_routes("/monthly-pass-rules", "parking", PERMISSIONS, passes.RULES, PassRuleOut, PassRuleFilter, PassRuleIn, PassRuleIn),
    *crud_routes("/monthly-passes", "parking", PERMISSIONS, passes.PASSES, PassOut, PassFilter, PassIssueIn, PassHolderIn),
    ApiRoute(
        "POST", "/monthly-passes/{id}/renew", renew_monthly_pass,
        "Renew a pass: body PassRenewIn (months), added from its current end, or from today "
        "once expired; paid grows by months x the rule's price", PERMISSIONS[1],
        response=PassOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/monthly-passes/{id}/cancel", cancel_monthly_pass,
        "Cancel a pass: its plates are withdrawn from every lot and road section at once",
        PERMISSIONS[1], response=PassOut, tags=TAGS,
    ),
    *crud_routes("/special-plates", "parking", PERMISSIONS, specials.SPECIALS, SpecialPlateOut, SpecialPlateFilter, SpecialPlateIn, SpecialPlateIn),
]  # fmt: skip
