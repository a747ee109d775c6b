"""Tariff admin (计费规则, 3.2.7) through its pages and JSON API: the 24-hour rule refuses a
table naming the minutes and saves nothing; a save publishes Entity.tariff with its versions;
an edit is a new version from the next local midnight; the billing test; disabled stations
and areas refuse new tariffs; another tenant's tariff is a 404."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.api import API_PREFIX
from cloud.auth import Principal
from cloud.charging import tariffs as service
from cloud.charging.models import (
    Area,
    ChargingTariff,
    ChargingTariffVersion,
    PropertyCompany,
    ServiceProvider,
    Station,
    TariffMode,
)
from cloud.charging.tariff_schemas import BillTestIn
from cloud.org.models import AuditLog, Tenant
from cloud.sites.models import Site, StateChange
from protocols.charging import TariffGrant
from protocols.site import SiteKind
from protocols.tariffs import Period, parse_tariff, time_of_use_charging
from tests.conftest import make_tenant, sign_in

Client = TestClient[web.Request, web.Application]
SH = ZoneInfo("Asia/Shanghai")
PATH = "/charging/tariffs"


async def make_station(
    tenant: Tenant, prefix: str = "", *, enabled: bool = True, area_enabled: bool = True
) -> tuple[Station, Area]:
    """A charging station (its site, provider and property) with one area."""
    count = await Station.filter(tenant=tenant).count()
    provider = await ServiceProvider.create(
        tenant=tenant, name=f"{prefix}服务商", phone=f"1390000{count:04d}"
    )
    owner = await PropertyCompany.create(
        tenant=tenant, provider=provider, name=f"{prefix}物业", phone=f"1370000{count:04d}"
    )
    site = await Site.create(
        tenant=tenant,
        code=f"{prefix}station{count}",
        name=f"{prefix}电站{count}",
        kind=SiteKind.charging_station,
    )
    station = await Station.create(
        tenant=tenant, property=owner, site=site, name=f"{prefix}电站{count}", enabled=enabled
    )
    area = await Area.create(
        tenant=tenant,
        station=station,
        code=f"{prefix}A{count}",
        name=f"{prefix}区域{count}",
        is_default=True,
        enabled=area_enabled,
    )
    return station, area


async def make_tariff(tenant: Tenant, prefix: str = "") -> ChargingTariff:
    """A time-of-use tariff with one version (the tenant-isolation factory uses this)."""
    station, area = await make_station(tenant, prefix)
    tariff = await ChargingTariff.create(
        tenant=tenant,
        station=station,
        area=area,
        name=f"{prefix}峰平谷",
        mode=TariffMode.time_of_use,
        prepay_options=[5000],
    )
    document = time_of_use_charging(
        tariff.name,
        [(Period.valley, _t(22), _t(8), 35, 40), (Period.peak, _t(8), _t(22), 110, 60)],
        [5000],
    )
    await ChargingTariffVersion.create(
        tariff=tariff, effective_from=date(2024, 1, 1), document=document.model_dump(mode="json")
    )
    return tariff


def _t(hour: int, minute: int = 0) -> time:
    return time(hour, minute)


def tou_form(
    station: Station, rows: list[tuple[str, str, str, str, str]], **more: str
) -> dict[str, str]:
    data = {
        "station_id": str(station.id),
        "name": "峰平谷测试",
        "mode": "time_of_use",
        "prepay": "20, 50",
    }
    for index, (period, start, end, electricity, service_fee) in enumerate(rows):
        data.update(
            {
                f"period_{index}": period,
                f"start_{index}": start,
                f"end_{index}": end,
                f"electricity_{index}": electricity,
                f"service_{index}": service_fee,
            }
        )
    data[f"period_{len(rows)}"] = "flat"  # a blank row, as the form shows them
    return {**data, **more}


GOOD_ROWS = [
    ("valley", "00:00", "08:00", "0.35", "0.40"),
    ("flat", "08:00", "10:00", "0.70", "0.50"),
    ("peak", "10:00", "15:00", "1.10", "0.60"),
    ("flat", "15:00", "18:00", "0.70", "0.50"),
    ("peak", "18:00", "21:00", "1.10", "0.60"),
    ("sharp", "21:00", "22:00", "1.30", "0.80"),
    ("valley", "22:00", "24:00", "0.35", "0.40"),
]


async def _signed_in(cloud: Client) -> tuple[str, Tenant, Station, Area]:
    admin = await make_tenant("alpha")
    station, area = await make_station(admin.tenant, "alpha-")
    csrf = await sign_in(cloud, admin.account, admin.password)
    return csrf, admin.tenant, station, area


async def _grant(tariff_id: int) -> TariffGrant | None:
    change = (
        await StateChange.filter(entity="tariff", key=str(tariff_id)).order_by("-revision").first()
    )
    assert change is not None, "Entity.tariff published"
    return TariffGrant.model_validate(change.data) if change.data is not None else None


async def test_a_table_with_a_gap_is_refused_naming_the_minutes_and_nothing_is_saved(
    cloud: Client,
) -> None:
    csrf, _, station, _ = await _signed_in(cloud)
    rows = [
        ("valley", "00:00", "07:00", "0.35", "0.40"),
        ("peak", "07:30", "12:30", "1.10", "0.60"),
        ("flat", "12:00", "24:00", "0.70", "0.50"),
    ]
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **tou_form(station, rows)})
    assert resp.status == 400
    text = await resp.text()
    assert "未覆盖 07:00–07:30" in text and "重叠 12:00–12:30" in text
    assert "<option selected>07:30</option>" in text  # the table is shown again as typed
    assert await ChargingTariff.all().count() == 0
    assert await ChargingTariffVersion.all().count() == 0
    assert not await StateChange.filter(entity="tariff").exists()


async def test_a_valid_save_publishes_the_tariff_with_its_version(cloud: Client) -> None:
    csrf, _, station, area = await _signed_in(cloud)
    form = tou_form(station, GOOD_ROWS, area_id=str(area.id))
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **form}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    tariff = await ChargingTariff.get(name="峰平谷测试")
    assert tariff.area_id == area.id and tariff.prepay_options == [2000, 5000]
    version = await ChargingTariffVersion.get(tariff=tariff)
    # Even a first version takes effect at the next local midnight (当日24:00生效).
    assert version.effective_from == datetime.now(SH).date() + timedelta(days=1)
    document = parse_tariff(version.document)
    assert document.time_of_use and document.zone == "Asia/Shanghai"
    grant = await _grant(tariff.id)
    assert grant is not None and len(grant.versions) == 1
    assert grant.versions[0].document == version.document
    change = await StateChange.get(entity="tariff", key=str(tariff.id))
    assert change.site_id == station.site_id
    assert await AuditLog.filter(entity="tariff", action="create").exists()
    # The list and its export show it; the detail shows the periods.
    listing = await (await cloud.get(PATH)).text()
    assert "峰平谷测试" in listing and "尖 1.30+0.80" in listing
    detail = await (await cloud.get(f"{PATH}/{tariff.id}")).text()
    assert "21:00" in detail and "1.30" in detail and "24:00" in detail
    book = load_workbook(io.BytesIO(await (await cloud.get(f"{PATH}/export.xlsx")).read()))
    cells = [str(c) for row in book.active.iter_rows(values_only=True) for c in row]
    assert "峰平谷测试" in cells
    # Disabling retracts it from the edge; enabling publishes it again.
    resp = await cloud.post(
        f"{PATH}/{tariff.id}/disable", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    assert await _grant(tariff.id) is None
    await cloud.post(f"{PATH}/{tariff.id}/enable", data={"_csrf": csrf}, allow_redirects=False)
    assert await _grant(tariff.id) is not None


async def test_an_edit_is_a_new_version_from_the_next_local_midnight(cloud: Client) -> None:
    csrf, _, station, _ = await _signed_in(cloud)
    uniform = {"station_id": str(station.id), "name": "统一价", "mode": "uniform"}
    resp = await cloud.post(
        f"{PATH}/new",
        data={"_csrf": csrf, **uniform, "electricity": "0.80", "service": "0.40"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    tariff = await ChargingTariff.get(name="统一价")
    today = datetime.now(SH).date()
    yesterday = today - timedelta(days=1)
    # As if made yesterday: its version is in force today.
    await ChargingTariffVersion.filter(tariff=tariff).update(effective_from=yesterday)
    edit = await (await cloud.get(f"{PATH}/{tariff.id}/edit")).text()
    assert 'value="0.80"' in edit and 'value="0.40"' in edit
    for price in ("0.90", "0.95"):  # two edits on one day: one pending version, the later one
        resp = await cloud.post(
            f"{PATH}/{tariff.id}/edit",
            data={"_csrf": csrf, **uniform, "electricity": price, "service": "0.40"},
            allow_redirects=False,
        )
        assert resp.status == 302, await resp.text()
    versions = await ChargingTariffVersion.filter(tariff=tariff).order_by("effective_from")
    assert [v.effective_from for v in versions] == [yesterday, today + timedelta(days=1)]
    assert parse_tariff(versions[1].document).elements[0].components[0].price_fen == 95
    grant = await _grant(tariff.id)
    assert grant is not None and [v.effective_from for v in grant.versions] == [
        yesterday,
        today + timedelta(days=1),
    ]
    # A session starting now is billed by today's version; one starting after midnight, by the new.
    principal_now = datetime.now(UTC)
    admin = await _principal(tariff)
    now_bill = await service.bill_test(
        admin, tariff.id, BillTestIn(energy_wh=10_000, at=principal_now)
    )
    assert now_bill.effective_from == yesterday and now_bill.electricity_fen == 800
    midnight = datetime.combine(today + timedelta(days=1), _t(0, 30), SH)
    later = await service.bill_test(admin, tariff.id, BillTestIn(energy_wh=10_000, at=midnight))
    assert later.effective_from == today + timedelta(days=1) and later.electricity_fen == 950
    # Saving the same prices again makes no version.
    await cloud.post(
        f"{PATH}/{tariff.id}/edit",
        data={"_csrf": csrf, **uniform, "electricity": "0.95", "service": "0.40"},
        allow_redirects=False,
    )
    assert await ChargingTariffVersion.filter(tariff=tariff).count() == 2
    detail = await (await cloud.get(f"{PATH}/{tariff.id}")).text()
    assert "当前生效" in detail and "待生效" in detail


async def _principal(tariff: ChargingTariff) -> Principal:
    return Principal(
        user_id=0,
        tenant_id=tariff.tenant_id,
        account="test",
        name="test",
        is_admin=True,
        permissions=frozenset(),
        csrf_token="",
        language="zh",
    )


async def test_the_billing_test_page_shows_the_lines_and_the_total(cloud: Client) -> None:
    csrf, _, station, _ = await _signed_in(cloud)
    form = tou_form(station, GOOD_ROWS)
    assert (
        await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **form}, allow_redirects=False)
    ).status == 302
    tariff = await ChargingTariff.get(name="峰平谷测试")
    page = await cloud.get(f"{PATH}/{tariff.id}/bill-test")
    assert page.status == 200
    start = (datetime.now(SH) + timedelta(days=1)).replace(
        hour=21, minute=15, second=0, microsecond=0
    )
    # 12.345 kWh in the sharp period: 1.30 -> 1604.85 -> 1605 fen; 0.80 -> 987.6 -> 988 fen.
    resp = await cloud.post(
        f"{PATH}/{tariff.id}/bill-test",
        data={"_csrf": csrf, "energy": "12.345", "at": start.strftime("%Y-%m-%dT%H:%M")},
    )
    text = await resp.text()
    assert resp.status == 200, text
    assert "16.05" in text and "9.88" in text and "25.93" in text and "12.345" in text
    # A meter curve across the 10:00 boundary: 09:00–11:00 evenly 20 kWh, 10 flat + 10 peak.
    day = start.date().isoformat()
    curve = f"time,Wh\n{day} 09:00,1000\n{day} 10:30,16000\n{day} 11:00,21000\n"
    resp = await cloud.post(f"{PATH}/{tariff.id}/bill-test", data={"_csrf": csrf, "curve": curve})
    text = await resp.text()
    assert resp.status == 200, text
    # flat 10 kWh: 7.00 + 5.00; peak 10 kWh: 11.00 + 6.00; total 29.00
    assert "data-total>29.00<" in text
    bad = await cloud.post(
        f"{PATH}/{tariff.id}/bill-test", data={"_csrf": csrf, "curve": f"{day} 09:00,1\nnonsense"}
    )
    assert bad.status == 400 and "第2行" in await bad.text()
    # The same through the API.
    api = await cloud.post(
        f"{API_PREFIX}/tariffs/{tariff.id}/bill-test",
        json={"energy_wh": 12_345, "at": start.isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    body = await api.json()
    assert api.status == 200, body
    assert body["total_fen"] == 2593 and [line["amount_fen"] for line in body["lines"]] == [
        1605,
        988,
    ]


async def test_a_disabled_station_or_area_takes_no_new_tariff(cloud: Client) -> None:
    csrf, tenant, _, _ = await _signed_in(cloud)
    off, _ = await make_station(tenant, "off-", enabled=False)
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **tou_form(off, GOOD_ROWS)})
    assert resp.status == 400
    assert "禁用的电站不能添加计费规则" in await resp.text()
    station, closed = await make_station(tenant, "closed-", area_enabled=False)
    form = tou_form(station, GOOD_ROWS, area_id=str(closed.id))
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **form})
    assert resp.status == 400 and "禁用的区域不能添加计费规则" in await resp.text()
    assert await ChargingTariff.all().count() == 0
    api = await cloud.post(
        f"{API_PREFIX}/tariffs",
        json={
            "station_id": off.id,
            "name": "x",
            "mode": "uniform",
            "electricity_fen": 80,
            "service_fen": 40,
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status == 422 and (await api.json())["field"] == "station_id"


async def test_the_api_names_the_uncovered_minutes_and_creates_a_valid_tariff(
    cloud: Client,
) -> None:
    csrf, _, station, _ = await _signed_in(cloud)
    body: dict[str, Any] = {
        "station_id": station.id,
        "name": "API",
        "mode": "time_of_use",
        "periods": [
            {
                "period": "valley",
                "start": "00:00",
                "end": "08:00",
                "electricity_fen": 35,
                "service_fen": 40,
            },
            {
                "period": "peak",
                "start": "08:00",
                "end": "23:00",
                "electricity_fen": 110,
                "service_fen": 60,
            },
        ],
        "prepay_options_fen": [5000],
    }
    resp = await cloud.post(f"{API_PREFIX}/tariffs", json=body, headers={"X-CSRF-Token": csrf})
    error = await resp.json()
    assert resp.status == 422 and error["field"] == "periods" and "23:00–24:00" in error["message"]
    body["periods"][1]["end"] = "00:00"
    resp = await cloud.post(f"{API_PREFIX}/tariffs", json=body, headers={"X-CSRF-Token": csrf})
    created = await resp.json()
    assert resp.status == 201, created
    assert created["mode"] == "time_of_use" and len(created["periods"]) == 2
    body["prepay_options_fen"] = list(range(100, 1400, 100))  # 13
    resp = await cloud.put(
        f"{API_PREFIX}/tariffs/{created['id']}", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 422 and (await resp.json())["field"] == "prepay_options_fen"
    versions = await (await cloud.get(f"{API_PREFIX}/tariffs/{created['id']}/versions")).json()
    assert versions["in_force_id"] is None, "a new tariff is not in force before midnight"
    assert len(versions["versions"]) == 1


async def test_another_tenants_tariff_is_not_found(cloud: Client) -> None:
    csrf, _, _, _ = await _signed_in(cloud)
    beta = await make_tenant("beta")
    theirs = await make_tariff(beta.tenant, "beta-")
    for path in ("", "/edit", "/bill-test", "/disable", "/delete"):
        resp = await cloud.get(f"{PATH}/{theirs.id}{path}", allow_redirects=False)
        assert resp.status == 404, path
        assert "beta-" not in await resp.text()
    for path in ("/edit", "/bill-test", "/disable", "/delete"):
        resp = await cloud.post(
            f"{PATH}/{theirs.id}{path}",
            data={"_csrf": csrf, "name": "hijack"},
            allow_redirects=False,
        )
        assert resp.status == 404, path
    for method, path in (("GET", ""), ("GET", "/versions"), ("POST", "/bill-test"), ("DELETE", "")):
        resp = await cloud.request(
            method,
            f"{API_PREFIX}/tariffs/{theirs.id}{path}",
            json={"name": "hijack"},
            headers={"X-CSRF-Token": csrf},
        )
        assert resp.status == 404, (method, path)
    assert "beta-" not in await (await cloud.get(PATH)).text()
    assert (await ChargingTariff.get(id=theirs.id)).enabled
