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
)
from protocols.tariffs.model import (
    MAX_PREPAY_OPTIONS,
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

__all__ = [
    "MAX_PREPAY_OPTIONS",
    "PERIOD_LABELS",
    "STEP_MINUTES",
    "Bill",
    "BillLine",
    "ComponentKind",
    "DayKind",
    "Period",
    "PriceComponent",
    "Reading",
    "Restrictions",
    "TariffDocument",
    "TariffElement",
    "TariffError",
    "bill_charging",
    "bill_energy_at",
    "half_up",
    "line_amount_fen",
    "parse_tariff",
    "slot_table",
    "time_of_use_charging",
    "time_of_use_rows",
    "uniform_charging",
    "version_in_force",
]
