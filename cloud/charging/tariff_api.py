"""JSON routes of the tariffs under /api/v1: the list, one tariff with its versions, create,
change (a new version from the next local midnight), enable, disable, delete, and the billing
test."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id, read_body
from cloud.auth import Principal
from cloud.charging import tariffs as service
from cloud.charging.tariff_schemas import (
    BillOut,
    BillTestIn,
    TariffDetail,
    TariffFilter,
    TariffIn,
    TariffOut,
)

PERMISSIONS = ("charging.view", "charging.edit")


async def tariff_versions(principal: Principal, request: web.Request) -> TariffDetail:
    return await service.tariff_detail(principal, path_id(request))


async def tariff_bill_test(principal: Principal, request: web.Request) -> BillOut | web.Response:
    """The body (BillTestIn) is read after the tariff is found: another tenant's id is a 404
    whatever the body holds."""
    ident = path_id(request)
    await service.get_tariff(principal, ident)
    body = await read_body(request, BillTestIn)
    if isinstance(body, web.Response):
        return body
    return await service.bill_test(principal, ident, body)


ROUTES: list[ApiRoute] = [
    *crud_routes("/tariffs", "charging", PERMISSIONS, service.TARIFFS, TariffOut, TariffFilter, TariffIn, TariffIn),
    ApiRoute(
        "GET", "/tariffs/{id}/versions", tariff_versions,
        "One tariff with every version, newest first, and the one in force now", PERMISSIONS[0],
        response=TariffDetail, tags=("charging",),
    ),
    ApiRoute(
        "POST", "/tariffs/{id}/bill-test", tariff_bill_test,
        "Billing test: body BillTestIn (energy_wh and at, or readings, or a curve of `time,Wh` "
        "lines); the itemised bill under the version in force when it starts",
        PERMISSIONS[0], response=BillOut, tags=("charging",),
    ),
]  # fmt: skip
