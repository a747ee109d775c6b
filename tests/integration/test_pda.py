"""The collector's PDA end to end: a real cloud (sign-in claims, sync), real PDA agents serving
their pages on loopback, and a receipt printer simulator on a socat pty pair decoding what
the PDA printed. The PDA collects and prints with the cloud gone, then syncs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cloud.org.models import AuditLog, Tenant
from cloud.parking.models import Collector, CollectorShift
from cloud.passwords import hash_password
from cloud.settings import CloudSettings
from cloud.sites.models import Edge, Site, SyncEvent
from cloud.state import publish
from edge.agent import build_edge_app
from edge.api import STORE
from edge.pda.pages import PDA
from edge.settings import EdgeSettings
from firmware_sim.printer import PrinterSimulator
from protocols.charging import TariffGrant, TariffVersionGrant
from protocols.parking import (
    ArrearsGrant,
    ArrearsItem,
    BerthGrant,
    CollectorGrant,
    ParkingSiteGrant,
    tariff_key,
)
from protocols.site import SiteDocument, SiteKind
from protocols.sync import Entity
from protocols.tariffs import per_period_parking
from tests.conftest import free_port
from tests.integration.test_edge_passes import serial_pair
from tests.support import CloudServer, enroll_edge, eventually

SECTION = "west-street"
PASSWORD = "Collector-Pass-1"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
STAYED = timedelta(hours=2, minutes=10)  # before the cloud publishes the berths


def document() -> SiteDocument:
    return SiteDocument.model_validate(
        {
            "tenant": "city",
            "sites": [{"code": SECTION, "name": "西街路段", "kind": "street_section"}],
        }
    )


async def seed_cloud(pdas: list[str]) -> Site:
    """A parking tenant with one road section, its berths, tariff, collectors and arrears, and
    an edge per PDA serving the section."""
    tenant = await Tenant.create(code="city", name="城市停车")
    site = await Site.create(
        tenant=tenant, code=SECTION, name="西街路段", kind=SiteKind.street_section
    )
    for code in pdas:
        edge = await Edge.create(tenant=tenant, code=code, name=code)
        await edge.sites.add(site)
    hashed = hash_password(PASSWORD)
    for account, name in (("li", "李收费"), ("wang", "王收费")):
        await Collector.create(
            tenant=tenant, account=account, name=name, password_hash=hashed, sections=[site.id]
        )
        await publish(
            site.id,
            Entity.collector,
            account,
            CollectorGrant(name=name, password_hash=hashed, sections=[SECTION]),
        )
    tariff = per_period_parking("路边停车", step_minutes=30, price_fen=200)
    entered = datetime.now(UTC) - STAYED  # now, not at import: the suite may run for minutes
    await publish(
        site.id,
        Entity.tariff,
        tariff_key(1),
        TariffGrant(
            versions=[
                TariffVersionGrant(
                    effective_from=date(2020, 1, 1), document=tariff.model_dump(mode="json")
                )
            ]
        ),
    )
    await publish(
        site.id,
        Entity.parking_site,
        SECTION,
        ParkingSiteGrant(
            name="西街路段",
            kind="street_section",
            tariff=tariff_key(1),
            arrears_confirm_above_fen=20_000,
            hotline="400-000-0000",
        ),
    )
    await publish(
        site.id,
        Entity.berth,
        "w-001",
        BerthGrant(site=SECTION, number="001", sensor="GM-W001", occupied=True,
                   session="s-0001", plate="", entered_at=entered),
    )  # fmt: skip
    await publish(
        site.id,
        Entity.berth,
        "w-002",
        BerthGrant(site=SECTION, number="002", sensor="GM-W002", occupied=True,
                   session="s-0002", plate="粤B12345", entered_at=entered),
    )  # fmt: skip
    await publish(site.id, Entity.berth, "w-003", BerthGrant(site=SECTION, number="003"))
    await publish(
        site.id,
        Entity.arrears,
        "粤B12345",
        ArrearsGrant(
            total_fen=25_000,
            items=[
                ArrearsItem(order="o-1", site=SECTION, amount_fen=5_000, occurred_at=entered),
                ArrearsItem(order="o-2", site=SECTION, amount_fen=20_000, occurred_at=entered),
            ],
        ),
    )
    return site


@dataclass
class PdaRig:
    code: str
    runner: web.AppRunner
    url: str
    http: aiohttp.ClientSession

    @property
    def app(self) -> web.Application:
        return self.runner.app

    async def page(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path) as reply:
            return reply.status, await reply.text()

    async def post(
        self, path: str, form: dict[str, str] | list[tuple[str, str]]
    ) -> tuple[int, str]:
        """POST as the page's form would (with the CSRF token of the session), follow redirects."""
        _, html = await self.page("/pda/login" if path == "/pda/login" else "/pda/shift")
        found = CSRF.search(html)
        token = found.group(1) if found else ""
        fields = list(form.items()) if isinstance(form, dict) else list(form)
        async with self.http.post(self.url + path, data=[*fields, ("_csrf", token)]) as reply:
            return reply.status, await reply.text()

    async def sign_in(self, account: str, password: str = PASSWORD) -> tuple[int, str]:
        return await self.post(
            "/pda/login", {"account": account, "password": password, "site": SECTION}
        )


@asynccontextmanager
async def pda(
    tmp: Path, code: str, cloud_url: str, printer_port: str = "", enroll: bool = True
) -> AsyncIterator[PdaRig]:
    port = free_port()
    settings = EdgeSettings(
        profile="pda",
        port=port,
        cloud_url=cloud_url,
        store_path=tmp / code / "pda.db",
        snapshot_dir=tmp / code / "snapshots",
        key_path=tmp / code / "pda.key",
        identity_path=tmp / code / "identity.json",
        sync_retry_cap_s=0.5,
        pda_device=code,
        printer_port=printer_port,
    )
    if enroll:
        await enroll_edge(code, cloud_url, settings.key_path, settings.identity_path)
    runner = web.AppRunner(build_edge_app(settings, document()))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP host
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        rig = PdaRig(code, runner, f"http://127.0.0.1:{port}", http)
        try:
            yield rig
        finally:
            await runner.cleanup()


async def synced(rig: PdaRig) -> None:
    async def has_state() -> bool:
        store = rig.app[STORE]
        return (
            bool(store.entities(SECTION, Entity.arrears))
            and len(store.entities(SECTION, Entity.berth)) == 3
        )

    await eventually(has_state, 15, f"{rig.code} pulled the section's state")


def flash(html: str) -> list[str]:
    return re.findall(r'data-flash="\w+">([^<]*)<', html)


async def test_offline_collection_prints_and_syncs_when_the_cloud_returns(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    await seed_cloud(["pda-1"])
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    with serial_pair(tmp_path) as (pda_port, printer_port):
        printer = PrinterSimulator(printer_port)
        await printer.open()
        try:
            async with pda(tmp_path, "pda-1", cloud.url, pda_port) as rig:
                await synced(rig)
                await cloud.stop()  # the network is gone before the shift starts

                status, html = await rig.sign_in("li", "wrong")
                assert status == 400 and "账号或密码错误" in html
                status, html = await rig.sign_in("li")
                assert status == 200 and "data-offline" in html and "离线" in html

                # Fuzzy search: no province character, a confusable O for 0... and berth numbers.
                _, html = await rig.page("/pda/berths?q=b12345")
                assert 'data-berth="w-002"' in html and 'data-berth="w-001"' not in html
                _, html = await rig.page("/pda/berths?q=003")
                assert 'data-berth="w-003"' in html and 'data-berth="w-002"' not in html

                # A bad plate is refused, naming it; nothing changes.
                _, html = await rig.post("/pda/berths/w-001/plate", {"plate": "粤Z1"})
                assert "粤Z1 格式不正确" in " ".join(flash(html))
                _, html = await rig.post("/pda/berths/w-001/plate", {"plate": "粤a·54321"})
                assert "车牌已保存：粤A54321" in " ".join(flash(html))

                # 2 h 10 min at 2 yuan per started 30 minutes: 10 yuan, cash, receipt printed.
                _, html = await rig.post("/pda/berths/w-001/collect", {"method": "cash"})
                assert "已收费 10.00 元" in " ".join(flash(html)), flash(html)
                receipts = await printer.wait_receipts(1)
                exit_receipt = receipts[0]
                assert exit_receipt.chinese and exit_receipt.cut
                text = exit_receipt.text
                assert "停车收费凭证" in text and "粤A54321" in text and "西街路段" in text
                assert re.search(r"应收\(元\)\s+10\.00", text) and re.search(
                    r"实收\(元\)\s+10\.00", text
                )
                assert "李收费" in text and re.search(r"停车时长\s+2小时1[0-5]分钟", text)
                assert exit_receipt.qr == []  # nothing left to pay: no payment QR

                # The entry receipt of the other berth carries its arrears and a payment QR.
                _, html = await rig.post("/pda/berths/w-002/print", {"kind": "entry"})
                entry = (await printer.wait_receipts(2))[1]
                assert "停车入场凭证" in entry.text and "250.00" in entry.text
                assert entry.qr == [f"{cloud.url}/m/city/berth/pay/s-0002"]

                # Reprint: the same receipt, marked as copy 2.
                rows = await rig.app[STORE].read(
                    "select id from pda_receipt_content where kind = 'exit'"
                )
                _, html = await rig.post(f"/pda/records/{rows[0][0]}/reprint", {})
                again = (await printer.wait_receipts(3))[2]
                assert "补打 第2联" in again.text and "粤A54321" in again.text

                # Arrears above 200 yuan ask twice; one record under it does not.
                _, html = await rig.post("/pda/arrears", {"plate": "B12345", "method": "cash"})
                assert "data-confirm" in html and "需要二次确认" in html, flash(html)
                assert "250.00" in html
                assert (
                    await rig.app[STORE].read("select * from pda_payment where kind = 'arrears'")
                    == []
                )
                _, html = await rig.post(
                    "/pda/arrears",
                    [("plate", "粤B12345"), ("method", "cash"), ("order", "o-1")],
                )
                assert "粤B12345 已补缴 50.00 元" in " ".join(flash(html))
                _, html = await rig.post(
                    "/pda/arrears",
                    [("plate", "粤B12345"), ("method", "qr"), ("order", "o-2"), ("confirmed", "1")],
                )
                assert "已补缴 200.00 元" in " ".join(flash(html))
                arrears_receipt = (await printer.wait_receipts(5))[4]
                assert "欠费补缴凭证" in arrears_receipt.text

                # Sign out: the takings of the shift.
                _, html = await rig.post("/pda/signout", {})
                assert re.search(r"data-cash>60\.00<", html) and "data-ended" in html
                assert re.search(r"data-total>260\.00<", html)
                assert re.search(r"data-arrears>250\.00<", html)
                assert re.search(r"data-receipts>5<", html)

                # The cloud comes back: every event arrives.
                await cloud.start()

                async def all_arrived() -> bool:
                    return await SyncEvent.filter(type="pda.shift_ended").exists()

                await eventually(all_arrived, 20, "the PDA's events reached the cloud")
                types = [e.type for e in await SyncEvent.all().order_by("seq")]
                assert types[0] == "pda.shift_started" and types[-1] == "pda.shift_ended"
                assert types.count("parking.paid") == 1
                assert types.count("parking.receipt_printed") == 5
                assert types.count("parking.arrears_collected") == 2
                assert "parking.plate_set" in types
                paid = await SyncEvent.get(type="parking.paid")
                assert paid.payload["amount_fen"] == 1000 and paid.payload["method"] == "cash"
                assert paid.payload["bill"]["total_fen"] == 1000
                assert all(e.error == "" for e in await SyncEvent.all())
                shift = await CollectorShift.get(collector="li")
                assert shift.signed_out_at is not None and shift.cash_fen == 6000
                assert shift.qr_fen == 20_000 and shift.receipts == 5
        finally:
            printer.close()
            await cloud.stop()


async def test_a_section_and_an_account_are_held_by_one_collector_and_one_device(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    await seed_cloud(["pda-1", "pda-2"])
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    try:
        async with (
            pda(tmp_path, "pda-1", cloud.url) as first,
            pda(tmp_path, "pda-2", cloud.url) as second,
        ):
            await synced(first)
            await synced(second)
            status, html = await first.sign_in("li")
            assert status == 200 and "data-offline" not in html
            # Another collector on the same section: refused, saying who holds it.
            status, html = await second.sign_in("wang")
            assert status == 400 and "已由收费员 li 签到" in html, html
            # The same account on another device: refused, naming the device.
            status, html = await second.sign_in("li")
            assert status == 400 and "该账号已在设备 pda-1 上登录" in html
            assert await CollectorShift.filter(signed_out_at__isnull=True).count() == 1
            # Signed out on the first PDA, the section is free for the other collector.
            await first.post("/pda/signout", {})
            status, html = await second.sign_in("wang")
            assert status == 200 and "data-offline" not in html
            shifts = await CollectorShift.all().order_by("id")
            assert [(s.collector, s.device, s.signed_out_at is None) for s in shifts] == [
                ("li", "pda-1", False),
                ("wang", "pda-2", True),
            ]
    finally:
        await cloud.stop()


async def test_an_offline_sign_in_that_overlaps_is_flagged_when_it_syncs(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    await seed_cloud(["pda-1", "pda-2"])
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    try:
        async with (
            pda(tmp_path, "pda-1", cloud.url) as first,
            pda(tmp_path, "pda-2", cloud.url) as second,
        ):
            await synced(first)
            await synced(second)
            await cloud.stop()
            _, html = await second.sign_in("wang")
            assert "data-offline" in html  # allowed: the PDA cannot ask
            await cloud.start()
            status, html = await first.sign_in("li")  # online, before pda-2 synced its shift
            assert status == 200

            async def flagged() -> bool:
                return await AuditLog.filter(action="pda_shift_conflict").exists()

            await eventually(flagged, 20, "the overlapping offline shift was flagged")
            entry = await AuditLog.get(action="pda_shift_conflict")
            assert entry.detail["collector"] == "wang" and entry.detail["other_collector"] == "li"
            assert entry.detail["conflict"] == "section_taken"
    finally:
        await cloud.stop()


async def test_a_failing_printer_loses_no_payment_and_forms_need_their_csrf_token(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    await seed_cloud(["pda-1"])
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    try:
        # A pty pair with nobody on the printer's end: the status request goes unanswered.
        with serial_pair(tmp_path) as (pda_port, _):
            async with pda(tmp_path, "pda-1", cloud.url, pda_port) as rig:
                await synced(rig)
                await rig.sign_in("li")
                async with rig.http.post(
                    rig.url + "/pda/berths/w-002/collect", data={"method": "cash"}
                ) as reply:
                    html = await reply.text()
                assert "页面已过期" in " ".join(flash(html))
                assert await rig.app[STORE].read("select * from pda_payment") == []
                _, html = await rig.post("/pda/berths/w-002/collect", {"method": "qr"})
                said = " ".join(flash(html))
                assert "已收费 10.00 元" in said and "小票未打印：打印机无响应" in said
                _, html = await rig.page("/pda/shift")
                assert re.search(r"data-qr>10\.00<", html) and re.search(r"data-receipts>0<", html)
                _, html = await rig.page("/pda/berths/w-002")
                assert 'data-unpaid="0"' in html
                pda_service = rig.app[PDA]
                assert pda_service.printer.jobs == 0
    finally:
        await cloud.stop()


async def test_collector_pages_refuse_other_hosts_and_need_synced_collectors(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    # Never enrolled, never synced: sign-in says why it cannot work yet.
    async with pda(tmp_path, "pda-9", "http://127.0.0.1:9", enroll=False) as rig:
        status, html = await rig.sign_in("li")
        assert status == 400 and "本机尚无收费员数据" in html
        status, html = await rig.page("/pda/berths")
        assert "/pda/login" in html or "收费员登录" in html


@pytest.mark.parametrize("paper", [True, False])
async def test_the_printer_driver_checks_paper_before_a_job(tmp_path: Path, paper: bool) -> None:
    from edge.drivers.printer import Printer, PrinterError
    from protocols.escpos import Receipt

    with serial_pair(tmp_path) as (edge_port, printer_port):
        simulator = PrinterSimulator(printer_port)
        simulator.decoder.paper = paper
        await simulator.open()
        try:
            printer = Printer(edge_port, timeout_s=2)
            job = Receipt().line("测试").qr("Q").cut().encode()
            if paper:
                await printer.print(job)
                printed = await simulator.wait_receipts(1)
                assert printed[0].lines == ["测试", ""] and printed[0].qr == ["Q"]
            else:
                with pytest.raises(PrinterError, match="缺纸"):
                    await printer.print(job)
                assert simulator.receipts == []
        finally:
            simulator.close()
