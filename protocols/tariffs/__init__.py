"""Tariffs: one document format and one evaluator for charging and parking (DESIGN.md).

A tariff is an ordered list of elements, each with price components and restrictions (time
of day, day kind, duration window, vehicle class), as OCPI 2.2.1's Tariff does. The edge that
bills offline and the cloud that reconciles call the same functions here. Money is integer
fen, energy integer Wh. The evaluator returns an itemised bill that explains every fen.

Public API (other modules import only these names):

- model: TariffDocument, TariffElement, PriceComponent, ComponentKind, Restrictions, DayKind,
  Period, TariffError
- parse_tariff(data) -> TariffDocument: validate a stored or received document
- uniform_charging(...), time_of_use_charging(...): build the two car-charging tariffs
- Reading, BillLine, Bill (+ Bill.as_dict() / Bill.from_dict())
- bill_charging(document, readings) -> Bill: meter readings (time order) to an itemised bill
- bill_energy_at(document, energy_wh, at) -> Bill: the admin "billing test" for one figure
- version_in_force(versions, started_at, zone) -> the version a session that started then
  is billed by (a new version applies from its effective date's local midnight)
- bill_parking(document, entered_at, exited_at, vehicle_class="small", new_energy=False,
  calendar=None) -> ParkingBill (+ ParkingBillLine, LineKind): a stay to an itemised bill;
  HolidayCalendar (date -> DayKind, default Mon-Fri workday, Sat/Sun weekend); the parking
  rules of the admin form (Scheme of PerPeriod, PerVisit, DayNight, NoCharge) built into a
  document by parking_tariff(...) and read back by parking_schemes(document); the rule is
  explained in protocols/tariffs/parking.py
- half_up / line_amount_fen: the one rounding rule (half a fen rounds up, once per line)
- time_of_use_rows(document), slot_table(spans): the period table for forms and checks

Rounding: an element's exact share of the energy is summed over the session, rounded half-up
to whole Wh once (the line's quantity); the line's amount is quantity x fen/kWh / 1000 rounded
half-up once; the total is the sum of the lines.
"""

from protocols.tariffs.billing import (
    Bill,
    BillLine,
    Reading,
    bill_charging,
    bill_energy_at,
    half_up,
    line_amount_fen,
    version_in_force,
    yuan,
)
from protocols.tariffs.model import (
    MAX_PARKING_PRICE_FEN,
    MAX_PREPAY_OPTIONS,
    PARKING_TERMS,
    PERIOD_LABELS,
    STEP_MINUTES,
    ComponentKind,
    DayKind,
    Period,
    PriceComponent,
    Restrictions,
    TariffDocument,
    TariffElement,
    TariffError,
    parse_tariff,
    slot_table,
    time_of_use_charging,
    time_of_use_rows,
    uniform_charging,
)
from protocols.tariffs.parking import (
    DAY_KIND_LABELS,
    VEHICLE_CLASS_LABELS,
    VEHICLE_CLASSES,
    DayNight,
    HolidayCalendar,
    LineKind,
    NoCharge,
    ParkingBill,
    ParkingBillLine,
    PerPeriod,
    PerVisit,
    Rule,
    Scheme,
    bill_parking,
    day_night_parking,
    describe_rule,
    describe_terms,
    no_charge_parking,
    parking_schemes,
    parking_tariff,
    per_period_parking,
    per_visit_parking,
)

__all__ = [
    "DAY_KIND_LABELS",
    "MAX_PARKING_PRICE_FEN",
    "MAX_PREPAY_OPTIONS",
    "PARKING_TERMS",
    "PERIOD_LABELS",
    "STEP_MINUTES",
    "VEHICLE_CLASSES",
    "VEHICLE_CLASS_LABELS",
    "Bill",
    "BillLine",
    "ComponentKind",
    "DayKind",
    "DayNight",
    "HolidayCalendar",
    "LineKind",
    "NoCharge",
    "ParkingBill",
    "ParkingBillLine",
    "PerPeriod",
    "PerVisit",
    "Period",
    "PriceComponent",
    "Reading",
    "Restrictions",
    "Rule",
    "Scheme",
    "TariffDocument",
    "TariffElement",
    "TariffError",
    "bill_charging",
    "bill_energy_at",
    "bill_parking",
    "day_night_parking",
    "describe_rule",
    "describe_terms",
    "half_up",
    "line_amount_fen",
    "no_charge_parking",
    "parking_schemes",
    "parking_tariff",
    "parse_tariff",
    "per_period_parking",
    "per_visit_parking",
    "slot_table",
    "time_of_use_charging",
    "time_of_use_rows",
    "uniform_charging",
    "version_in_force",
    "yuan",
]
