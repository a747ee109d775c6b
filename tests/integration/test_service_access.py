"""Access services on the real database: lists and rules published to edges, records, dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cloud.access import service
from cloud.access.schemas import (
    AccessRecordFilter,
    AccessRuleIn,
    ListEntryFilter,
    ListEntryIn,
)
from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.sites.models import StateChange
from protocols.events import Verdict
from protocols.sync import ListKind
from tests.conftest import make_tenant
from tests.e2e.seed import Place, add_records, make_place, principal_of_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _setup(code: str = "alpha") -> tuple[Principal, Place]:
    admin = await make_tenant(code)
    return principal_of_user(admin.user), await make_place(admin.tenant, prefix=f"{code}-")


async def _log(site_id: int) -> list[tuple[str, str, object]]:
    rows = await StateChange.filter(site_id=site_id).order_by("revision")
    return [(row.entity, row.key, row.data) for row in rows]


async def test_list_entry_is_normalised_published_and_retracted(db: str) -> None:
    me, place = await _setup()
    entry = await service.create_entry(
        me, ListEntryIn(site_id=place.site.id, plate=" 京a·12345 ", kind=ListKind.whitelist)
    )
    assert entry.plate == "京A12345"
    await service.set_entry_enabled(me, entry.id, False)
    await service.set_entry_enabled(me, entry.id, True)
    await service.update_entry(
        me, entry.id, ListEntryIn(site_id=place.site.id, plate="京A12345", kind=ListKind.blacklist)
    )
    await service.delete_entry(me, entry.id)
    log = await _log(place.site.id)
    assert [(key, data is not None) for _, key, data in log] == [
        ("whitelist:京A12345", True),
        ("whitelist:京A12345", False),
        ("whitelist:京A12345", True),
        ("whitelist:京A12345", False),
        ("blacklist:京A12345", True),
        ("blacklist:京A12345", False),
    ]
    assert log[0][2] == {
        "plate": "京A12345",
        "kind": "whitelist",
        "valid_from": None,
        "valid_until": None,
        "note": "",
    }


async def test_list_entry_rules(db: str) -> None:
    me, place = await _setup()
    with pytest.raises(ValidationError) as bad:
        ListEntryIn(site_id=place.site.id, plate="hello", kind=ListKind.whitelist)
    assert bad.value.errors()[0]["loc"] == ("plate",)
    now = datetime.now(UTC)
    with pytest.raises(ValidationError):
        ListEntryIn(
            site_id=place.site.id,
            plate="京A12345",
            kind=ListKind.whitelist,
            valid_from=now,
            valid_until=now - timedelta(days=1),
        )
    data = ListEntryIn(site_id=place.site.id, plate="京A12345", kind=ListKind.whitelist)
    await service.create_entry(me, data)
    with pytest.raises(Conflict) as clash:
        await service.create_entry(me, data)
    assert clash.value.field == "plate"


async def test_access_rule_published_with_lane_codes(db: str) -> None:
    me, place = await _setup()
    rule = await service.create_rule(
        me,
        AccessRuleIn(
            site_id=place.site.id,
            name="教职工",
            lanes=[place.entry.code],
            weekdays=[5, 1, 1],
            start_time=time(7),
            end_time=time(22),
        ),
    )
    assert rule.weekdays == [1, 5]
    ((entity, key, data),) = await _log(place.site.id)
    assert (entity, key) == ("access_rule", str(rule.id))
    assert data == {
        "name": "教职工",
        "plate": "",
        "lanes": [place.entry.code],
        "weekdays": [1, 5],
        "start": "07:00:00",
        "end": "22:00:00",
        "valid_from": None,
        "valid_until": None,
    }
    with pytest.raises(Invalid) as refused:
        await service.create_rule(
            me, AccessRuleIn(site_id=place.site.id, name="x", lanes=["nowhere"])
        )
    assert refused.value.field == "lanes"
    await service.delete_rule(me, rule.id)
    assert (await _log(place.site.id))[-1] == ("access_rule", str(rule.id), None)


async def test_rule_hours_must_be_ordered(db: str) -> None:
    with pytest.raises(ValidationError) as bad:
        AccessRuleIn(site_id=1, name="x", start_time=time(9), end_time=time(8))
    assert bad.value.errors()[0]["ctx"]["field"] == "end_time"


async def test_records_filter_by_plate_exact_prefix_verdict_and_time(db: str) -> None:
    me, place = await _setup()
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    await add_records(place, ["京A12345", "京A12346", "沪B55555", "京A12345"], start=start)
    page = PageParams()
    exact = await service.list_records(me, AccessRecordFilter(plate="京A12345"), page)
    assert exact.total == 2 and {r.plate for r in exact.items} == {"京A12345"}
    prefix = await service.list_records(me, AccessRecordFilter(plate="京a"), page)
    assert prefix.total == 3
    opened = await service.list_records(me, AccessRecordFilter(verdict=Verdict.open), page)
    assert opened.total == 2
    window = await service.list_records(
        me,
        AccessRecordFilter(
            occurred_from=start - timedelta(minutes=2), occurred_to=start - timedelta(minutes=0.5)
        ),
        page,
    )
    assert [r.plate for r in window.items] == ["京A12346", "沪B55555"]
    newest_first = await service.list_records(me, AccessRecordFilter(), page)
    assert newest_first.items[0].occurred_at == start
    oldest_first = await service.list_records(
        me, AccessRecordFilter(), PageParams(sort="occurred_at")
    )
    assert oldest_first.items[0].occurred_at == start - timedelta(minutes=3)


async def test_record_count_is_capped(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    me, place = await _setup()
    await add_records(place, [f"京A{n:05d}" for n in range(12)])
    monkeypatch.setattr(service, "RECORD_COUNT_CAP", 10)
    page = await service.list_records(me, AccessRecordFilter(), PageParams(page_size=5))
    assert (page.total, page.total_capped, len(page.items)) == (10, True, 5)


async def test_records_and_lists_of_another_tenant_stay_hidden(db: str) -> None:
    me, _ = await _setup("alpha")
    other, other_place = await _setup("beta")
    await add_records(other_place, ["京A12345"])
    entry = await service.create_entry(
        other, ListEntryIn(site_id=other_place.site.id, plate="京A12345", kind=ListKind.blacklist)
    )
    assert (await service.list_records(me, AccessRecordFilter(), PageParams())).total == 0
    assert (await service.list_entries(me, ListEntryFilter(), PageParams())).total == 0
    with pytest.raises(NotFound):
        await service.delete_entry(me, entry.id)
    with pytest.raises(Invalid):
        await service.create_entry(
            me, ListEntryIn(site_id=other_place.site.id, plate="京A12345", kind=ListKind.whitelist)
        )


async def test_dashboard_counts_today_and_trend_by_local_day(db: str) -> None:
    me, place = await _setup()
    # 2024-05-10 00:30 in Shanghai is 05-09 16:30 UTC: it counts for the 10th.
    now = datetime(2024, 5, 10, 12, 0, tzinfo=SHANGHAI)
    await add_records(
        place,
        ["京A00001", "京A00002", "京A00003"],
        start=datetime(2024, 5, 10, 0, 30, tzinfo=SHANGHAI),
        step=timedelta(minutes=20),
    )
    await add_records(
        place,
        ["京A00004"],
        start=datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI),
    )
    data = await service.dashboard(me, SHANGHAI, now=now)
    # 00:30 open, 00:10 deny, 23:50 (the 9th) open
    assert (data.today_open, data.today_deny) == (1, 1)
    assert len(data.trend) == 30 and data.trend[-1].day.isoformat() == "2024-05-10"
    by_day = {d.day.isoformat(): (d.open, d.deny) for d in data.trend}
    assert by_day["2024-05-09"] == (1, 0)
    assert by_day["2024-05-01"] == (1, 0)
    assert data.by_site[0].site_name == place.site.name
