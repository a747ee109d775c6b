"""Demo data and admin tasks run from the command line: the demo tenant, its site and edge, users."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

from tortoise.transactions import in_transaction

from cloud.access.models import AccessRule, ListEntry
from cloud.campus.demo import DEMO_REGISTERED_PLATE, populate_campus
from cloud.charging.demo import populate_charging
from cloud.db import close_db, open_db
from cloud.org.models import Tenant, User
from cloud.parking.demo import populate_parking
from cloud.passwords import hash_password
from cloud.sites.edges import token_hash
from cloud.sites.models import Device, DeviceKind, Edge, Gate, Lane, Site
from cloud.state import publish
from protocols import sync as wire
from protocols.site import LaneConfig, SiteDocument, SiteKind, default_action_for

DEMO_ACCOUNT = "admin"
DEMO_PASSWORD = "wayside-demo"
# Plates the demo sites know: the simulated traffic brings them back now and then.
DEMO_WHITELIST = ("京A12345", "京A88888", "津C66666")
DEMO_BLACKLIST = ("沪B99999",)
DEMO_RULE_PLATE = "粤B12345"
DEMO_REGULARS = (*DEMO_WHITELIST, *DEMO_BLACKLIST, DEMO_RULE_PLATE, DEMO_REGISTERED_PLATE)


async def create_user(
    database_url: str, *, tenant: str, account: str, name: str, password: str, admin: bool
) -> None:
    await open_db(database_url)
    try:
        owner, _ = await Tenant.get_or_create(code=tenant, defaults={"name": tenant})
        await User.create(
            tenant=owner,
            account=account,
            name=name,
            password_hash=hash_password(password),
            is_admin=admin,
        )
    finally:
        await close_db()


async def seed_demo(
    database_url: str, document: SiteDocument, edge_code: str, edge_public_key: str
) -> str | None:
    """Create the demo tenant once. Returns an enrollment token when the demo edge must enroll
    (first run, or its key on disk is not the one the cloud knows), None when it is enrolled."""
    await open_db(database_url)
    try:
        if not await Tenant.filter(code=document.tenant).exists():
            await populate(document, edge_code)
        edge = await Edge.get(code=edge_code)
        if edge_public_key and edge.public_key == edge_public_key and edge.revoked_at is None:
            return None
        token = secrets.token_urlsafe(32)
        edge.enroll_token_hash = token_hash(token)
        edge.enroll_expires_at = datetime.now(UTC) + timedelta(hours=24)
        await edge.save()
        return token
    finally:
        await close_db()


async def populate(document: SiteDocument, edge_code: str, public_key: str = "") -> None:
    """The tenant of the document with its admin, sites, lanes, devices, lists and an edge."""
    async with in_transaction():
        tenant = await Tenant.create(code=document.tenant, name="示范学校与停车场")
        await User.create(
            tenant=tenant,
            account=DEMO_ACCOUNT,
            name="演示管理员",
            password_hash=hash_password(DEMO_PASSWORD),
            is_admin=True,
        )
        edge = await Edge.create(
            tenant=tenant,
            code=edge_code,
            name="演示边缘代理",
            public_key=public_key,
            enrolled_at=datetime.now(UTC) if public_key else None,
        )
        for config in document.sites:
            site = await Site.create(
                tenant=tenant,
                code=config.code,
                name=config.name,
                kind=config.kind,
                capacity=config.capacity,
            )
            await edge.sites.add(site)
            for gate_config in config.gates:
                gate = await Gate.create(
                    tenant=tenant, site=site, code=gate_config.code, name=gate_config.name
                )
                for lane_config in gate_config.lanes:
                    lane = await Lane.create(
                        tenant=tenant,
                        site=site,
                        gate=gate,
                        code=lane_config.code,
                        name=lane_config.name,
                        direction=lane_config.direction,
                        wiring=lane_config.wiring,
                        default_action=default_action_for(config.kind),
                        min_confidence=lane_config.camera.min_confidence,
                    )
                    await _devices(tenant, site, lane, lane_config)
                    await publish(
                        site.id,
                        wire.Entity.lane_policy,
                        lane.code,
                        wire.LanePolicy(
                            code=lane.code,
                            enabled=True,
                            default_action=lane.default_action,
                            min_confidence=lane.min_confidence,
                        ),
                    )
            if config.kind == SiteKind.charging_station:
                await populate_charging(tenant, site.code)
            else:
                await _lists(tenant, site)
        await populate_campus(tenant)
        await populate_parking(tenant, document)


async def _devices(tenant: Tenant, site: Site, lane: Lane, config: LaneConfig) -> None:
    await Device.create(
        tenant=tenant,
        site=site,
        lane=lane,
        kind=DeviceKind.anpr_camera,
        name=f"{lane.name}相机",
        vendor=config.camera.vendor,
        serial=config.camera.serial,
    )
    for kind, endpoint, label in (
        (DeviceKind.barrier, config.barrier, "道闸"),
        (DeviceKind.display, config.display, "显示屏"),
    ):
        if endpoint is not None:
            await Device.create(
                tenant=tenant,
                site=site,
                lane=lane,
                kind=kind,
                name=f"{lane.name}{label}",
                vendor="modbus",
                address=f"{endpoint.host}:{endpoint.port}/{endpoint.unit}",
            )


async def _lists(tenant: Tenant, site: Site) -> None:
    entries = [(plate, wire.ListKind.whitelist, "教职工车辆") for plate in DEMO_WHITELIST]
    entries += [(plate, wire.ListKind.blacklist, "多次违规") for plate in DEMO_BLACKLIST]
    for plate, kind, note in entries:
        await ListEntry.create(tenant=tenant, site=site, plate=plate, kind=kind, note=note)
        await publish(
            site.id,
            wire.Entity.list_entry,
            f"{kind.value}:{plate}",
            wire.ListEntry(plate=plate, kind=kind, note=note),
        )
    rule = await AccessRule.create(
        tenant=tenant,
        site=site,
        name="送货车辆 工作日上午",
        plate=DEMO_RULE_PLATE,
        lanes=[],
        weekdays=[1, 2, 3, 4, 5],
        start_time=time(7, 0),
        end_time=time(11, 0),
    )
    await publish(
        site.id,
        wire.Entity.access_rule,
        str(rule.id),
        wire.AccessRule(
            name=rule.name,
            plate=rule.plate,
            weekdays=rule.weekdays,
            start=time(7, 0),
            end=time(11, 0),
        ),
    )
