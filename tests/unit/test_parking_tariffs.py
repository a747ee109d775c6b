"""Parking tariffs: each rule type of the admin form billed by hand, a stay across midnight into
a long holiday, calendar changes, the document checks, and the bill's JSON round trip."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocols.tariffs import (
    DayKind,
    DayNight,
    HolidayCalendar,
    NoCharge,
    ParkingBill,
    PerPeriod,
    PerVisit,
    Scheme,
    TariffError,
    bill_parking,
    day_night_parking,
    no_charge_parking,
    parking_schemes,
    parking_tariff,
    parse_tariff,
    per_period_parking,
    per_visit_parking,
    uniform_charging,
)

SH = ZoneInfo("Asia/Shanghai")
FIRST_HOUR = PerPeriod(first_minutes=60, first_price_fen=500, step_minutes=30, price_fen=200)


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, second, tzinfo=SH)


def amounts(bill: ParkingBill) -> list[tuple[str, str, int]]:
    return [(line.kind, line.label, line.amount_fen) for line in bill.lines]


# --- rule types ------------------------------------------------------------------------------------


def test_first_hour_then_every_half_hour_counts_started_steps() -> None:
    document = per_period_parking("路内", 30, 200, first_minutes=60, first_price_fen=500)
    # 60 minutes: the first hour only; 61 minutes: one started half hour more.
    assert bill_parking(document, at(5, 6, 9), at(5, 6, 10)).total_fen == 500
    bill = bill_parking(document, at(5, 6, 9), at(5, 6, 10, 0, 1))
    assert bill.minutes == 61
    assert amounts(bill) == [("time", "首60分钟", 500), ("time", "每30分钟", 200)]
    assert bill.lines[1].steps == 1 and bill.lines[1].minutes == 1
    # 2 h 10 min: 5 + 3 x 2 yuan.
    assert bill_parking(document, at(5, 6, 9), at(5, 6, 11, 10)).total_fen == 1100


def test_per_visit_charges_once_and_no_charge_charges_nothing() -> None:
    visit = per_visit_parking("按次", 1000)
    assert bill_parking(visit, at(5, 6, 9), at(5, 8, 9)).total_fen == 1000
    free = no_charge_parking("不收费")
    bill = bill_parking(free, at(5, 6, 9), at(5, 8, 9))
    assert bill.total_fen == 0 and all(line.amount_fen == 0 for line in bill.lines)


def test_day_night_split_with_a_price_per_night_across_midnight() -> None:
    document = day_night_parking(
        "日夜",
        time(8),
        time(20),
        PerPeriod(step_minutes=60, price_fen=300),
        PerVisit(price_fen=800),
    )
    # 18:30 -> next day 09:10: day 18:30-20:00 (2 started hours), one night, day 08:00-09:10 (2).
    bill = bill_parking(document, at(5, 6, 18, 30), at(5, 7, 9, 10))
    assert amounts(bill) == [
        ("time", "白天每60分钟", 600),
        ("flat", "夜间按次", 800),
        ("time", "白天每60分钟", 600),
    ]
    night = bill.lines[1]
    assert night.start == at(5, 6, 20) and night.end == at(5, 7, 8) and night.minutes == 720
    assert bill.total_fen == 2000


def test_a_stay_across_midnight_keeps_one_segment_while_the_rule_is_the_same() -> None:
    document = per_period_parking("计时", 60, 300)
    bill = bill_parking(document, at(5, 6, 23, 30), at(5, 7, 0, 40))
    assert len(bill.lines) == 1 and bill.lines[0].steps == 2 and bill.total_fen == 600


def test_workday_evening_to_long_holiday_morning_switches_rule_at_midnight() -> None:
    document = parking_tariff(
        "节假日",
        [
            Scheme(day_kinds=[DayKind.long_holiday], rule=NoCharge()),
            Scheme(rule=PerPeriod(step_minutes=60, price_fen=300)),
        ],
    )
    calendar = HolidayCalendar({date(2024, 10, 1): DayKind.long_holiday})
    # Monday 30 September 21:00 -> Tuesday 1 October (国庆) 10:00: three hours charged.
    bill = bill_parking(document, at(9, 30, 21), at(10, 1, 10), calendar=calendar)
    assert [(line.label, line.amount_fen) for line in bill.lines] == [
        ("每60分钟", 900),
        ("长假·不收费", 0),
    ]
    assert bill.lines[0].end == at(10, 1, 0)
    # Without the holiday, the 1st is an ordinary Tuesday: 13 started hours.
    assert bill_parking(document, at(9, 30, 21), at(10, 1, 10)).total_fen == 13 * 300


def test_calendar_change_moves_the_rule_and_a_weekend_can_be_made_a_workday() -> None:
    document = parking_tariff(
        "周末免费",
        [
            Scheme(day_kinds=[DayKind.weekend], rule=NoCharge()),
            Scheme(rule=PerPeriod(step_minutes=60, price_fen=200)),
        ],
    )
    saturday = (at(10, 12, 9), at(10, 12, 12))
    assert bill_parking(document, *saturday).total_fen == 0
    swapped = HolidayCalendar({date(2024, 10, 12): DayKind.workday})  # 调休
    assert bill_parking(document, *saturday, calendar=swapped).total_fen == 600
    grants = HolidayCalendar.from_grants({"2024-10-12": {"kind": "workday", "name": "调休"}})
    assert grants == swapped


def test_vehicle_classes_choose_their_rule_and_new_energy_pays_a_percent() -> None:
    document = parking_tariff(
        "分车型",
        [
            Scheme(vehicle_classes=["large"], rule=PerPeriod(step_minutes=60, price_fen=1000)),
            Scheme(rule=PerPeriod(step_minutes=60, price_fen=300)),
        ],
        new_energy_percent=50,
    )
    stay = (at(5, 6, 9), at(5, 6, 11, 30))
    assert bill_parking(document, *stay, vehicle_class="large").total_fen == 3000
    assert bill_parking(document, *stay, vehicle_class="small").total_fen == 900
    assert bill_parking(document, *stay, vehicle_class="other").total_fen == 900
    green = bill_parking(document, *stay, new_energy=True)
    assert green.total_fen == 450 and green.lines[-1].kind == "new_energy"
    assert green.lines[-1].amount_fen == -450
    # half a fen rounds up: 3 x 1 fen at 50 % pays 2 fen
    odd = per_period_parking("一分", 60, 1, new_energy_percent=50)
    assert bill_parking(odd, at(5, 6, 9), at(5, 6, 11, 30), new_energy=True).total_fen == 2


def test_free_minutes_without_and_with_deduction() -> None:
    plain = per_period_parking("免15", 30, 200, free_minutes=15)
    within = bill_parking(plain, at(5, 6, 9), at(5, 6, 9, 15))
    assert within.total_fen == 0 and within.within_free_minutes
    assert amounts(within) == [("time", "每30分钟", 200), ("free", "15分钟内免费", -200)]
    assert bill_parking(plain, at(5, 6, 9), at(5, 6, 9, 15, 1)).total_fen == 200
    assert bill_parking(plain, at(5, 6, 9), at(5, 6, 9, 45)).total_fen == 400

    deducted = per_period_parking("减15", 30, 200, free_minutes=15, free_minutes_deducted=True)
    bill = bill_parking(deducted, at(5, 6, 9), at(5, 6, 9, 45))
    assert amounts(bill) == [("free", "免费15分钟", 0), ("time", "每30分钟", 200)]
    assert bill.lines[1].start == at(5, 6, 9, 15)


def test_caps_per_day_book_steps_to_their_day_and_the_stay_cap_holds() -> None:
    document = per_period_parking("封顶", 60, 500, cap_per_day_fen=3000)
    # 20:00 day 1 -> 02:00 day 3: 4 h on day 1 (2000), 24 h on day 2 (12000 -> 3000), 2 h (1000)
    bill = bill_parking(document, at(5, 6, 20), at(5, 8, 2))
    caps = [line for line in bill.lines if line.kind == "cap_day"]
    assert [(c.label, c.amount_fen) for c in caps] == [("每日封顶 2024-05-07", -9000)]
    assert bill.total_fen == 2000 + 3000 + 1000
    stay_cap = per_period_parking("单次", 60, 500, cap_per_day_fen=3000, cap_per_stay_fen=4000)
    capped = bill_parking(stay_cap, at(5, 6, 20), at(5, 8, 2))
    assert capped.total_fen == 4000 and capped.lines[-1].kind == "cap_stay"


def test_a_zero_length_stay_and_seconds() -> None:
    document = per_visit_parking("按次", 1000)
    assert bill_parking(document, at(5, 6, 9), at(5, 6, 9)).total_fen == 0
    per_minute = per_period_parking("每分钟", 1, 10)
    # 61 seconds are two started minutes
    assert bill_parking(per_minute, at(5, 6, 9), at(5, 6, 9, 1, 1)).total_fen == 20


def test_bad_stays_are_refused_with_a_clear_error() -> None:
    document = per_visit_parking("按次", 1000)
    with pytest.raises(TariffError, match="exit before entry"):
        bill_parking(document, at(5, 6, 9), at(5, 6, 8))
    with pytest.raises(TariffError, match="aware"):
        bill_parking(document, datetime(2024, 5, 6, 9), at(5, 6, 10))
    with pytest.raises(TariffError, match="vehicle class"):
        bill_parking(document, at(5, 6, 9), at(5, 6, 10), vehicle_class="truck")
    with pytest.raises(TariffError, match="not a parking tariff"):
        bill_parking(uniform_charging("充电", 100, 50), at(5, 6, 9), at(5, 6, 10))


def test_the_bill_round_trips_as_json() -> None:
    document = day_night_parking(
        "日夜",
        time(8),
        time(20),
        FIRST_HOUR,
        PerVisit(price_fen=800),
        cap_per_day_fen=2500,
        new_energy_percent=80,
        free_minutes=10,
    )
    bill = bill_parking(document, at(5, 6, 18, 30), at(5, 8, 9, 10), new_energy=True)
    again = ParkingBill.from_dict(bill.as_dict())
    assert again == bill
    assert bill.total_fen == sum(line.amount_fen for line in bill.lines)
    tampered = bill.as_dict()
    tampered["total_fen"] += 1
    with pytest.raises(TariffError, match="sum of the lines"):
        ParkingBill.from_dict(tampered)


# --- document checks -------------------------------------------------------------------------------


def _doc(*elements: dict[str, object], **terms: object) -> dict[str, object]:
    return {"kind": "parking", "name": "t", "elements": list(elements), **terms}


def _time(price: int, step: int, **rules: object) -> dict[str, object]:
    return {
        "label": "x",
        "components": [{"kind": "time", "price_fen": price, "step_minutes": step}],
        "restrictions": rules,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_doc(_time(100, 0)), "step_minutes > 0"),
        (_doc(_time(-1, 30)), "price_fen"),
        (_doc(_time(100, 30), _time(200, 60, day_kinds=["workday"])), "can never apply"),
        (_doc(_time(100, 30, max_minutes=60), _time(200, 30, min_minutes=30)), "overlapping"),
        (_doc(_time(100, 30, min_minutes=60, max_minutes=60)), "max_minutes > min_minutes"),
        (_doc(_time(100, 30, vehicle_classes=["bus"])), "unknown vehicle class"),
        (_doc(_time(100, 30, start_time="08:00")), "start and end together"),
        (_doc(_time(100, 30), free_minutes=-5), "free_minutes"),
        (_doc(_time(100, 30), new_energy_percent=120), "new_energy_percent"),
        (
            _doc({"label": "e", "components": [{"kind": "energy", "price_fen": 100}]}),
            "time or flat",
        ),
    ],
)
def test_invalid_parking_documents_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff(data)


def test_charging_documents_refuse_parking_terms_and_dump_as_before() -> None:
    document = uniform_charging("充电", 100, 50)
    body = document.model_dump(mode="json")
    assert "free_minutes" not in body and "cap_per_day_fen" not in body
    with pytest.raises(TariffError, match="no free_minutes"):
        parse_tariff({**body, "free_minutes": 15})


def test_the_form_rules_come_back_out_of_the_document() -> None:
    schemes = [
        Scheme(vehicle_classes=["large"], day_kinds=[DayKind.long_holiday], rule=NoCharge()),
        Scheme(
            vehicle_classes=["large"],
            rule=DayNight(
                day_start=time(7, 30),
                day_end=time(21),
                day=FIRST_HOUR,
                night=PerVisit(price_fen=1000),
            ),
        ),
        Scheme(rule=FIRST_HOUR),
    ]
    document = parking_tariff("全部", schemes, free_minutes=15, cap_per_day_fen=5000)
    assert parking_schemes(document) == schemes
    assert parking_schemes(parse_tariff(document.model_dump(mode="json"))) == schemes
    assert document.free_minutes == 15 and document.cap_per_day_fen == 5000


def test_a_day_night_rule_needs_two_different_bounds() -> None:
    with pytest.raises(TariffError, match="day start and end"):
        day_night_parking("x", time(8), time(8), NoCharge(), NoCharge())


def test_line_times_are_local_and_in_order() -> None:
    document = per_period_parking("x", 60, 100)
    utc_entry = at(5, 6, 9).astimezone(ZoneInfo("UTC"))
    bill = bill_parking(document, utc_entry, utc_entry + timedelta(hours=2))
    assert bill.lines[0].start.utcoffset() == timedelta(hours=8)
    assert bill.lines[0].start == at(5, 6, 9)
