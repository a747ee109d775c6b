"""JSON routes of the sites domain under /api/v1: sites, gates, lanes, devices."""

from __future__ import annotations

from cloud.api import ApiRoute, Crud
from cloud.sites import schemas
from cloud.sites import service as svc

VIEW, EDIT = "sites.view", "sites.edit"

ROUTES: list[ApiRoute] = [
    *Crud(
        "/sites", "sites", VIEW, EDIT, schemas.SiteOut, schemas.SiteIn, schemas.SiteIn,
        schemas.SiteFilter, svc.list_sites, svc.get_site, svc.create_site, svc.update_site,
        svc.set_site_enabled, svc.delete_site,
    ).routes(),
    *Crud(
        "/gates", "sites", VIEW, EDIT, schemas.GateOut, schemas.GateIn, schemas.GateIn,
        schemas.GateFilter, svc.list_gates, svc.get_gate, svc.create_gate, svc.update_gate,
        svc.set_gate_enabled, svc.delete_gate,
    ).routes(),
    *Crud(
        "/lanes", "sites", VIEW, EDIT, schemas.LaneOut, schemas.LaneIn, schemas.LaneIn,
        schemas.LaneFilter, svc.list_lanes, svc.get_lane, svc.create_lane, svc.update_lane,
        svc.set_lane_enabled, svc.delete_lane,
    ).routes(),
    *Crud(
        "/devices", "sites", VIEW, EDIT, schemas.DeviceOut, schemas.DeviceIn, schemas.DeviceIn,
        schemas.DeviceFilter, svc.list_devices, svc.get_device, svc.create_device,
        svc.update_device, svc.set_device_enabled, svc.delete_device,
    ).routes(),
]  # fmt: skip
