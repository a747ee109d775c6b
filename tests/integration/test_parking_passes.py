"""Monthly passes, their rules and special plates on the real database and the real cloud app:
what edges are told on issue, edit, renew and cancel, what is refused (a plate already bound,
the wrong energy scope, a bad pattern) and that nothing changes then, the list filters and the
Excel export, the JSON API, and the vehicle type an order records."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from pydantic import ValidationError

from cloud.access.models import ListEntry
from cloud.api import API_PREFIX
from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import Tenant
from cloud.parking import passes, specials
from cloud.parking.models import EnergyScope, MonthlyPass, MonthlyPassRule, SpecialPlate
from cloud.parking.pass_schemas import (
    PassFilter,
    PassHolderIn,
    PassIssueIn,
    PassRenewIn,
    PassRuleIn,
    PassStatus,
    SpecialPlateIn,
)
from cloud.sites.models import Site, StateChange
from cloud.state import site_state
from protocols.parking import MonthlyPassGrant, SpecialPlateGrant, VehicleType
from protocols.site import SiteKind
from protocols.sync import Entity, ListKind
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import principal_of_user

Client = TestClient[web.Request, web.Application]


async def _me(code: str = "alpha") -> tuple[Principal, Tenant, Site, Site]:
    """A tenant with a lot, a road section and a campus (which parking state never reaches)."""
    admin = await make_tenant(code)
    tenant = admin.tenant
    lot = await Site.create(
        tenant=tenant, code=f"{code}-lot", name="一号停车场", kind=SiteKind.parking_lot
    )
    road = await Site.create(
        tenant=tenant, code=f"{code}-road", name="人民路", kind=SiteKind.street_section
    )
    await Site.create(tenant=tenant, code=f"{code}-campus", name="校园", kind=SiteKind.campus)
    return principal_of_user(admin.user), tenant, lot, road


async def _rule(me: Principal, sites: list[int], **extra: Any) -> int:
    data = {"name": "月卡A", "price_fen": 30_000, "sites": sites, **extra}
    return (await passes.create_rule(me, PassRuleIn.model_validate(data))).id


async def _issue(me: Principal, rule_id: int, plates: Any, months: int = 1, **extra: Any) -> int:
    data = {"rule_id": rule_id, "holder": "张三", "phone": "13800000001", "plates": plates}
    made = await passes.issue_pass(
        me, PassIssueIn.model_validate({**data, "months": months, **extra})
    )
    return made.id


async def _latest(site_id: int, entity: Entity, key: str) -> dict[str, Any] | None:
    row = (
        await StateChange.filter(site_id=site_id, entity=entity.value, key=key)
        .order_by("-revision")
        .first()
    )
    assert row is not None, f"{entity} {key} was published at site {site_id}"
    return row.data


def test_months_count_in_local_days() -> None:
    assert passes.add_months(date(2024, 3, 15), 1) == date(2024, 4, 14)
    assert passes.add_months(date(2024, 1, 1), 12) == date(2024, 12, 31)
    assert passes.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert passes.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert passes.add_months(date(2024, 11, 20), 3) == date(2025, 2, 19)


async def test_issue_edit_renew_cancel_tell_every_lot_and_section(db: str) -> None:
    me, _, lot, road = await _me()
    rule_id = await _rule(me, [lot.id], max_months=6)
    today = passes.today()
    ident = await _issue(me, rule_id, "京A12345，京b 23456", months=3)
    issued = await passes.get_pass(me, ident)
    assert issued.plates == ["京A12345", "京B23456"]
    assert (issued.valid_from, issued.valid_until) == (today, passes.add_months(today, 3))
    assert issued.paid_fen == 90_000 and issued.operator == "alpha-admin"
    assert issued.status == PassStatus.valid
    # Every lot and road section holds each plate; the campus holds nothing of it.
    for site in (lot, road):
        for plate in ("京A12345", "京B23456"):
            held = MonthlyPassGrant.model_validate(
                await _latest(site.id, Entity.monthly_pass, plate)
            )
            assert held.sites == ["alpha-lot"] and held.holder == "张三"
            assert (held.valid_from, held.valid_until) == (issued.valid_from, issued.valid_until)
    campus = await Site.get(code="alpha-campus")
    assert not await StateChange.filter(site_id=campus.id).exists()
    # Pulled as an edge does: a full snapshot of the road section carries both plates.
    state = await site_state(await Site.get(id=road.id), 0)
    keys = {c.key for c in state.changes if c.entity == Entity.monthly_pass}
    assert keys == {"京A12345", "京B23456"}
    # Edit: a plate swapped is withdrawn, the new one granted.
    await passes.update_pass(
        me,
        ident,
        PassHolderIn(holder="张三丰", phone="13800000002", plates=["京A12345", "京C34567"]),
    )
    assert await _latest(road.id, Entity.monthly_pass, "京B23456") is None
    grant = await _latest(road.id, Entity.monthly_pass, "京C34567")
    assert grant is not None and grant["holder"] == "张三丰"
    # Renew: months from the current end; paid grows by months x price.
    renewed = await passes.renew_pass(me, ident, PassRenewIn(months=2))
    assert renewed.valid_until == passes.add_months(issued.valid_until + timedelta(days=1), 2)
    assert renewed.valid_from == today and renewed.paid_fen == 150_000
    grant = await _latest(lot.id, Entity.monthly_pass, "京A12345")
    assert grant is not None and grant["valid_until"] == renewed.valid_until.isoformat()
    # More months than the rule allows at once: refused, nothing changes.
    with pytest.raises(Invalid) as refused:
        await passes.renew_pass(me, ident, PassRenewIn(months=7))
    assert refused.value.field == "months" and "6" in refused.value.message
    assert (await MonthlyPass.get(id=ident)).paid_fen == 150_000
    # A rule's sites changed reach the passes sold under it.
    await passes.update_rule(
        me,
        rule_id,
        PassRuleIn(name="月卡A", price_fen=30_000, sites=[lot.id, road.id], max_months=6),
    )
    grant = await _latest(lot.id, Entity.monthly_pass, "京C34567")
    assert grant is not None and grant["sites"] == ["alpha-lot", "alpha-road"]
    # Cancel: every plate withdrawn everywhere; a cancelled pass is neither renewed nor edited.
    cancelled = await passes.cancel_pass(me, ident)
    assert cancelled.status == PassStatus.cancelled and cancelled.cancelled_at is not None
    for site in (lot, road):
        for plate in ("京A12345", "京C34567"):
            assert await _latest(site.id, Entity.monthly_pass, plate) is None
    with pytest.raises(Invalid):
        await passes.renew_pass(me, ident, PassRenewIn(months=1))
    with pytest.raises(Invalid):
        await passes.cancel_pass(me, ident)
    # A rule a pass was sold under cannot be deleted; disabled, it sells no more.
    with pytest.raises(Conflict):
        await passes.delete_rule(me, rule_id)
    await passes.set_rule_enabled(me, rule_id, False)
    with pytest.raises(Invalid) as refused:
        await _issue(me, rule_id, ["京D45678"])
    assert refused.value.message == "parking.passes.error.rule_disabled"


async def test_an_expired_pass_renews_from_today(db: str) -> None:
    me, _, lot, _ = await _me()
    ident = await _issue(me, await _rule(me, [lot.id]), ["京A12345"])
    today = passes.today()
    await MonthlyPass.filter(id=ident).update(
        valid_from=today - timedelta(days=60), valid_until=today - timedelta(days=30)
    )
    assert (await passes.get_pass(me, ident)).status == PassStatus.expired
    renewed = await passes.renew_pass(me, ident, PassRenewIn(months=1))
    assert (renewed.valid_from, renewed.valid_until) == (today, passes.add_months(today, 1))
    assert renewed.status == PassStatus.valid and renewed.days_left >= 28


async def test_a_plate_in_a_pass_in_force_is_refused(db: str) -> None:
    me, _, lot, road = await _me()
    rule_id = await _rule(me, [lot.id])
    first = await _issue(me, rule_id, ["京A12345"])
    published = await StateChange.all().count()
    with pytest.raises(Conflict) as refused:
        await _issue(me, rule_id, ["京E11111", "京a12345"])
    assert refused.value.field == "plates" and "京A12345" in refused.value.message
    assert await MonthlyPass.all().count() == 1 and await StateChange.all().count() == published
    second = await _issue(me, rule_id, ["京E11111"])
    with pytest.raises(Conflict):
        await passes.update_pass(
            me, second, PassHolderIn(holder="李四", phone="13800000009", plates=["京A12345"])
        )
    assert (await MonthlyPass.get(id=second)).plates == ["京E11111"]
    # Bad plates are refused by the schema, naming the plate.
    with pytest.raises(ValidationError) as bad:
        PassIssueIn.model_validate(
            {
                "rule_id": rule_id,
                "holder": "x",
                "phone": "13800000001",
                "plates": "京A1",
                "months": 1,
            }
        )
    assert "京A1" in str(bad.value)
    # Once the first pass is cancelled, or has expired, the plate is free again; an expired
    # pass that kept the plate does not take it back from the new one when cancelled.
    today = passes.today()
    await MonthlyPass.filter(id=first).update(
        valid_from=today - timedelta(days=40), valid_until=today - timedelta(days=10)
    )
    third = await _issue(me, rule_id, ["京A12345"], months=2)
    await passes.cancel_pass(me, first)
    grant = await _latest(road.id, Entity.monthly_pass, "京A12345")
    assert grant is not None and grant["valid_until"] == passes.add_months(today, 2).isoformat()
    # And the expired one cannot be renewed while the plate is in the new pass.
    assert third


async def test_the_energy_scope_of_a_rule_is_enforced(db: str) -> None:
    me, _, lot, _ = await _me()
    green = await _rule(me, [lot.id], name="新能源月卡", energy=EnergyScope.new_energy)
    other = await _rule(me, [lot.id], name="燃油月卡", energy=EnergyScope.other)
    with pytest.raises(Invalid) as refused:
        await _issue(me, green, ["京AD12345", "京A12345"])
    assert refused.value.field == "plates" and "京A12345" in refused.value.message
    with pytest.raises(Invalid) as refused:
        await _issue(me, other, ["京AD12345"])
    assert "京AD12345" in refused.value.message
    assert await MonthlyPass.all().count() == 0 and await StateChange.all().count() == 0
    assert await _issue(me, green, ["京AD12345"])
    ident = await _issue(me, other, ["京A12345"])
    with pytest.raises(Invalid):
        await passes.update_pass(
            me, ident, PassHolderIn(holder="x", phone="13800000001", plates=["京AF12345"])
        )


async def test_special_plates_are_published_and_a_bad_pattern_is_refused(db: str) -> None:
    me, tenant, lot, road = await _me()
    with pytest.raises(ValidationError) as bad:
        SpecialPlateIn.model_validate({"name": "坏", "pattern": "^(京A"})
    assert "missing ), unterminated subpattern" in str(bad.value)
    with pytest.raises(ValidationError):
        SpecialPlateIn.model_validate({"name": "空"})
    made = await specials.create_special(
        me,
        SpecialPlateIn.model_validate(
            {"name": "教练车", "plate_kinds": ["learner"], "pattern": "^WJ"}
        ),
    )
    for site in (lot, road):
        grant = SpecialPlateGrant.model_validate(
            await _latest(site.id, Entity.special_plate, str(made.id))
        )
        assert grant.plate_kinds == ["learner"] and grant.pattern == "^WJ"
    await specials.set_special_enabled(me, made.id, False)
    assert await _latest(lot.id, Entity.special_plate, str(made.id)) is None
    await specials.set_special_enabled(me, made.id, True)
    assert await _latest(lot.id, Entity.special_plate, str(made.id)) is not None
    await specials.delete_special(me, made.id)
    assert await _latest(road.id, Entity.special_plate, str(made.id)) is None
    assert not await SpecialPlate.filter(id=made.id).exists()
    # The demo defaults: 军警车 and 使馆车, once.
    seeded = await specials.seed_special_plates(tenant)
    assert [row.name for row in seeded] == ["军警车", "使馆车"]
    assert await specials.seed_special_plates(tenant) == []
    assert await specials.is_special(tenant.id, "京A1234警")
    assert await specials.is_special(tenant.id, "使123456")
    assert not await specials.is_special(tenant.id, "京A12345")


async def test_the_vehicle_type_of_a_plate_at_a_site(db: str) -> None:
    me, tenant, lot, road = await _me()
    now = datetime.now(UTC)
    rule_id = await _rule(me, [lot.id])
    await _issue(me, rule_id, ["京A12345", "京AD12345"])
    tomorrow = passes.today() + timedelta(days=1)
    await _issue(me, rule_id, ["京B99999"], starts_on=tomorrow)
    await specials.seed_special_plates(tenant)
    await specials.create_special(me, SpecialPlateIn(name="本单位", pattern="^京Q"))
    await ListEntry.create(tenant=tenant, site=road, plate="京C55555", kind=ListKind.whitelist)
    await ListEntry.create(
        tenant=tenant,
        site=road,
        plate="京C66666",
        kind=ListKind.whitelist,
        valid_until=now - timedelta(hours=1),
    )
    await ListEntry.create(tenant=tenant, site=road, plate="京C77777", kind=ListKind.blacklist)
    other, *_ = await _me("beta")

    async def kind(site: Site, plate: str, at: datetime = now, tenant_id: int = tenant.id) -> str:
        return await passes.lookup_vehicle_type(tenant_id, site.code, plate, at)

    assert await kind(lot, "京A12345") == VehicleType.monthly
    assert await kind(lot, "京a·12345") == VehicleType.monthly  # as a camera may read it
    assert await kind(road, "京A12345") == VehicleType.temporary  # not a site of its rule
    assert await kind(lot, "京AD12345") == VehicleType.monthly
    assert await kind(road, "京AD12345") == VehicleType.new_energy
    assert await kind(lot, "京B99999") == VehicleType.temporary  # starts tomorrow
    assert await kind(lot, "京B99999", now + timedelta(days=1)) == VehicleType.monthly
    assert await kind(lot, "京A1234警") == VehicleType.special
    assert await kind(road, "京Q00001") == VehicleType.special
    assert await kind(road, "京C55555") == VehicleType.company
    assert await kind(lot, "京C55555") == VehicleType.temporary  # another site's whitelist
    assert await kind(road, "京C66666") == VehicleType.temporary  # expired entry
    assert await kind(road, "京C77777") == VehicleType.temporary
    assert await kind(lot, "") == VehicleType.temporary
    # Another tenant's lot of the same plate knows nothing of this pass.
    beta_lot = await Site.get(code="beta-lot")
    assert await kind(beta_lot, "京A12345", tenant_id=other.tenant_id) == VehicleType.temporary
    # A cancelled pass no longer counts.
    ident = (await MonthlyPass.get(valid_from=passes.today())).id
    await passes.cancel_pass(me, ident)
    assert await kind(lot, "京A12345") == VehicleType.temporary


async def test_list_filters_and_export(db: str) -> None:
    me, _, lot, _ = await _me()
    rule_id = await _rule(me, [lot.id])
    a = await _issue(me, rule_id, ["京A12345"], months=1)
    b = await _issue(me, rule_id, ["京B12345"], months=6)
    c = await _issue(me, rule_id, ["沪C00001"], months=1)
    await passes.cancel_pass(me, c)
    d = await _issue(me, rule_id, ["京D12345"])
    today = passes.today()
    await MonthlyPass.filter(id=d).update(
        valid_from=today - timedelta(days=40), valid_until=today - timedelta(days=1), holder="王五"
    )
    page = PageParams()

    async def ids(**given: Any) -> set[int]:
        found = await passes.list_passes(me, PassFilter.model_validate(given), page)
        return {row.id for row in found.items}

    assert await ids() == {a, b, c, d}
    assert await ids(plate="12345") == {a, b, d}
    assert await ids(plate="京b") == {b}
    assert await ids(status="valid") == {a, b}
    assert await ids(status="cancelled") == {c}
    assert await ids(status="expired") == {d}
    assert await ids(expiring_days=40) == {a}
    assert await ids(holder="王") == {d}
    assert await ids(phone="1380") == {a, b, c, d}
    assert await ids(phone="139") == set()


async def _csrf_of(page: str) -> dict[str, str]:
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found
    return {"_csrf": found.group(1)}


async def test_pages_and_api(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    me = principal_of_user(admin.user)
    lot = await Site.create(
        tenant=admin.tenant, code="alpha-lot", name="一号停车场", kind=SiteKind.parking_lot
    )
    csrf = {"_csrf": await sign_in(cloud, admin.account, admin.password)}
    # The rule form takes yuan; a bad amount is refused with nothing made.
    form = await cloud.get("/parking/pass-rules/new")
    assert form.status == 200 and "一号停车场" in await form.text()
    rule = {
        "name": "月卡",
        "energy": "any",
        "price": "12.345",
        "sites": str(lot.id),
        "max_months": "12",
    }
    resp = await cloud.post("/parking/pass-rules/new", data={**csrf, **rule})
    assert resp.status == 400 and "最多两位小数" in await resp.text()
    assert not await MonthlyPassRule.exists()
    resp = await cloud.post(
        "/parking/pass-rules/new", data={**csrf, **rule, "price": "300"}, allow_redirects=False
    )
    assert resp.status == 302, await resp.text()
    made = await MonthlyPassRule.get(name="月卡")
    assert made.price_fen == 30_000 and made.sites == [lot.id]
    # Issue through the form; a bad plate is named and nothing is made.
    issue = {"rule_id": str(made.id), "holder": "张三", "phone": "13800000001", "months": "2"}
    resp = await cloud.post("/parking/passes/new", data={**csrf, **issue, "plates": "京A1"})
    assert resp.status == 400 and "京A1" in await resp.text()
    assert not await MonthlyPass.exists()
    resp = await cloud.post(
        "/parking/passes/new",
        data={**csrf, **issue, "plates": "京A12345, 京B12345"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    row = await MonthlyPass.get(holder="张三")
    assert row.plates == ["京A12345", "京B12345"] and row.paid_fen == 60_000
    edit = await cloud.get(f"/parking/passes/{row.id}/edit")
    assert 'value="京A12345, 京B12345"' in await edit.text()
    resp = await cloud.post("/parking/passes/new", data={**csrf, **issue, "plates": "京B12345"})
    assert resp.status == 400 and "已绑定在另一张有效包月卡上" in await resp.text()
    # The list shows it with its status and actions; filters and the export.
    listed = await cloud.get("/parking/passes?plate=京B")
    text = await listed.text()
    assert listed.status == 200 and "京A12345, 京B12345" in text and 'data-status="valid"' in text
    assert f'href="/parking/passes/{row.id}/renew"' in text
    assert "京A12345" not in await (await cloud.get("/parking/passes?status=cancelled")).text()
    resp = await cloud.get("/parking/passes/export.xlsx?plate=京A")
    assert resp.status == 200
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    cells = [[str(c) for c in r] for r in book.active.iter_rows(values_only=True)]
    assert cells[0][:3] == ["联系人", "联系电话", "绑定车牌"]
    assert len(cells) == 2 and cells[1][2] == "京A12345, 京B12345" and cells[1][6] == "有效"
    # Renew from the row: months refused when bad, added when good.
    page = await cloud.get(f"/parking/passes/{row.id}/renew")
    assert page.status == 200 and 'name="months"' in await page.text()
    resp = await cloud.post(f"/parking/passes/{row.id}/renew", data={**csrf, "months": "0"})
    assert resp.status == 400
    resp = await cloud.post(
        f"/parking/passes/{row.id}/renew", data={**csrf, "months": "1"}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await MonthlyPass.get(id=row.id)).paid_fen == 90_000
    # The menu reaches the white and black lists from 停车运营.
    home = await (await cloud.get("/parking/passes")).text()
    assert 'href="/lists?kind=whitelist"' in home and "特殊车牌配置" in home
    # Special plates: a bad pattern names the compile error and changes nothing.
    resp = await cloud.post(
        "/parking/special-plates/new", data={**csrf, "name": "坏", "pattern": "[京"}
    )
    assert resp.status == 400 and "unterminated character set" in await resp.text()
    assert not await SpecialPlate.exists()
    resp = await cloud.post(
        "/parking/special-plates/new",
        data={**csrf, "name": "军警", "plate_kinds": ["police", "armed_police"]},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert (await SpecialPlate.get(name="军警")).plate_kinds == ["police", "armed_police"]
    # The JSON API: issue, renew, cancel; refusals name the field.
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": admin.account, "password": admin.password}
    )
    token = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
    body = {
        "rule_id": made.id,
        "holder": "李四",
        "phone": "13800000002",
        "plates": ["沪A00001"],
        "months": 1,
    }
    resp = await cloud.post(f"{API_PREFIX}/monthly-passes", json=body, headers=token)
    issued = await resp.json()
    assert resp.status == 201, issued
    assert issued["paid_fen"] == 30_000 and issued["status"] == "valid"
    resp = await cloud.post(f"{API_PREFIX}/monthly-passes", json=body, headers=token)
    refused = await resp.json()
    assert resp.status == 409 and refused["field"] == "plates" and "沪A00001" in refused["message"]
    resp = await cloud.post(
        f"{API_PREFIX}/monthly-passes/{issued['id']}/renew", json={"months": 2}, headers=token
    )
    assert resp.status == 200 and (await resp.json())["paid_fen"] == 90_000
    resp = await cloud.post(
        f"{API_PREFIX}/monthly-passes/{issued['id']}/renew", json={"months": 0}, headers=token
    )
    assert resp.status == 422 and (await resp.json())["field"] == "months"
    resp = await cloud.post(f"{API_PREFIX}/monthly-passes/{issued['id']}/cancel", headers=token)
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    resp = await cloud.post(
        f"{API_PREFIX}/special-plates", json={"name": "x", "pattern": "(?P<"}, headers=token
    )
    assert resp.status == 422 and (await resp.json())["field"] == "pattern"
    resp = await cloud.get(f"{API_PREFIX}/monthly-passes?plate=京A&status=valid")
    listed_api = await resp.json()
    assert resp.status == 200 and [p["holder"] for p in listed_api["items"]] == ["张三"]
    # Another tenant's pass: 404 whatever the body, and nothing changes.
    beta = await make_tenant("beta")
    them = principal_of_user(beta.user)
    beta_lot = await Site.create(
        tenant=beta.tenant, code="beta-lot", name="beta-lot", kind=SiteKind.parking_lot
    )
    theirs = await _issue(them, await _rule(them, [beta_lot.id]), ["京Z00001"])
    for path in (f"/monthly-passes/{theirs}/renew", f"/monthly-passes/{theirs}/cancel"):
        resp = await cloud.post(f"{API_PREFIX}{path}", json={"name": "hijack"}, headers=token)
        assert resp.status == 404, path
    csrf = {"_csrf": await sign_in(cloud, admin.account, admin.password)}
    for path in (f"/parking/passes/{theirs}/renew", f"/parking/passes/{theirs}/cancel"):
        assert (await cloud.get(path)).status == 404
        assert (await cloud.post(path, data={**csrf, "months": "1"})).status == 404
    with pytest.raises(NotFound):
        await passes.get_pass(me, theirs)
    theirs_row = await MonthlyPass.get(id=theirs)
    assert theirs_row.state.value == "active" and theirs_row.paid_fen == 30_000


def test_every_key_of_these_pages_is_translated() -> None:
    from cloud import i18n, ui
    from cloud.parking.collector_pages import COLLECTORS_PAGE, SHIFTS_PAGE
    from cloud.parking.pass_pages import PASSES_PAGE, RULES_PAGE, SPECIALS_PAGE

    keys: set[str] = set()
    for resource in (RULES_PAGE, PASSES_PAGE, SPECIALS_PAGE, COLLECTORS_PAGE, SHIFTS_PAGE):
        keys |= {resource.title, *(c.label for c in resource.columns)}
        keys |= {f.label for f in resource.filters} | {f.placeholder for f in resource.filters}
        keys |= {f.label for f in resource.fields} | {f.help for f in resource.fields}
    for pattern in ("pass*.html", "collector*.html", "shift*.html"):
        for path in (ui.TEMPLATES_DIR / "parking").glob(pattern):
            keys |= set(re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[,)]", path.read_text("utf-8")))
    keys |= {f"parking.passes.status.{s.value}" for s in PassStatus}
    keys |= {f"parking.collectors.state.{s}" for s in ("true", "false")}
    keys |= {f"parking.shifts.field.{s}" for s in ("late", "early")}
    missing = sorted(k for k in keys if k and not i18n.has(k))
    assert not missing and len(keys) > 60
