"""JSON routes of the access domain under /api/v1: white/black lists, access rules, records."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.access import schemas
from cloud.access import service as svc
from cloud.api import ApiRoute, Crud, part_of
from cloud.auth import Principal
from cloud.paging import Page, PageParams


class AccessRecordQuery(schemas.AccessRecordFilter, PageParams):
    """Filters of the access-records list plus which page; newest first unless desc=false."""


async def list_records(
    principal: Principal, request: web.Request, query: AccessRecordQuery
) -> Page[schemas.AccessRecordOut]:
    found = part_of(query, schemas.AccessRecordFilter)
    return await svc.list_records(principal, found, part_of(query, PageParams))


async def dashboard(principal: Principal, request: web.Request) -> Any:
    return await svc.dashboard(principal)


ROUTES: list[ApiRoute] = [
    *Crud(
        "/list-entries", "access", "lists.view", "lists.edit", schemas.ListEntryOut,
        schemas.ListEntryIn, schemas.ListEntryIn, schemas.ListEntryFilter, svc.list_entries,
        svc.get_entry, svc.create_entry, svc.update_entry, svc.set_entry_enabled,
        svc.delete_entry,
    ).routes(),
    *Crud(
        "/access-rules", "access", "lists.view", "lists.edit", schemas.AccessRuleOut,
        schemas.AccessRuleIn, schemas.AccessRuleIn, schemas.AccessRuleFilter, svc.list_rules,
        svc.get_rule, svc.create_rule, svc.update_rule, svc.set_rule_enabled, svc.delete_rule,
    ).routes(),
    ApiRoute(
        "GET", "/access-records", list_records, "Access records, newest first", "access.view",
        query=AccessRecordQuery, response=Page[schemas.AccessRecordOut], tags=("access",),
    ),
    ApiRoute(
        "GET", "/dashboard", dashboard, "Today's counts and the 30-day trend", "dashboard.view",
        response=schemas.Dashboard, tags=("access",),
    ),
]  # fmt: skip
