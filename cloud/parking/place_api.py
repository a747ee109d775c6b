"""JSON routes of lots, road sections, berths, geomagnetic sensors, their detections, parking
locks (with their raise/lower commands) and the occupancy of every place."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.parking import devices, places
from cloud.parking import place_schemas as s
from cloud.sites.schemas import CommandOut
from protocols.site import SiteKind

PERMS = ("parking.view", "parking.edit")
VIEW, EDIT = PERMS
TAGS = ("parking",)


async def lot_occupancy(principal: Principal, request: web.Request) -> s.OccupancyOut:
    return await places.place_occupancy(principal, SiteKind.parking_lot, path_id(request))


async def section_occupancy(principal: Principal, request: web.Request) -> s.OccupancyOut:
    return await places.place_occupancy(principal, SiteKind.street_section, path_id(request))


async def create_berth_range(
    principal: Principal, request: web.Request, body: s.BerthCreate
) -> list[s.BerthOut]:
    return await places.create_berths(principal, body)


async def raise_lock(principal: Principal, request: web.Request) -> CommandOut:
    return await devices.raise_lock(principal, path_id(request))


async def lower_lock(principal: Principal, request: web.Request) -> CommandOut:
    return await devices.lower_lock(principal, path_id(request))


ROUTES: list[ApiRoute] = [
    *crud_routes("/parking-lots", "parking", PERMS, places.LOTS, s.PlaceOut, s.PlaceFilter, s.PlaceCreate, s.PlaceUpdate),
    ApiRoute("GET", "/parking-lots/{id}/occupancy", lot_occupancy, "A lot's capacity, vehicles inside and free spaces", VIEW, response=s.OccupancyOut, tags=TAGS),
    *crud_routes("/road-sections", "parking", PERMS, places.SECTIONS, s.PlaceOut, s.PlaceFilter, s.PlaceCreate, s.PlaceUpdate),
    ApiRoute("GET", "/road-sections/{id}/occupancy", section_occupancy, "A road section's berths: total, occupied, free", VIEW, response=s.OccupancyOut, tags=TAGS),
    *crud_routes("/parking-occupancy", "parking", (VIEW, VIEW), places.OCCUPANCY, s.OccupancyOut, s.OccupancyFilter),
    *crud_routes("/berths", "parking", PERMS, places.BERTHS, s.BerthOut, s.BerthFilter, s.BerthCreate, s.BerthUpdate),
    ApiRoute("POST", "/berth-ranges", create_berth_range, "Create a range of berths (W-001 … W-020) in a section", EDIT, body=s.BerthCreate, response=list[s.BerthOut], status=201, tags=TAGS),
    *crud_routes("/berth-sensors", "parking", (VIEW, VIEW), devices.SENSORS, s.SensorOut, s.SensorFilter),
    *crud_routes("/sensor-detections", "parking", (VIEW, VIEW), devices.DETECTIONS, s.DetectionOut, s.DetectionFilter),
    *crud_routes("/parking-locks", "parking", PERMS, devices.LOCKS, s.LockOut, s.LockFilter),
    ApiRoute("POST", "/parking-locks/{id}/raise", raise_lock, "Raise a berth's parking lock (a command through the site's edge)", EDIT, response=CommandOut, status=201, tags=TAGS),
    ApiRoute("POST", "/parking-locks/{id}/lower", lower_lock, "Lower a berth's parking lock (a command through the site's edge)", EDIT, response=CommandOut, status=201, tags=TAGS),
]  # fmt: skip
