"""The lot engine's rules: who enters, what a stay costs, and when what was paid lets it out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from edge.engines.lot import (
    GRACE,
    Fee,
    arrears_refusal_text,
    check_entry,
    fee_text,
    parking_fee,
    prepare_tariff,
    settle,
)
from protocols.charging import TariffGrant
from protocols.events import Reason
from protocols.parking import (
    ArrearsGrant,
    ArrearsItem,
    MonthlyPassGrant,
    ParkingSiteGrant,
    SpecialPlateGrant,
)

TODAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def arrears(total: int) -> ArrearsGrant:
    item = ArrearsItem(order="o1", site="street-1", amount_fen=total, occurred_at=T0)
    return ArrearsGrant(total_fen=total, items=[item])


def lot(refuse_above: int | None = None, tariff: str = "parking:7") -> ParkingSiteGrant:
    return ParkingSiteGrant(
        name="东区", kind="parking_lot", tariff=tariff, refuse_arrears_above_fen=refuse_above
    )


def entry(plate: str = "京A12345", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "place": lot(),
        "arrears": None,
        "monthly": None,
        "specials": [],
        "whitelisted": False,
        "today": TODAY,
    }
    args.update(kw)
    return check_entry(plate, "east-lot", **args)


def test_arrears_above_the_threshold_refuse_entry_and_below_it_only_warn() -> None:
    refused = entry(place=lot(refuse_above=3000), arrears=arrears(3500))
    assert refused.refuse and refused.reason == Reason.arrears and refused.arrears_fen == 3500
    assert arrears_refusal_text(3500) == "欠费35.00元 请补缴"
    warned = entry(place=lot(refuse_above=5000), arrears=arrears(3500))
    assert not warned.refuse and warned.arrears_fen == 3500 and warned.free_reason == ""
    never = entry(place=lot(refuse_above=None), arrears=arrears(999_999))
    assert not never.refuse


def test_monthly_pass_of_this_lot_is_free_and_of_another_lot_is_a_temporary_stay() -> None:
    here = MonthlyPassGrant(
        holder="王", sites=["east-lot"], valid_from=date(2026, 11, 1), valid_until=TODAY
    )
    elsewhere = here.model_copy(update={"sites": ["west-lot"]})
    expired = here.model_copy(update={"valid_until": TODAY - timedelta(days=1)})
    assert entry(monthly=here).free_reason == "monthly"
    assert entry(monthly=here).reason == Reason.monthly
    assert entry(monthly=elsewhere).free_reason == ""
    assert entry(monthly=elsewhere).reason is None
    assert entry(monthly=expired).free_reason == ""


def test_special_plates_by_kind_or_pattern_are_free_even_with_arrears() -> None:
    police = SpecialPlateGrant(name="警车", plate_kinds=["police"])
    coach = SpecialPlateGrant(name="教练车", pattern="学$")
    specials = [("1", police), ("2", coach)]
    refuse = lot(refuse_above=0)
    kind = entry("京A1234警", specials=specials, place=refuse, arrears=arrears(100))
    assert (kind.refuse, kind.free_reason) == (False, "special")
    assert entry("粤B1234学", specials=specials).free_reason == "special"
    assert entry("粤B12345", specials=specials).free_reason == ""
    broken = [("3", SpecialPlateGrant(name="bad", pattern="(["))]
    assert entry("粤B12345", specials=broken).free_reason == ""


def test_whitelisted_plates_are_free() -> None:
    assert entry(whitelisted=True).free_reason == "whitelist"


def hourly_tariff() -> TariffGrant:
    document = {
        "kind": "parking",
        "name": "每小时5元",
        "free_minutes": 15,
        "elements": [
            {
                "label": "小型车",
                "components": [{"kind": "time", "price_fen": 500, "step_minutes": 60}],
            }
        ],
    }
    return TariffGrant(versions=[{"effective_from": "2026-01-01", "document": document}])  # type: ignore[list-item]


def test_the_fee_comes_from_the_cached_tariff_and_free_minutes_hold() -> None:
    prepared = prepare_tariff("parking:7", hourly_tariff())
    assert prepared is not None
    tariffs = {"parking:7": prepared}
    fee = parking_fee(lot(), tariffs, None, T0, T0 + timedelta(hours=2, minutes=15), "京A12345")
    assert fee.total_fen == 1500 and fee.tariff == "parking:7"
    assert fee.bill is not None and fee.bill["total_fen"] == 1500
    short = parking_fee(lot(), tariffs, None, T0, T0 + timedelta(minutes=10), "京A12345")
    assert short.total_fen == 0
    assert (
        parking_fee(lot(tariff=""), tariffs, None, T0, T0 + timedelta(hours=5), "x").total_fen == 0
    )
    missing = parking_fee(lot(tariff="parking:9"), tariffs, None, T0, T0 + timedelta(hours=5), "x")
    assert missing.total_fen == 0
    assert fee_text(T0, T0 + timedelta(hours=2, minutes=15), 1200) == "停车2小时15分 请缴费12.00元"


def test_prepaid_covers_the_fee_within_the_grace_and_not_after() -> None:
    paid_at = T0 + timedelta(hours=2)
    when_paid = Fee(1000)
    later = Fee(1500)
    inside = settle(later, 1000, paid_at, when_paid, paid_at + GRACE - timedelta(seconds=1))
    assert inside.opens and inside.due_fen == 1000 and inside.paid_fen == 1000
    after = settle(later, 1000, paid_at, when_paid, paid_at + GRACE + timedelta(minutes=1))
    assert not after.opens and after.owed_fen == 500 and after.due_fen == 1500
    exact = settle(Fee(1000), 1000, paid_at, when_paid, paid_at + timedelta(hours=3))
    assert exact.opens
    unpaid = settle(Fee(800), 0, None, None, T0)
    assert (unpaid.opens, unpaid.owed_fen) == (False, 800)
