"""JSON routes of the sites domain under /api/v1: sites, gates, lanes, devices."""

from __future__ import annotations

from cloud.api import ApiRoute, crud_routes
from cloud.sites import schemas as s
from cloud.sites import service

PERMISSIONS = ("sites.view", "sites.edit")

ROUTES: list[ApiRoute] = [
    *crud_routes("/sites", "sites", PERMISSIONS, service.SITES, s.SiteOut, s.SiteFilter, s.SiteIn, s.SiteIn),
    *crud_routes("/gates", "sites", PERMISSIONS, service.GATES, s.GateOut, s.GateFilter, s.GateIn, s.GateIn),
    *crud_routes("/lanes", "sites", PERMISSIONS, service.LANES, s.LaneOut, s.LaneFilter, s.LaneIn, s.LaneIn),
    *crud_routes("/devices", "sites", PERMISSIONS, service.DEVICES, s.DeviceOut, s.DeviceFilter, s.DeviceIn, s.DeviceIn),
]  # fmt: skip
