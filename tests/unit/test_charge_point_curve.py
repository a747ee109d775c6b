"""The simulated DC charging curve: ramp-up, constant power, taper above 80 % SoC, full stop."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.charge_point import ChargingSession, DcCurve


def test_ramps_up_to_full_power() -> None:
    curve = DcCurve(max_kw=120, ramp_s=30)
    assert curve.power_kw(0, 20) == 0
    assert curve.power_kw(15, 20) == 60
    assert curve.power_kw(30, 20) == 120
    assert curve.power_kw(600, 50) == 120


def test_tapers_above_80_percent_and_stops_when_full() -> None:
    curve = DcCurve(max_kw=100, taper_soc=80, floor=0.1)
    assert curve.power_kw(600, 80) == 100
    assert abs(curve.power_kw(600, 90) - 55) < 1e-9
    assert 10 < curve.power_kw(600, 99.9) < 11
    assert curve.power_kw(600, 100) == 0
    powers = [curve.power_kw(600, soc) for soc in range(80, 101)]
    assert powers == sorted(powers, reverse=True)


def test_session_delivers_the_battery_and_stops() -> None:
    session = ChargingSession(DcCurve(max_kw=150, battery_kwh=60), soc=20)
    energy = [0.0]
    for _ in range(240):  # four hours in one-minute steps: long enough to fill the battery
        session.advance(60)
        energy.append(session.energy_wh)
    assert session.soc == 100
    assert session.power_kw == 0
    assert energy == sorted(energy)
    # 80 % of a 60 kWh battery, within the last one-second step's rounding.
    assert abs(session.energy_wh - 48_000) < 50


def test_taper_makes_the_last_20_percent_slow() -> None:
    session = ChargingSession(DcCurve(max_kw=120, battery_kwh=60, ramp_s=0), soc=20)
    seconds_to_80 = 0
    while session.soc < 80:
        session.advance(1)
        seconds_to_80 += 1
    seconds_to_100 = 0
    while session.soc < 100 and seconds_to_100 < 100_000:
        session.advance(1)
        seconds_to_100 += 1
    assert abs(seconds_to_80 - 36 * 60 / 2) < 5  # 36 kWh at 120 kW: 18 minutes
    assert seconds_to_100 > seconds_to_80 / 3 * 2  # the last fifth takes longer than its share


@given(
    max_kw=st.floats(1, 400),
    soc=st.floats(0, 100),
    step=st.floats(0, 3600),
    elapsed=st.floats(0, 7200),
)
def test_power_stays_within_the_charger(
    max_kw: float, soc: float, step: float, elapsed: float
) -> None:
    session = ChargingSession(DcCurve(max_kw=max_kw), soc=soc, elapsed_s=elapsed)
    before = session.energy_wh
    session.advance(step)
    assert 0 <= session.power_kw <= max_kw
    assert session.energy_wh >= before
    assert session.energy_wh <= max_kw * 1000 * step / 3600 + 1e-6
    assert 0 <= session.soc <= 100
