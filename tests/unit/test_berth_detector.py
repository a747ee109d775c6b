"""The berth occupancy detector on hand-built magnetometer streams (not the simulator's: real
sensors will meet it): drift, neighbours, passing traffic, arrivals and departures, broken
and disordered input, restarts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.engines.berth import BerthDetector, DetectorConfig, Occupancy
from firmware_sim.geomagnetic import plan_street, render

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
EARTH = np.array([28.0, 3.0, -42.0])


def quiet(seconds: int, noise: float = 1.0, seed: int = 1) -> np.ndarray:
    """The earth field plus white noise, one sample a second."""
    rng = np.random.default_rng(seed)
    return EARTH + rng.normal(0, noise, (seconds, 3))


def park(x: np.ndarray, start: int, end: int | None, car: tuple[float, float, float]) -> None:
    """A car rolling over the sensor at `start` (4 s, swinging the wrong way first) and
    leaving at `end`; the truth is the middle of each roll-over (start + 2, end + 2)."""
    vec = np.array(car)
    stop = len(x) if end is None else end
    u = np.arange(4) / 4.0
    ramp = u * u * (3 - 2 * u)
    swing = -0.8 * vec[None, :] * np.sin(2 * np.pi * u)[:, None]
    x[start : start + 4] += vec[None, :] * ramp[:, None] + swing
    x[start + 4 : stop] += vec
    if end is not None:
        x[end : end + 4] += vec[None, :] * (1 - ramp)[:, None] + swing


def feed_all(
    detector: BerthDetector, x: np.ndarray, sensor: str = "S1", batch: int = 10, t0: float = T0
) -> list[Occupancy]:
    events: list[Occupancy] = []
    for i in range(0, len(x), batch):
        events.extend(detector.feed(sensor, t0 + i, 1.0, x[i : i + batch]))
    return events


def changes(events: list[Occupancy]) -> list[tuple[bool, float]]:
    return [(e.occupied, round(e.at - T0, 1)) for e in events]


def test_a_day_of_temperature_drift_and_spikes_is_no_event() -> None:
    x = quiet(86_400, noise=1.5)
    hours = np.arange(86_400) / 3600.0
    # 6 uT of drift over the day, coolest at 03:00 and warmest at 15:00, plus a slow wander.
    x += np.outer(np.sin(2 * np.pi * (hours - 9) / 24), [1.5, -1.0, 2.2])
    x += np.outer(np.sin(2 * np.pi * hours / 7), [0.6, 0.4, -0.5])
    spikes = np.random.default_rng(2).integers(0, 86_400, 48)
    x[spikes] += [150.0, -80.0, 300.0]
    detector = BerthDetector()
    assert feed_all(detector, x, batch=30) == []
    assert not detector.occupied("S1")


def test_a_car_next_door_is_no_event_then_a_car_here_is_one_arrival() -> None:
    x = quiet(4 * 3600)
    # The neighbour's large van: a steady 6 uT, there for three hours.
    x[600:11_400] += [-2.0, 4.5, 3.5]
    park(x, 3000, 9000, (10.0, 1.0, 16.0))
    events = feed_all(BerthDetector(), x)
    assert [e.occupied for e in events] == [True, False]
    assert abs(events[0].at - (T0 + 3002)) <= 5
    assert abs(events[1].at - (T0 + 9002)) <= 5


def test_a_departure_while_the_neighbour_just_arrived_is_still_seen() -> None:
    x = quiet(2 * 3600)
    park(x, 600, 4000, (6.0, 0.0, 20.0))
    x[3950:] += [-3.0, 2.0, -4.0]  # the car next door arrives 50 s before ours leaves
    events = feed_all(BerthDetector(), x)
    assert [
        (e.occupied, abs(e.at - T0 - t) <= 5) for e, t in zip(events, (602, 4002), strict=True)
    ] == [
        (True, True),
        (False, True),
    ]


def test_passing_traffic_is_no_event() -> None:
    rng = np.random.default_rng(3)
    x = quiet(3 * 3600)
    for start in rng.integers(0, len(x) - 10, 400):
        length = int(rng.integers(1, 5))
        # Mostly cars, some vans, one in eight a bus or a truck: 130 an hour, a busy street.
        size = rng.choice([2.0, 3.0, 5.0, 8.0, 25.0, 60.0], p=[0.3, 0.3, 0.2, 0.075, 0.075, 0.05])
        direction = rng.normal(size=3)
        pulse = np.sin(np.pi * (np.arange(length) + 0.5) / length)
        x[start : start + length] += np.outer(pulse, direction / np.linalg.norm(direction) * size)
    assert feed_all(BerthDetector(), x) == []


def test_passing_traffic_over_a_parked_car_is_no_event() -> None:
    x = quiet(3600)
    park(x, 100, None, (8.0, 0.0, 20.0))
    for start in range(600, 3500, 97):
        x[start : start + 3] += [-8.0, 0.0, -19.0]  # a bus's field cancels the car's for 3 s
    events = feed_all(BerthDetector(), x)
    assert changes(events) == [(True, 100.0)] or [e.occupied for e in events] == [True]


def test_arrival_and_departure_are_dated_at_the_change_not_at_the_confirmation() -> None:
    x = quiet(3600)
    park(x, 1000, 2500, (12.0, -3.0, 25.0))
    events = feed_all(BerthDetector(), x)
    assert [e.occupied for e in events] == [True, False]
    for event, truth in zip(events, (1002, 2502), strict=True):
        assert abs(event.at - (T0 + truth)) <= 4, event
        assert event.confirmed - event.at >= DetectorConfig().hold_s - 1
        assert event.confirmed - (T0 + truth) <= 20


@pytest.mark.parametrize(
    "car",
    [
        (3.0, 1.0, 7.5),  # a small car, 8 uT
        (-5.0, 0.0, -6.0),  # a small car parked the other way round, negative z
        (9.0, 0.0, 0.0),  # a disturbance mostly in x
        (30.0, -5.0, 47.0),  # a large van, 56 uT
    ],
)
def test_large_and_small_cars_whatever_their_direction(car: tuple[float, float, float]) -> None:
    x = quiet(3600, noise=1.2)
    park(x, 700, 2000, car)
    detector = BerthDetector()
    events = feed_all(detector, x)
    assert [e.occupied for e in events] == [True, False]
    assert abs(events[0].at - (T0 + 702)) <= 5
    assert abs(events[1].at - (T0 + 2002)) <= 5


def test_a_long_stay_across_the_days_drift_ends_with_a_departure() -> None:
    x = quiet(16 * 3600)
    hours = np.arange(len(x)) / 3600.0
    x += np.outer(np.sin(2 * np.pi * (hours - 9) / 24), [2.0, 0.5, 2.5])
    park(x, 1800, 14 * 3600, (5.0, 0.0, 9.0))
    events = feed_all(BerthDetector(), x, batch=60)
    assert [e.occupied for e in events] == [True, False]
    assert abs(events[1].at - (T0 + 14 * 3600 + 2)) <= 5


def test_duplicate_and_late_batches_change_nothing() -> None:
    x = quiet(1800)
    park(x, 500, 1200, (8.0, 2.0, 18.0))
    detector = BerthDetector()
    events: list[Occupancy] = []
    batches = list(range(0, len(x), 10))
    for n, i in enumerate(batches):
        events.extend(detector.feed("S1", T0 + i, 1.0, x[i : i + 10]))
        events.extend(detector.feed("S1", T0 + i, 1.0, x[i : i + 10]))  # QoS 1 redelivery
        if n >= 3:
            j = batches[n - 3]  # a batch that arrives 30 s late: older than what was seen
            events.extend(detector.feed("S1", T0 + j, 1.0, x[j : j + 10] + 40.0))
    assert [e.occupied for e in events] == [True, False]
    # A batch overlapping what was seen counts only its new samples.
    again = BerthDetector()
    overlapping = [again.feed("S1", T0 + i, 1.0, x[i : i + 20]) for i in range(0, len(x), 10)]
    assert [e.occupied for batch in overlapping for e in batch] == [True, False]


def test_gaps_in_the_stream_are_survived() -> None:
    x = quiet(3600)
    park(x, 1000, 3000, (8.0, 0.0, 14.0))
    detector = BerthDetector()
    events: list[Occupancy] = []
    for i in range(0, len(x), 10):
        if 1500 <= i < 2200:
            continue  # the radio was down for 700 s while the car stayed
        events.extend(detector.feed("S1", T0 + i, 1.0, x[i : i + 10]))
    assert [e.occupied for e in events] == [True, False]


def test_nan_infinite_and_absurd_samples_are_ignored() -> None:
    x = quiet(1800)
    park(x, 600, 1300, (8.0, 0.0, 15.0))
    x[100:105] = np.nan
    x[700, 2] = np.inf
    x[800] = [1e9, -1e9, 0.0]
    x[1400:1600:7] = np.nan
    detector = BerthDetector()
    events = feed_all(detector, x)
    assert [e.occupied for e in events] == [True, False]
    # Input that is not samples at all changes nothing and raises nothing.
    assert detector.feed("S1", T0 + 5000, 1.0, np.zeros((4, 2))) == []
    assert detector.feed("S1", T0 + 5000, 1.0, np.zeros((0, 3))) == []
    assert detector.feed("S1", math.nan, 1.0, x[:10]) == []
    assert detector.feed("S1", T0 + 5000, 0.0, x[:10]) == []
    assert detector.feed("S2", T0, 1.0, np.full((30, 3), np.nan)) == []
    assert not detector.occupied("S1")


def test_restore_after_a_restart_with_a_car_parked() -> None:
    x = quiet(5400)
    park(x, 300, 2400, (7.0, 0.0, 12.0))
    park(x, 4000, None, (-5.0, 2.0, 22.0))
    first = BerthDetector()
    assert [e.occupied for e in feed_all(first, x[:1200])] == [True]
    # The edge restarts at t=1200 with the car still there; the store says occupied.
    second = BerthDetector()
    second.restore("S1", True)
    assert second.occupied("S1")
    events = feed_all(second, x[1200:], t0=T0 + 1200)
    assert [
        (e.occupied, abs(e.at - T0 - t) <= 5) for e, t in zip(events, (2402, 4002), strict=True)
    ] == [
        (False, True),
        (True, True),
    ]
    assert second.occupied("S1")


def test_a_car_that_left_during_the_restart_is_a_departure_given_the_kept_baseline() -> None:
    x = quiet(3600)
    park(x, 300, 1500, (7.0, 0.0, 12.0))
    first = BerthDetector()
    assert [e.occupied for e in feed_all(first, x[:1200])] == [True]
    kept = first.baseline("S1")
    assert kept is not None and np.linalg.norm(np.array(kept) - EARTH) < 1.5
    # Down from 1200 to 2000: the car left at 1500 unseen. The store still says occupied.
    second = BerthDetector()
    second.restore("S1", True, baseline=kept)
    events = feed_all(second, x[2000:], t0=T0 + 2000)
    assert [e.occupied for e in events] == [False]
    assert events[0].at - T0 < 2030  # dated when the restarted detector saw it, not at 1500
    assert not second.occupied("S1")


def test_restore_false_after_a_failed_commit_reports_the_arrival_again() -> None:
    x = quiet(1800)
    park(x, 300, None, (7.0, 0.0, 12.0))
    detector = BerthDetector()
    assert [e.occupied for e in feed_all(detector, x[:600])] == [True]
    detector.restore("S1", False)  # the arrival's commit failed: the store has no session
    again = feed_all(detector, x[600:], t0=T0 + 600)
    assert [e.occupied for e in again] == [True]
    detector.restore("S1", True)  # restoring what it already knows changes nothing
    assert detector.occupied("S1")


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="low_ut < high_ut"):
        DetectorConfig(high_ut=3.0, low_ut=4.0)
    with pytest.raises(ValueError, match="median_window"):
        DetectorConfig(median_window=4)


def test_feed_many_gives_what_feed_gives() -> None:
    plan = plan_street(12, start=T0 + 8 * 3600, seconds=3 * 3600, seed=5)
    names = [p.serial for p in plan.sensors]
    x = render(plan, 0, plan.samples)
    x[3, 500:520] = np.nan  # one sensor's batch takes the per-sensor path
    one, many = BerthDetector(), BerthDetector()
    for name, parked in zip(names, plan.occupied_at_start, strict=True):
        one.restore(name, parked)
        many.restore(name, parked)
    by_feed: list[Occupancy] = []
    by_many: list[Occupancy] = []
    for i in range(0, plan.samples, 30):
        for b, name in enumerate(names):
            by_feed.extend(one.feed(name, plan.start + i, 1.0, x[b, i : i + 30]))
        by_many.extend(many.feed_many(names, plan.start + i, 1.0, x[:, i : i + 30]))
    key = lambda e: (e.sensor, e.at)  # noqa: E731
    assert sorted(by_feed, key=key) == sorted(by_many, key=key)
    assert len(by_feed) >= 10
    with pytest.raises(ValueError, match="feed_many"):
        many.feed_many(names, plan.start, 1.0, x[:3, :10])
