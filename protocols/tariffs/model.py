"""The tariff document: elements of price components under restrictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

MAX_PREPAY_OPTIONS = 12
STEP_MINUTES = 30  # time-of-use periods start and end on the half hour
DAY_MINUTES = 24 * 60
SLOTS = DAY_MINUTES // STEP_MINUTES


class TariffError(ValueError):
    """A document that is not a valid tariff; the message says what and where (in Chinese and
    English both are fine: it is shown to the operator as it is)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentKind(StrEnum):
    energy = "energy"  # electricity, fen per kWh
    service = "service"  # service fee, fen per kWh
    time = "time"  # fen per started step of `step_minutes`
    flat = "flat"  # fen once per session or visit


class DayKind(StrEnum):
    workday = "workday"
    weekend = "weekend"
    short_holiday = "short_holiday"
    long_holiday = "long_holiday"


class Period(StrEnum):
    """Time-of-use periods of car charging: 尖, 峰, 平, 谷."""

    sharp = "sharp"
    peak = "peak"
    flat = "flat"
    valley = "valley"


# The label a time-of-use element gets (it is printed on bills as it is).
PERIOD_LABELS: dict[Period, str] = {
    Period.sharp: "尖",
    Period.peak: "峰",
    Period.flat: "平",
    Period.valley: "谷",
}
UNIFORM_LABEL = "统一"
# What car charging bills today; time and flat components are parking's (and later
# occupancy fees'), refused in charging documents until the evaluator bills them.
CHARGING_COMPONENTS = (ComponentKind.energy, ComponentKind.service)


class PriceComponent(_Doc):
    kind: ComponentKind
    price_fen: int = Field(ge=0)
    step_minutes: int = Field(default=0, ge=0)


class Restrictions(_Doc):
    start_time: time | None = None  # local; end before start runs past midnight
    end_time: time | None = None
    day_kinds: list[DayKind] = Field(default_factory=list)  # empty: every day
    min_minutes: int | None = None
    max_minutes: int | None = None
    vehicle_classes: list[str] = Field(default_factory=list)  # empty: every class


class TariffElement(_Doc):
    label: str = Field(min_length=1, max_length=32)
    period: Period | None = None
    components: list[PriceComponent] = Field(min_length=1)
    restrictions: Restrictions = Restrictions()

    def price_of(self, kind: ComponentKind) -> int | None:
        for component in self.components:
            if component.kind == kind:
                return component.price_fen
        return None


# Document-level terms of a parking tariff (protocols.tariffs.parking explains them); a
# charging document has none of them, and a dump leaves out the ones that are not set, so a
# charging document reads exactly as it did before parking existed.
PARKING_TERMS = (
    "free_minutes",
    "free_minutes_deducted",
    "cap_per_day_fen",
    "cap_per_stay_fen",
    "new_energy_percent",
)
MAX_PARKING_PRICE_FEN = 1_000_000  # 10,000 yuan for one step or visit: anything above is a slip


class TariffDocument(_Doc):
    version: Literal[1] = 1
    kind: Literal["charging", "parking"]
    name: str = Field(min_length=1, max_length=64)
    zone: str = "Asia/Shanghai"
    elements: list[TariffElement] = Field(min_length=1)
    prepay_options_fen: list[int] = Field(default_factory=list, max_length=MAX_PREPAY_OPTIONS)
    # parking only (None: not set)
    free_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    free_minutes_deducted: bool | None = None
    cap_per_day_fen: int | None = Field(default=None, ge=0)
    cap_per_stay_fen: int | None = Field(default=None, ge=0)
    new_energy_percent: int | None = Field(default=None, ge=0, le=100)

    @model_serializer(mode="wrap")
    def _without_unset_terms(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in PARKING_TERMS:
                if data.get(name) is None:
                    data.pop(name, None)
        return data

    @property
    def time_of_use(self) -> bool:
        """True when the elements apply at times of day (峰平谷), False for one uniform price."""
        return any(e.restrictions.start_time is not None for e in self.elements)


# --- time-of-day coverage ------------------------------------------------------------------


def minute_text(minute: int) -> str:
    """Minutes since local midnight as HH:MM; 1440 is 24:00."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def span_minutes(start: time, end: time) -> tuple[int, int]:
    """[start, end) in minutes since midnight; an end at or before the start runs past
    midnight, so 00:00–00:00 is the whole day and 22:00–06:00 is eight hours."""
    first, last = _minutes(start), _minutes(end)
    if last <= first:
        last += DAY_MINUTES
    return first, last


def _runs(slots: Sequence[bool]) -> list[tuple[int, int]]:
    """Contiguous runs of True slots as [start, end) minutes."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, flagged in enumerate([*slots, False]):
        if flagged and start is None:
            start = index
        elif not flagged and start is not None:
            runs.append((start * STEP_MINUTES, index * STEP_MINUTES))
            start = None
    return runs


def slot_table(spans: Sequence[tuple[time, time]]) -> list[int]:
    """The span index covering each 30-minute slot of the day. TariffError when a span is not
    on the half hour, or when the spans leave minutes uncovered or cover some twice; the
    message names every such range, e.g. "未覆盖 07:00–07:30；重叠 12:00–12:30"."""
    owners: list[list[int]] = [[] for _ in range(SLOTS)]
    for index, (start, end) in enumerate(spans):
        for name, value in (("start_time", start), ("end_time", end)):
            if value.second or value.microsecond or value.minute % STEP_MINUTES:
                raise TariffError(
                    f"时段须以{STEP_MINUTES}分钟为单位：{value.strftime('%H:%M')} "
                    f"(periods start and end on the half hour)",
                    f"elements.{index}.restrictions.{name}",
                )
        first, last = span_minutes(start, end)
        for minute in range(first, last, STEP_MINUTES):
            owners[(minute % DAY_MINUTES) // STEP_MINUTES].append(index)
    gaps = _runs([not found for found in owners])
    doubled = _runs([len(found) > 1 for found in owners])
    if gaps or doubled:
        parts = []
        if gaps:
            parts.append("未覆盖 " + "、".join(_range_text(r) for r in gaps))
        if doubled:
            parts.append("重叠 " + "、".join(_range_text(r) for r in doubled))
        raise TariffError("；".join(parts) + "（时段须完整覆盖24小时）", "elements")
    return [found[0] for found in owners]


def _range_text(span: tuple[int, int]) -> str:
    return f"{minute_text(span[0])}–{minute_text(span[1])}"


# --- validation ------------------------------------------------------------------------------


def _check_prepay(options: Sequence[int]) -> None:
    if len(options) > MAX_PREPAY_OPTIONS:
        raise TariffError(
            f"预付值最多{MAX_PREPAY_OPTIONS}个 (at most {MAX_PREPAY_OPTIONS} prepay options)",
            "prepay_options_fen",
        )
    for index, amount in enumerate(options):
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise TariffError(
                f"预付值须大于0：{amount} (prepay options are positive fen)",
                f"prepay_options_fen.{index}",
            )


def _check_charging(document: TariffDocument) -> None:
    for name in PARKING_TERMS:
        if getattr(document, name) is not None:
            raise TariffError(f"充电计费没有停车条款 (a charging tariff has no {name})", name)
    for index, element in enumerate(document.elements):
        where = f"elements.{index}"
        kinds = [c.kind for c in element.components]
        if len(set(kinds)) != len(kinds):
            raise TariffError(f"同一时段的价格项重复 (a component kind twice) in {where}", where)
        for kind in kinds:
            if kind not in CHARGING_COMPONENTS:
                raise TariffError(
                    f"充电计费只支持电费和服务费 (charging bills energy and service, not {kind})",
                    f"{where}.components",
                )
        rules = element.restrictions
        if rules.day_kinds or rules.vehicle_classes or rules.min_minutes or rules.max_minutes:
            raise TariffError(
                "充电计费暂不支持按日期类型、车型或时长限制 (charging elements restrict time of day only)",
                f"{where}.restrictions",
            )
        if (rules.start_time is None) != (rules.end_time is None):
            raise TariffError("时段须有开始和结束时间 (start and end together)", where)
    if not document.time_of_use:
        if len(document.elements) != 1:
            raise TariffError("统一计价只有一个价格 (a uniform tariff has one element)", "elements")
        return
    spans = []
    for index, element in enumerate(document.elements):
        rules = element.restrictions
        if rules.start_time is None or rules.end_time is None:
            raise TariffError(
                "峰平谷计价的每个时段须有开始和结束时间 (every time-of-use element has hours)",
                f"elements.{index}.restrictions",
            )
        spans.append((rules.start_time, rules.end_time))
    slot_table(spans)


def _check_parking(document: TariffDocument) -> None:
    # the parking rules live with their evaluator (which imports this module)
    from protocols.tariffs.parking import check_parking

    check_parking(document)


def parse_tariff(data: Mapping[str, Any]) -> TariffDocument:
    """Validate a document (shape, and for time-of-use charging the exact 24-hour coverage in
    30-minute steps); TariffError naming the uncovered or doubled minutes otherwise."""
    options = data.get("prepay_options_fen") if isinstance(data, Mapping) else None
    if isinstance(options, list) and len(options) > MAX_PREPAY_OPTIONS:
        _check_prepay(options)  # a clearer message than the schema's
    try:
        document = TariffDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TariffError(f"{where or '(document)'}: {first['msg']}", where) from None
    try:
        ZoneInfo(document.zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TariffError(f"未知时区 (unknown time zone) {document.zone!r}", "zone") from None
    _check_prepay(document.prepay_options_fen)
    if document.kind == "charging":
        _check_charging(document)
    else:
        _check_parking(document)
    return document


# --- builders --------------------------------------------------------------------------------


def _charging_components(electricity_fen: int, service_fen: int) -> list[PriceComponent]:
    return [
        PriceComponent(kind=ComponentKind.energy, price_fen=electricity_fen),
        PriceComponent(kind=ComponentKind.service, price_fen=service_fen),
    ]


def uniform_charging(
    name: str,
    electricity_fen_per_kwh: int,
    service_fen_per_kwh: int,
    prepay_options_fen: Sequence[int] = (),
    zone: str = "Asia/Shanghai",
) -> TariffDocument:
    """统一计价: one electricity price and one service price at any hour."""
    return parse_tariff(
        {
            "kind": "charging",
            "name": name,
            "zone": zone,
            "elements": [
                {
                    "label": UNIFORM_LABEL,
                    "components": [
                        c.model_dump(mode="json")
                        for c in _charging_components(electricity_fen_per_kwh, service_fen_per_kwh)
                    ],
                }
            ],
            "prepay_options_fen": list(prepay_options_fen),
        }
    )


def time_of_use_charging(
    name: str,
    periods: Sequence[tuple[Period, time, time, int, int]],
    prepay_options_fen: Sequence[int] = (),
    zone: str = "Asia/Shanghai",
) -> TariffDocument:
    """峰平谷计价: (period, start, end, electricity fen/kWh, service fen/kWh) ranges that must
    cover 24 hours exactly in 30-minute steps (end 00:00 means midnight); TariffError saying
    which minutes are uncovered or doubled otherwise."""
    if not periods:
        raise TariffError("未覆盖 00:00–24:00（时段须完整覆盖24小时）", "elements")
    ordered = sorted(periods, key=lambda p: _minutes(p[1]))
    elements = [
        {
            "label": PERIOD_LABELS[Period(period)],
            "period": Period(period).value,
            "components": [
                c.model_dump(mode="json") for c in _charging_components(electricity, service)
            ],
            "restrictions": {"start_time": start.isoformat(), "end_time": end.isoformat()},
        }
        for period, start, end, electricity, service in ordered
    ]
    return parse_tariff(
        {
            "kind": "charging",
            "name": name,
            "zone": zone,
            "elements": elements,
            "prepay_options_fen": list(prepay_options_fen),
        }
    )


def time_of_use_rows(document: TariffDocument) -> list[tuple[Period, time, time, int, int]]:
    """The (period, start, end, electricity, service) rows of a time-of-use charging document,
    as time_of_use_charging takes them (for forms and detail pages)."""
    rows = []
    for element in document.elements:
        rules = element.restrictions
        if rules.start_time is None or rules.end_time is None:
            continue
        rows.append(
            (
                element.period or Period.flat,
                rules.start_time,
                rules.end_time,
                element.price_of(ComponentKind.energy) or 0,
                element.price_of(ComponentKind.service) or 0,
            )
        )
    return rows
