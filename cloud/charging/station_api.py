"""JSON routes of providers, property companies, car stations, areas, spaces, chargers (with
their device actions), connectors, id tags, the connectivity log and the charging home figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import SETTINGS_KEY, Principal
from cloud.charging import chargers, home, id_tags, links, providers, stations
from cloud.charging import station_schemas as s
from cloud.sites.schemas import CommandOut

PERMS = ("charging.view", "charging.edit")
VIEW, EDIT = PERMS
TAGS = ("charging",)


async def approve_provider(principal: Principal, request: web.Request) -> s.ProviderOut:
    return await providers.review_provider(principal, path_id(request), True)


async def reject_provider(principal: Principal, request: web.Request) -> s.ProviderOut:
    return await providers.review_provider(principal, path_id(request), False)


async def station_counts(principal: Principal, request: web.Request) -> s.StationCounts:
    return await stations.station_counts(principal, path_id(request))


async def create_spaces(
    principal: Principal, request: web.Request, body: s.SpaceCreate
) -> list[s.SpaceOut]:
    return await stations.create_spaces(principal, body)


async def charger_connectors(principal: Principal, request: web.Request) -> list[s.ConnectorOut]:
    return await chargers.connectors_of(principal, path_id(request))


async def charging_home(principal: Principal, request: web.Request) -> s.ChargingHome:
    return await home.charging_home(principal)


def _command(
    slug: str,
    summary: str,
    run: Callable[..., Awaitable[CommandOut]],
    body: type[BaseModel] | None = None,
) -> ApiRoute:
    """POST /chargers/{id}/<slug>: a device command through the station's edge."""
    if body is not None:

        async def handler(principal: Principal, request: web.Request, body: Any) -> CommandOut:
            return await run(principal, path_id(request), body)

    else:

        async def handler(principal: Principal, request: web.Request) -> CommandOut:  # type: ignore[misc]
            return await run(principal, path_id(request))

    handler.__name__ = f"charger_{slug.replace('-', '_')}"
    return ApiRoute(
        "POST", f"/chargers/{{id}}/{slug}", handler, summary, EDIT, body=body,
        response=CommandOut, status=201, tags=TAGS,
    )  # fmt: skip


async def push_qr(principal: Principal, request: web.Request) -> CommandOut:
    return await chargers.push_qr(principal, path_id(request), request.app[SETTINGS_KEY].public_url)


ROUTES: list[ApiRoute] = [
    *crud_routes("/charging-providers", "charging", PERMS, providers.PROVIDERS, s.ProviderOut, s.ProviderFilter, s.ProviderCreate, s.ProviderUpdate),
    ApiRoute("POST", "/charging-providers/{id}/approve", approve_provider, "Approve a service provider", EDIT, response=s.ProviderOut, tags=TAGS),
    ApiRoute("POST", "/charging-providers/{id}/reject", reject_provider, "Reject a service provider", EDIT, response=s.ProviderOut, tags=TAGS),
    *crud_routes("/property-companies", "charging", PERMS, providers.PROPERTIES, s.PropertyOut, s.PropertyFilter, s.PropertyCreate, s.PropertyUpdate),
    *crud_routes("/charging-stations", "charging", PERMS, stations.STATIONS, s.StationOut, s.StationFilter, s.StationCreate, s.StationUpdate),
    ApiRoute("GET", "/charging-stations/{id}/counts", station_counts, "A station's areas, chargers, connectors and spaces", VIEW, response=s.StationCounts, tags=TAGS),
    *crud_routes("/charging-areas", "charging", PERMS, stations.AREAS, s.AreaOut, s.AreaFilter, s.AreaCreate, s.AreaUpdate),
    *crud_routes("/charging-spaces", "charging", PERMS, stations.SPACES, s.SpaceOut, s.SpaceFilter, None, s.SpaceUpdate),
    ApiRoute("POST", "/charging-spaces", create_spaces, "Create several spaces in an area at once", EDIT, body=s.SpaceCreate, response=list[s.SpaceOut], status=201, tags=TAGS),
    *crud_routes("/chargers", "charging", PERMS, chargers.CHARGERS, s.ChargerOut, s.ChargerFilter, s.ChargerCreate, s.ChargerUpdate),
    ApiRoute("GET", "/chargers/{id}/connectors", charger_connectors, "A charger's connectors", VIEW, response=list[s.ConnectorOut], tags=TAGS),
    _command("reset", "Restart an online charger (Soft or Hard)", chargers.reset, s.ResetIn),
    _command("clock-sync", "Set the charger's clock", chargers.clock_sync),
    _command("push-tariff", "Send the charger its tariff", chargers.push_tariff),
    _command("push-hotline", "Send the station's hotline to the charger's screen", chargers.push_hotline),
    ApiRoute("POST", "/chargers/{id}/push-qr", push_qr, "Send the QR code text to the charger's screen", EDIT, response=CommandOut, status=201, tags=TAGS),
    _command("refresh-status", "Ask the charger for every connector's status", chargers.refresh_status),
    _command("remote-start", "Start charging on a connector for an id tag", chargers.remote_start, s.RemoteStartIn),
    _command("remote-stop", "Stop the order in progress on a connector", chargers.remote_stop, s.ConnectorIn),
    _command("availability", "Make a connector (0: the charger) operative or inoperative", chargers.change_availability, s.AvailabilityIn),
    _command("unlock", "Unlock a connector's cable", chargers.unlock, s.ConnectorIn),
    *crud_routes("/connectors", "charging", PERMS, chargers.CONNECTORS, s.ConnectorOut, s.ConnectorFilter),
    *crud_routes("/id-tags", "charging", PERMS, id_tags.ID_TAGS, s.IdTagOut, s.IdTagFilter, s.IdTagCreate, s.IdTagUpdate),
    *crud_routes("/device-links", "charging", (VIEW, VIEW), links.LINKS, s.LinkOut, s.LinkFilter),
    ApiRoute("GET", "/charging-home", charging_home, "Car charging at a glance: counts, 7-day orders, 5-day energy", VIEW, response=s.ChargingHome, tags=TAGS),
]  # fmt: skip
