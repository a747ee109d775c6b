"""JSON routes of vehicles under /api/v1: the vehicle rows, and the review's approve, reject and
unlink actions."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.campus import vehicle_schemas as s
from cloud.campus import vehicles as service

VEHICLES = ("campus.view", "campus.edit")
TAGS = ("campus",)


async def approve_vehicle(
    principal: Principal, request: web.Request, body: s.VehicleApprove
) -> s.VehicleOut:
    return await service.approve_vehicle(principal, path_id(request), body)


async def reject_vehicle(
    principal: Principal, request: web.Request, body: s.VehicleReject
) -> s.VehicleOut:
    return await service.reject_vehicle(principal, path_id(request), body)


async def unlink_vehicle(principal: Principal, request: web.Request) -> s.VehicleOut:
    return await service.unlink_vehicle(principal, path_id(request))


async def review_counts(principal: Principal, request: web.Request) -> s.ReviewCounts:
    return await service.review_counts(principal)


ROUTES: list[ApiRoute] = [
    *crud_routes("/vehicles", "campus", VEHICLES, service.VEHICLES, s.VehicleOut, s.VehicleFilter, s.VehicleCreate, s.VehicleUpdate),
    ApiRoute(
        "POST", "/vehicles/{id}/approve", approve_vehicle,
        "Approve a pending registration (e-bikes: long_term or a future valid_until)",
        "vehicles.review", body=s.VehicleApprove, response=s.VehicleOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/vehicles/{id}/reject", reject_vehicle,
        "Reject a pending registration with a reason", "vehicles.review",
        body=s.VehicleReject, response=s.VehicleOut, tags=TAGS,
    ),
    ApiRoute(
        "POST", "/vehicles/{id}/unlink", unlink_vehicle,
        "Unlink a vehicle from its registrant (it opens no gate any more)", "campus.edit",
        response=s.VehicleOut, tags=TAGS,
    ),
    ApiRoute(
        "GET", "/vehicle-review-counts", review_counts,
        "Registered vehicles and applications by status", "vehicles.review",
        response=s.ReviewCounts, tags=TAGS,
    ),
]  # fmt: skip
