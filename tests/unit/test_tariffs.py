"""Tariff documents and the charging evaluator: hand-computed bills, the 24-hour coverage rule,
the midnight rule, and properties of every bill (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.tariffs import (
    MAX_PREPAY_OPTIONS,
    Bill,
    Period,
    Reading,
    TariffDocument,
    TariffError,
    bill_charging,
    bill_energy_at,
    half_up,
    line_amount_fen,
    parse_tariff,
    slot_table,
    time_of_use_charging,
    time_of_use_rows,
    uniform_charging,
    version_in_force,
)

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=SH)


# 谷 22:00–06:00 (past midnight), 平 06:00–10:00 and 15:00–18:00, 峰 10:00–15:00 and 18:00–21:00,
# 尖 21:00–22:00.
TOU = time_of_use_charging(
    "示例峰平谷",
    [
        (Period.valley, time(22), time(6), 30, 40),
        (Period.flat, time(6), time(10), 70, 50),
        (Period.peak, time(10), time(15), 110, 60),
        (Period.flat, time(15), time(18), 70, 50),
        (Period.peak, time(18), time(21), 110, 60),
        (Period.sharp, time(21), time(22), 130, 80),
    ],
    prepay_options_fen=[2000, 5000, 10000],
)
UNIFORM = uniform_charging("统一价", 80, 40, [5000])


def lines_of(bill: Bill) -> list[tuple[str, str, int, int, int]]:
    return [(x.label, x.component, x.quantity, x.unit_price_fen, x.amount_fen) for x in bill.lines]


# --- the rounding rule -------------------------------------------------------------------------


def test_half_up_rounds_halves_up_and_nothing_else() -> None:
    assert [half_up(n, 10) for n in (0, 4, 5, 14, 15, 149, 150)] == [0, 0, 1, 1, 2, 15, 15]
    assert line_amount_fen(1, 500) == 1  # 0.5 fen
    assert line_amount_fen(1, 499) == 0  # 0.499 fen
    assert line_amount_fen(10_005, 80) == 800  # 800.4 fen
    assert line_amount_fen(10_007, 50) == 500  # 500.35 fen
    assert line_amount_fen(10_010, 50) == 501  # 500.5 fen


# --- hand-computed bills -------------------------------------------------------------------------


def test_uniform_bill_by_hand() -> None:
    # 12.345 kWh at 0.80 + 0.40 yuan/kWh: 987.6 -> 988 fen and 493.8 -> 494 fen.
    bill = bill_charging(UNIFORM, [Reading(at(1, 9), 1_000), Reading(at(1, 11), 13_345)])
    assert lines_of(bill) == [
        ("统一", "energy", 12_345, 80, 988),
        ("统一", "service", 12_345, 40, 494),
    ]
    assert (bill.energy_wh, bill.electricity_fen, bill.service_fen, bill.total_fen) == (
        12_345,
        988,
        494,
        1_482,
    )


def test_time_of_use_splits_energy_in_proportion_to_time() -> None:
    # 09:00–11:00 evenly, 30 kWh: one hour flat (15 kWh), one hour peak (15 kWh).
    bill = bill_charging(TOU, [Reading(at(1, 9), 0), Reading(at(1, 11), 30_000)])
    assert lines_of(bill) == [
        ("平", "energy", 15_000, 70, 1_050),
        ("平", "service", 15_000, 50, 750),
        ("峰", "energy", 15_000, 110, 1_650),
        ("峰", "service", 15_000, 60, 900),
    ]
    assert bill.total_fen == 4_350
    assert bill.lines[0].start == at(1, 9) and bill.lines[0].end == at(1, 10)
    assert bill.lines[2].start == at(1, 10) and bill.lines[2].end == at(1, 11)


def test_uneven_readings_and_one_rounding_per_line() -> None:
    # 09:40–10:20 brings 1 kWh: 20 min flat, 20 min peak -> 500 Wh each;
    # 10:20–10:50 brings 333 Wh, all peak -> peak 833 Wh.
    bill = bill_charging(
        TOU,
        [Reading(at(1, 9, 40), 0), Reading(at(1, 10, 20), 1_000), Reading(at(1, 10, 50), 1_333)],
    )
    assert lines_of(bill) == [
        ("平", "energy", 500, 70, 35),
        ("平", "service", 500, 50, 25),
        ("峰", "energy", 833, 110, 92),  # 91.63 -> 92
        ("峰", "service", 833, 60, 50),  # 49.98 -> 50
    ]
    assert bill.total_fen == 202


def test_a_session_across_midnight_carries_on_into_the_next_day() -> None:
    # 21:30–06:30 (9 h), 90 kWh evenly: 尖 0.5 h, 谷 8 h, 平 0.5 h.
    bill = bill_charging(TOU, [Reading(at(1, 21, 30), 0), Reading(at(2, 6, 30), 90_000)])
    assert [(x.label, x.component, x.quantity) for x in bill.lines] == [
        ("尖", "energy", 5_000),
        ("尖", "service", 5_000),
        ("谷", "energy", 80_000),
        ("谷", "service", 80_000),
        ("平", "energy", 5_000),
        ("平", "service", 5_000),
    ]
    assert bill.total_fen == 5 * (130 + 80) + 80 * (30 + 40) + 5 * (70 + 50)
    valley = bill.lines[2]
    assert valley.start == at(1, 22) and valley.end == at(2, 6)


def test_each_time_range_is_its_own_line_and_a_day_later_joins_it() -> None:
    # 09:00 to 19:00, 100 kWh: 平 06–10 1 h, 峰 10–15 5 h, 平 15–18 3 h, 峰 18–21 1 h.
    bill = bill_charging(TOU, [Reading(at(1, 9), 0), Reading(at(1, 19), 100_000)])
    energy = [(x.label, x.quantity, x.start.hour) for x in bill.lines if x.component == "energy"]
    assert energy == [("平", 10_000, 9), ("峰", 50_000, 10), ("平", 30_000, 15), ("峰", 10_000, 18)]
    # 25 hours from 09:00: the 09:00–10:00 flat range comes round again and joins its line.
    bill = bill_charging(TOU, [Reading(at(1, 9), 0), Reading(at(2, 10), 25_000)])
    first = bill.lines[0]
    assert (first.label, first.quantity, first.start, first.end) == (
        "平",
        5_000,
        at(1, 9),
        at(2, 10),
    )


def test_register_going_backwards_counts_nothing_then_counts_again() -> None:
    readings = [
        Reading(at(1, 9), 5_000),
        Reading(at(1, 9, 10), 6_000),
        Reading(at(1, 9, 20), 100),  # reset by a new session
        Reading(at(1, 9, 30), 600),
    ]
    bill = bill_charging(UNIFORM, readings)
    assert bill.energy_wh == 1_500
    assert lines_of(bill)[0] == ("统一", "energy", 1_500, 80, 120)
    assert all(line.amount_fen >= 0 for line in bill.lines)


def test_billing_test_is_one_figure_at_one_instant() -> None:
    bill = bill_energy_at(TOU, 10_000, at(1, 21, 15))
    assert lines_of(bill) == [
        ("尖", "energy", 10_000, 130, 1_300),
        ("尖", "service", 10_000, 80, 800),
    ]
    assert bill_energy_at(TOU, 0, at(1, 3)).total_fen == 0
    with pytest.raises(TariffError):
        bill_energy_at(TOU, -1, at(1, 3))


def test_local_time_decides_the_period_whatever_zone_the_readings_are_in() -> None:
    start = at(1, 10).astimezone(UTC)
    bill = bill_charging(TOU, [Reading(start, 0), Reading(start + timedelta(minutes=30), 5_000)])
    assert {x.label for x in bill.lines} == {"峰"}


def test_readings_must_be_in_order_and_aware() -> None:
    with pytest.raises(TariffError):
        bill_charging(UNIFORM, [Reading(at(1, 10), 0), Reading(at(1, 9), 10)])
    with pytest.raises(TariffError):
        bill_charging(UNIFORM, [Reading(datetime(2024, 5, 1, 9), 0), Reading(at(1, 10), 1)])
    assert bill_charging(UNIFORM, []).total_fen == 0
    assert bill_charging(UNIFORM, [Reading(at(1, 9), 5)]).lines == ()


def test_bill_round_trips_through_a_dict() -> None:
    bill = bill_charging(TOU, [Reading(at(1, 21, 30), 0), Reading(at(2, 6, 30), 90_000)])
    assert Bill.from_dict(bill.as_dict()) == bill
    assert bill.as_dict()["lines"][0]["period"] == "sharp"


# --- document validation -------------------------------------------------------------------


def test_documents_round_trip_through_json() -> None:
    for document in (TOU, UNIFORM):
        assert parse_tariff(document.model_dump(mode="json")) == document
    assert TOU.time_of_use and not UNIFORM.time_of_use
    assert time_of_use_rows(TOU)[0] == (Period.flat, time(6), time(10), 70, 50)


def test_gap_and_overlap_are_named_in_minutes() -> None:
    with pytest.raises(TariffError) as caught:
        time_of_use_charging(
            "x",
            [
                (Period.valley, time(0), time(7), 30, 40),
                (Period.peak, time(7, 30), time(12, 30), 100, 50),
                (Period.flat, time(12), time(0), 70, 50),
            ],
        )
    assert caught.value.message.startswith("未覆盖 07:00–07:30；重叠 12:00–12:30")
    assert caught.value.field == "elements"


def test_periods_are_on_the_half_hour() -> None:
    with pytest.raises(TariffError, match="08:15") as caught:
        time_of_use_charging(
            "x",
            [(Period.flat, time(0), time(8, 15), 1, 1), (Period.peak, time(8, 15), time(0), 1, 1)],
        )
    assert caught.value.field.startswith("elements.")


def test_no_periods_is_the_whole_day_uncovered() -> None:
    with pytest.raises(TariffError, match="00:00–24:00"):
        time_of_use_charging("x", [])


def test_one_period_of_the_whole_day_is_valid() -> None:
    document = time_of_use_charging("x", [(Period.flat, time(0), time(0), 60, 40)])
    assert bill_energy_at(document, 1_000, at(1, 13)).total_fen == 100


def _expected(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Brute force, one half-hour slot at a time: (uncovered slots, doubled slots)."""
    counts = [0] * 48
    for first, last in spans:
        length = (last - first) % 48 or 48
        for offset in range(length):
            counts[(first + offset) % 48] += 1
    return [i for i, c in enumerate(counts) if c == 0], [i for i, c in enumerate(counts) if c > 1]


def _slots_named(message: str, word: str) -> list[int]:
    """The slots a message names after 未覆盖 or 重叠."""
    part = next((p for p in message.split("（")[0].split("；") if p.startswith(word)), "")
    slots: list[int] = []
    for text in part.removeprefix(word).strip().split("、") if part else []:
        first, last = text.split("–")
        start = int(first[:2]) * 2 + int(first[3:]) // 30
        end = int(last[:2]) * 2 + int(last[3:]) // 30
        slots.extend(range(start, end))
    return slots


def _t(slot: int) -> time:
    return time(slot // 2 % 24, 30 * (slot % 2))


def test_coverage_rule_exhaustively_for_two_spans() -> None:
    """Every start and end of one span beside a fixed 08:00–20:00: the rule accepts exactly the
    tilings, and otherwise names exactly the uncovered and the doubled half hours."""
    fixed = (16, 40)
    for first in range(48):
        for last in range(48):
            spans = [fixed, (first, last)]
            gaps, doubled = _expected(spans)
            try:
                owners = slot_table([(_t(a), _t(b)) for a, b in spans])
            except TariffError as exc:
                assert gaps or doubled, (first, last)
                assert _slots_named(exc.message, "未覆盖") == gaps, (first, last, exc.message)
                assert _slots_named(exc.message, "重叠") == doubled, (first, last, exc.message)
            else:
                assert not gaps and not doubled, (first, last)
                assert len(owners) == 48


def test_prepay_options() -> None:
    data = UNIFORM.model_dump(mode="json")
    with pytest.raises(TariffError, match="12") as caught:
        parse_tariff({**data, "prepay_options_fen": list(range(1, MAX_PREPAY_OPTIONS + 2))})
    assert caught.value.field == "prepay_options_fen"
    with pytest.raises(TariffError) as caught:
        parse_tariff({**data, "prepay_options_fen": [100, 0]})
    assert caught.value.field == "prepay_options_fen.1"
    assert (
        len(parse_tariff({**data, "prepay_options_fen": list(range(1, 13))}).prepay_options_fen)
        == 12
    )


def test_shape_errors_name_the_field() -> None:
    with pytest.raises(TariffError) as caught:
        parse_tariff({"kind": "charging", "name": "x", "elements": []})
    assert caught.value.field == "elements"
    with pytest.raises(TariffError) as caught:
        parse_tariff({**UNIFORM.model_dump(mode="json"), "zone": "Mars/Olympus"})
    assert caught.value.field == "zone"
    two_uniform = UNIFORM.model_dump(mode="json")
    two_uniform["elements"] = two_uniform["elements"] * 2
    with pytest.raises(TariffError):
        parse_tariff(two_uniform)


def test_charging_refuses_what_it_cannot_bill_yet() -> None:
    data = UNIFORM.model_dump(mode="json")
    data["elements"][0]["components"].append({"kind": "time", "price_fen": 100, "step_minutes": 15})
    with pytest.raises(TariffError, match="energy and service"):
        parse_tariff(data)


def test_a_parking_document_parses_but_is_not_billed_as_charging() -> None:
    """Room for parking: time steps, caps and free minutes (duration windows), day kinds and
    vehicle classes are all expressible; billing them is later work."""
    parking = parse_tariff(
        {
            "kind": "parking",
            "name": "路内白天",
            "elements": [
                {
                    "label": "前30分钟免费",
                    "components": [{"kind": "time", "price_fen": 0, "step_minutes": 30}],
                    "restrictions": {"max_minutes": 30},
                },
                {
                    "label": "白天小型车",
                    "components": [{"kind": "time", "price_fen": 200, "step_minutes": 30}],
                    "restrictions": {
                        "start_time": "08:00:00",
                        "end_time": "20:00:00",
                        "day_kinds": ["workday"],
                        "min_minutes": 30,
                        "vehicle_classes": ["small"],
                    },
                },
                {"label": "夜间按次", "components": [{"kind": "flat", "price_fen": 500}]},
            ],
        }
    )
    assert isinstance(parking, TariffDocument)
    with pytest.raises(TariffError):
        bill_charging(parking, [Reading(at(1, 9), 0), Reading(at(1, 10), 1)])
    bad = parking.model_dump(mode="json")
    bad["elements"][0]["components"][0]["step_minutes"] = 0
    with pytest.raises(TariffError):
        parse_tariff(bad)


# --- the midnight rule ---------------------------------------------------------------------


def test_version_in_force_follows_the_local_date_of_the_start() -> None:
    old = uniform_charging("old", 50, 50)
    new = uniform_charging("new", 90, 90)
    versions = [(date(2024, 5, 2), new), (date(2024, 4, 1), old)]
    assert version_in_force(versions, at(1, 23, 59), SH) is old
    assert version_in_force(versions, at(2, 0, 0), SH) is new
    # 2024-05-01 16:00 UTC is midnight in Shanghai: the new version already.
    assert version_in_force(versions, datetime(2024, 5, 1, 16, tzinfo=UTC), SH) is new
    assert version_in_force(versions, datetime(2024, 5, 1, 15, 59, tzinfo=UTC), SH) is old
    assert version_in_force(versions, datetime(2024, 3, 31, 12, tzinfo=SH), SH) is None


def test_a_session_crossing_midnight_keeps_the_version_it_started_under() -> None:
    old = uniform_charging("old", 50, 50)
    new = uniform_charging("new", 90, 90)
    versions = [(date(2024, 4, 1), old), (date(2024, 5, 2), new)]
    readings = [Reading(at(1, 23), 0), Reading(at(2, 1), 10_000)]
    document = version_in_force(versions, readings[0].at, SH)
    assert document is old
    assert bill_charging(document, readings).total_fen == 1_000


# --- properties ------------------------------------------------------------------------------

DOCUMENTS = st.sampled_from([TOU, UNIFORM])
START = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 31), timezones=st.just(SH)
)
STEPS = st.lists(
    st.tuples(st.integers(0, 600), st.integers(-3_000, 40_000)), min_size=1, max_size=12
)


def build(start: datetime, steps: list[tuple[int, int]], first_wh: int = 0) -> list[Reading]:
    readings = [Reading(start, first_wh)]
    for minutes, delta in steps:
        last = readings[-1]
        readings.append(Reading(last.at + timedelta(minutes=minutes), max(0, last.wh + delta)))
    return readings


@settings(deadline=None)
@given(DOCUMENTS, START, STEPS)
def test_total_is_the_sum_of_lines(
    document: TariffDocument, start: datetime, steps: list[tuple[int, int]]
) -> None:
    bill = bill_charging(document, build(start, steps))
    assert bill.total_fen == sum(line.amount_fen for line in bill.lines)
    assert bill.total_fen == bill.electricity_fen + bill.service_fen
    assert all(line.amount_fen >= 0 and line.quantity > 0 for line in bill.lines)
    for line in bill.lines:
        assert line.amount_fen == line_amount_fen(line.quantity, line.unit_price_fen)
    energy_lines = [line.quantity for line in bill.lines if line.component == "energy"]
    assert abs(sum(energy_lines) - bill.energy_wh) <= len(energy_lines)  # whole-Wh rounding


@settings(deadline=None)
@given(DOCUMENTS, START, STEPS, st.integers(0, 50), st.integers(1, 20_000))
def test_more_energy_never_lowers_the_bill(
    document: TariffDocument,
    start: datetime,
    steps: list[tuple[int, int]],
    where: int,
    extra: int,
) -> None:
    readings = build(start, steps)
    index = 1 + where % (len(readings) - 1)
    more = readings[:index] + [Reading(r.at, r.wh + extra) for r in readings[index:]]
    assert bill_charging(document, more).total_fen >= bill_charging(document, readings).total_fen
    longer = [*readings, Reading(readings[-1].at + timedelta(minutes=5), readings[-1].wh + extra)]
    assert bill_charging(document, longer).total_fen >= bill_charging(document, readings).total_fen


@settings(deadline=None)
@given(DOCUMENTS, START, st.integers(1, 24 * 60), st.integers(0, 200_000), st.floats(0.01, 0.99))
def test_splitting_readings_moves_the_total_by_at_most_the_line_rounding(
    document: TariffDocument, start: datetime, minutes: int, energy: int, fraction: float
) -> None:
    whole = [Reading(start, 0), Reading(start + timedelta(minutes=minutes), energy)]
    cut = timedelta(minutes=minutes) * fraction
    middle = Reading(
        start + cut,
        half_up(
            energy * (cut // timedelta(microseconds=1)),
            timedelta(minutes=minutes) // timedelta(microseconds=1),
        ),
    )
    split = [whole[0], middle, whole[1]]
    a, b = bill_charging(document, whole), bill_charging(document, split)
    assert a.energy_wh == b.energy_wh
    named = {(x.label, x.component, x.start.date()) for x in (*a.lines, *b.lines)}
    # Prices here are under 10 yuan/kWh, so a Wh moving between lines moves at most 1 fen each.
    assert abs(a.total_fen - b.total_fen) <= len(named)
