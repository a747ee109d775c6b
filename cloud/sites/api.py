"""JSON routes of the sites domain under /api/v1: sites, gates, lanes, devices, edges (with their
enrollment), device commands and dead letters."""

from __future__ import annotations

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.sites import edges, service
from cloud.sites import schemas as s

PERMISSIONS = ("sites.view", "sites.edit")
VIEW, EDIT = PERMISSIONS
TAGS = ("sites",)


async def create_edge(principal: Principal, request: web.Request, body: s.EdgeIn) -> s.EdgeCreated:
    return await edges.create_edge(principal, body)


async def revoke_edge(principal: Principal, request: web.Request) -> s.EdgeOut:
    return await edges.revoke_edge(principal, path_id(request))


async def reenroll_edge(principal: Principal, request: web.Request) -> s.EdgeCreated:
    return await edges.reenroll_edge(principal, path_id(request))


async def open_barrier(principal: Principal, request: web.Request) -> s.CommandOut:
    return await edges.issue_command(principal, path_id(request))


ROUTES: list[ApiRoute] = [
    *crud_routes("/sites", "sites", PERMISSIONS, service.SITES, s.SiteOut, s.SiteFilter, s.SiteIn, s.SiteIn),
    *crud_routes("/gates", "sites", PERMISSIONS, service.GATES, s.GateOut, s.GateFilter, s.GateIn, s.GateIn),
    *crud_routes("/lanes", "sites", PERMISSIONS, service.LANES, s.LaneOut, s.LaneFilter, s.LaneIn, s.LaneIn),
    *crud_routes("/devices", "sites", PERMISSIONS, service.DEVICES, s.DeviceOut, s.DeviceFilter, s.DeviceIn, s.DeviceIn),
    # Creating an edge answers with its one-time token, so it is declared apart from the rest.
    *crud_routes("/edges", "sites", PERMISSIONS, edges.EDGES, s.EdgeOut, s.EdgeFilter, None, s.EdgeUpdate),
    ApiRoute("POST", "/edges", create_edge, "Create an edge; the answer holds its one-time enrollment token (valid 24 h), shown only this once", EDIT, body=s.EdgeIn, response=s.EdgeCreated, status=201, tags=TAGS),
    ApiRoute("POST", "/edges/{id}/revoke", revoke_edge, "Revoke an edge: its key stops working and the cloud refuses it with 401", EDIT, response=s.EdgeOut, tags=TAGS),
    ApiRoute("POST", "/edges/{id}/reenroll", reenroll_edge, "Re-enroll an edge: a new one-time token (24 h); the old key and token stop working", EDIT, response=s.EdgeCreated, tags=TAGS),
    *crud_routes("/dead-letters", "sites", PERMISSIONS, edges.DEAD_LETTERS, s.DeadLetterOut, s.DeadLetterFilter),
    *crud_routes("/commands", "sites", PERMISSIONS, edges.COMMANDS, s.CommandOut, s.CommandFilter),
    ApiRoute("POST", "/lanes/{id}/open-barrier", open_barrier, "Open a lane's barrier: a command sent through the edge, void after 30 s", EDIT, response=s.CommandOut, status=201, tags=TAGS),
]  # fmt: skip
