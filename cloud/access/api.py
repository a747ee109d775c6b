"""JSON routes of the access domain under /api/v1: white/black lists, access rules, records."""

from __future__ import annotations

from aiohttp import web

from cloud.access import schemas as s
from cloud.access import service
from cloud.api import ApiRoute, crud_routes
from cloud.auth import Principal

LISTS = ("lists.view", "lists.edit")
RECORDS = ("access.view", "access.view")


async def dashboard(principal: Principal, request: web.Request) -> s.Dashboard:
    return await service.dashboard(principal)


ROUTES: list[ApiRoute] = [
    *crud_routes("/list-entries", "access", LISTS, service.LIST_ENTRIES, s.ListEntryOut, s.ListEntryFilter, s.ListEntryIn, s.ListEntryIn),
    *crud_routes("/access-rules", "access", LISTS, service.ACCESS_RULES, s.AccessRuleOut, s.AccessRuleFilter, s.AccessRuleIn, s.AccessRuleIn),
    *crud_routes("/access-records", "access", RECORDS, service.ACCESS_RECORDS, s.AccessRecordOut, s.AccessRecordFilter),
    ApiRoute(
        "GET", "/dashboard", dashboard, "Today's counts and the 30-day trend", "dashboard.view",
        response=s.Dashboard, tags=("access",),
    ),
]  # fmt: skip
