"""Parking JSON routes of tariffs (收费规则: list, one, create, change, enable, disable, delete,
and POST .../verify for a stay's itemised bill) and of the holiday calendar (节假日配置)."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id, read_body
from cloud.auth import Principal
from cloud.parking import tariffs as service
from cloud.parking.tariff_schemas import (
    HolidayFilter,
    HolidayIn,
    HolidayOut,
    ParkingBillOut,
    ParkingTariffFilter,
    ParkingTariffIn,
    ParkingTariffOut,
    VerifyIn,
)

PERMISSIONS = ("parking.view", "parking.edit")


async def verify_tariff(
    principal: Principal, request: web.Request
) -> ParkingBillOut | web.Response:
    """The body (VerifyIn) is read after the tariff is found: another tenant's id is a 404
    whatever the body holds."""
    ident = path_id(request)
    await service.get_tariff(principal, ident)
    body = await read_body(request, VerifyIn)
    if isinstance(body, web.Response):
        return body
    return await service.verify(principal, ident, body)


ROUTES: list[ApiRoute] = [
    *crud_routes("/parking-tariffs", "parking", PERMISSIONS, service.TARIFFS, ParkingTariffOut, ParkingTariffFilter, ParkingTariffIn, ParkingTariffIn),
    ApiRoute(
        "POST", "/parking-tariffs/{id}/verify", verify_tariff,
        "验证收费规则: the itemised bill of a stay (VerifyIn) under this tariff and the tenant's "
        "holiday calendar, as an edge computes it", PERMISSIONS[0],
        response=ParkingBillOut, tags=("parking",),
    ),
    *crud_routes("/parking-holidays", "parking", PERMISSIONS, service.HOLIDAYS, HolidayOut, HolidayFilter, HolidayIn, HolidayIn),
]  # fmt: skip
