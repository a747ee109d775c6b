"""Geomagnetic berth sensors: a seeded street model with ground truth, fast numpy rendering of
the raw magnetometer samples, and an MQTT publisher speaking protocols/topics.py.

The physics, per sensor (a QMC5883/HMC5883-class 3-axis magnetometer buried under a berth):

- the earth field (about 50 uT in China; (28, 3, -42) uT turned by the sensor's yaw) plus a
  fixed per-sensor offset (hard iron);
- temperature drift: a sensor-specific coefficient per axis (uT/°C) times the road's daily
  temperature curve (coolest near 03:00, warmest near 15:00 local time): a few uT over a day;
- white noise (0.5-1.5 uT per axis, per sensor), occasional single-sample spikes, quantisation
  to the LSB of the message (100 nT);
- a car parked over it: a steady 5-60 uT disturbance, mostly in z and x, whose size depends on
  the vehicle (small, medium, large) and how it is parked; arrival and departure are a roll-over
  transient of 2-6 s (the signal swings, can go the wrong way, then settles);
- a car in a neighbouring berth: a smaller steady disturbance (3-10 % of that car's own);
- passing traffic in the lane: 1-4 s transients, small for cars, large for buses and trucks.

Ground truth: an arrival or departure is dated at the middle of its roll-over transient.

`plan_street()` draws a day (arrivals by time of day, stays from minutes to hours, cars already
parked at the start, passing traffic); `render()` produces the samples of any berths over any
sample window, vectorised; `GeomagneticFleet` publishes them over MQTT (QoS 1, bounded
concurrency, reconnecting with backoff) in real or accelerated time, with heartbeats.

`python -m firmware_sim.geomagnetic --broker mqtt://127.0.0.1:1883 --tenant demo --sensors 4`
runs four sensors (GM-0001...) and prints each ground-truth change as a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from protocols.topics import (
    HEARTBEAT,
    MAX_BATCH,
    SAMPLES,
    SensorHeartbeat,
    SensorSamples,
    encode,
    sensor_topic,
)

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float64]

EARTH_UT = (28.0, 3.0, -42.0)
LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai, for the temperature curve and traffic by hour
# Arrivals per hour at a vacant berth, by local hour.
ARRIVALS_PER_H = (
    (0.05,) * 6 + (0.3, 0.8, 1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.9, 0.9, 1.0)
    + (1.2, 1.2, 1.0, 0.6, 0.5, 0.25, 0.1)
)  # fmt: skip
# Vehicles passing close enough to disturb the sensor, per hour, by local hour.
PASSING_PER_H = (5.0,) * 6 + (20.0,) + (40.0,) * 14 + (20.0, 10.0, 5.0)
SIZES = ("small", "medium", "large")
SIZE_P = (0.78, 0.17, 0.05)
SIZE_MEDIAN_UT = (16.0, 26.0, 40.0)


@dataclass(frozen=True, slots=True)
class SensorProfile:
    serial: str
    earth_ut: tuple[float, float, float]  # earth field plus the sensor's offset
    temp_coef_ut: tuple[float, float, float]  # uT per °C, per axis
    temp_mean_c: float
    temp_swing_c: float  # amplitude of the daily curve
    noise_ut: float  # standard deviation per axis
    spikes_per_h: float
    battery_pct: float  # at the plan's start


@dataclass(frozen=True, slots=True)
class Stay:
    """A vehicle parked over one berth; seconds from the plan's start (the roll-overs start at
    `arrive_s` and `depart_s`; math.inf: still there at the end)."""

    berth: int
    size: str
    arrive_s: float
    arrive_len_s: float
    depart_s: float
    depart_len_s: float
    car_ut: tuple[float, float, float]

    @property
    def arrived_s(self) -> float:
        return self.arrive_s + self.arrive_len_s / 2

    @property
    def departed_s(self) -> float:
        return self.depart_s + self.depart_len_s / 2


@dataclass(frozen=True, slots=True)
class Truth:
    sensor: str
    berth: int
    occupied: bool  # True: arrival, False: departure
    at: float  # epoch seconds (middle of the roll-over)


@dataclass(slots=True)
class _Sources:
    """Steady disturbances with roll-over transients (own cars and neighbours), as arrays."""

    berth: npt.NDArray[np.int64]
    arrive: Array
    arrive_len: Array
    depart: Array
    depart_len: Array
    vec: Array  # (m, 3)
    swing_in: Array
    swing_out: Array


@dataclass(slots=True)
class _Passing:
    berth: npt.NDArray[np.int64]
    at: Array
    length: Array
    vec: Array
    lobe: Array


@dataclass(slots=True)
class DayPlan:
    """A street of berths in a row over `seconds`, sampled every `interval_s` from `start`."""

    start: float
    seconds: float
    interval_s: float
    seed: int
    sensors: list[SensorProfile]
    stays: list[Stay]
    occupied_at_start: list[bool]
    sources: _Sources
    passing: _Passing
    _bank: Array | None = None

    def noise_bank(self) -> Array:
        """Standard normal deviates (2^20, 3), drawn once from the plan's seed."""
        if self._bank is None:
            self._bank = np.random.default_rng([self.seed, 0xB4]).standard_normal((1 << 20, 3))
        return self._bank

    @property
    def samples(self) -> int:
        return int(self.seconds / self.interval_s)

    def truth(self) -> list[Truth]:
        """Every arrival and departure inside the plan, in time order."""
        events: list[Truth] = []
        for stay in self.stays:
            serial = self.sensors[stay.berth].serial
            if 0 <= stay.arrived_s < self.seconds:
                events.append(Truth(serial, stay.berth, True, self.start + stay.arrived_s))
            if 0 <= stay.departed_s < self.seconds:
                events.append(Truth(serial, stay.berth, False, self.start + stay.departed_s))
        events.sort(key=lambda e: e.at)
        return events

    def temperature_c(self, berth: int, at: float) -> float:
        p = self.sensors[berth]
        return p.temp_mean_c + p.temp_swing_c * _daily(np.array([at]))[0]


def _daily(epoch: Array) -> Array:
    """The daily temperature curve in [-1, 1]: -1 at 03:00, +1 at 15:00 local time."""
    hours = ((epoch + LOCAL_OFFSET_S) / 3600.0) % 24.0
    return np.asarray(np.sin(2 * np.pi * (hours - 9.0) / 24.0), dtype=np.float64)


def _unit(rng: np.random.Generator, n: int) -> Array:
    v = rng.normal(size=(n, 3))
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float64)


def _car_vector(rng: np.random.Generator, magnitude: float) -> tuple[float, float, float]:
    """Mostly z and x: the engine block and chassis over the sensor, turned by how it is parked."""
    theta = rng.uniform(-0.9, 0.9)
    sign = 1.0 if rng.random() < 0.7 else -1.0
    v = np.array([math.sin(theta), rng.normal(0, 0.15), sign * math.cos(theta)])
    v *= magnitude / np.linalg.norm(v)
    return (float(v[0]), float(v[1]), float(v[2]))


def _by_hour(rng: np.random.Generator, start: float, t: float, per_h: Sequence[float]) -> float:
    """The next event time after t of a Poisson process whose rate varies by local hour."""
    peak = max(per_h)
    while True:
        t += rng.exponential(3600.0 / peak)
        hour = int(((start + t + LOCAL_OFFSET_S) // 3600) % 24)
        if rng.random() < per_h[hour] / peak:
            return t


def sensor_serial(berth: int) -> str:
    return f"GM-{berth + 1:04d}"


def plan_street(
    berths: int,
    *,
    start: float,
    seconds: float = 86_400.0,
    interval_s: float = 1.0,
    seed: int = 1,
    serials: Sequence[str] | None = None,
    parked_at_start: float = 0.25,
    traffic: float = 1.0,
    arrivals: float = 1.0,
) -> DayPlan:
    """A row of `berths` berths (neighbours are i-1 and i+1) and what happens over them;
    `traffic` and `arrivals` scale passing vehicles and parking (0: none)."""
    if berths < 1 or seconds <= 0 or interval_s <= 0:
        raise ValueError("plan_street: need berths >= 1, seconds > 0, interval_s > 0")
    if serials is not None and len(serials) != berths:
        raise ValueError("plan_street: one serial per berth")
    rng = np.random.default_rng(seed)
    earth = np.array(EARTH_UT)
    sensors: list[SensorProfile] = []
    for b in range(berths):
        yaw = rng.uniform(0, 2 * np.pi)
        c, s = math.cos(yaw), math.sin(yaw)
        e = np.array([c * earth[0] - s * earth[1], s * earth[0] + c * earth[1], earth[2]])
        e += rng.normal(0, 3.0, 3)
        coef = rng.normal(0, 0.12, 3)
        sensors.append(
            SensorProfile(
                serial=serials[b] if serials is not None else sensor_serial(b),
                earth_ut=(float(e[0]), float(e[1]), float(e[2])),
                temp_coef_ut=(float(coef[0]), float(coef[1]), float(coef[2])),
                temp_mean_c=float(rng.uniform(5, 30)),
                temp_swing_c=float(rng.uniform(6, 12)),
                noise_ut=float(rng.uniform(0.5, 1.5)),
                spikes_per_h=0.5,
                battery_pct=float(rng.uniform(40, 100)),
            )
        )
    stays: list[Stay] = []
    occupied_at_start: list[bool] = []
    for b in range(berths):
        t = 0.0
        parked = rng.random() < parked_at_start
        occupied_at_start.append(bool(parked))
        while t < seconds:
            if parked:
                arrive = -rng.uniform(600, 10 * 3600)
                parked = False
            elif arrivals <= 0:
                break
            else:
                arrive = _by_hour(rng, start, t, [rate * arrivals for rate in ARRIVALS_PER_H])
                if arrive >= seconds:
                    break
            size = int(rng.choice(3, p=SIZE_P))
            magnitude = float(np.clip(rng.lognormal(math.log(SIZE_MEDIAN_UT[size]), 0.3), 5, 60))
            stay_s = float(np.clip(rng.lognormal(math.log(40 * 60), 0.9), 180, 12 * 3600))
            if ((start + arrive + LOCAL_OFFSET_S) / 3600) % 24 >= 19 and rng.random() < 0.3:
                stay_s = 14 * 3600.0  # parked for the night
            if arrive < 0:
                stay_s = max(stay_s, -arrive + rng.uniform(300, 9 * 3600))
            a_len, d_len = float(rng.uniform(2, 6)), float(rng.uniform(2, 6))
            depart = arrive + a_len + stay_s
            stays.append(
                Stay(b, SIZES[size], arrive, a_len, depart, d_len, _car_vector(rng, magnitude))
            )
            t = depart + d_len + rng.uniform(30, 300)
    sources = _make_sources(rng, stays, berths)
    passing = _make_passing(rng, berths, start, seconds, traffic)
    return DayPlan(
        start, seconds, interval_s, seed, sensors, stays, occupied_at_start, sources, passing
    )


def _make_sources(rng: np.random.Generator, stays: list[Stay], berths: int) -> _Sources:
    rows: list[tuple[int, float, float, float, float, Array, Array, Array]] = []
    for stay in stays:
        car = np.array(stay.car_ut)
        mag = float(np.linalg.norm(car))
        swing_in = _unit(rng, 1)[0] * rng.uniform(0.3, 1.0) * mag
        swing_out = _unit(rng, 1)[0] * rng.uniform(0.3, 1.0) * mag
        times = (stay.arrive_s, stay.arrive_len_s, stay.depart_s, stay.depart_len_s)
        rows.append((stay.berth, *times, car, swing_in, swing_out))
        for side in (stay.berth - 1, stay.berth + 1):
            if 0 <= side < berths:
                # A dipole seen from the side: mostly against the car's own direction.
                coupling = rng.uniform(0.03, 0.10)
                direction = -car / mag + rng.normal(0, 0.5, 3)
                vec = direction / np.linalg.norm(direction) * coupling * mag
                rows.append((side, *times, vec, swing_in * coupling, swing_out * coupling))
    return _Sources(
        berth=np.array([r[0] for r in rows], dtype=np.int64),
        arrive=np.array([r[1] for r in rows]),
        arrive_len=np.array([r[2] for r in rows]),
        depart=np.array([r[3] for r in rows]),
        depart_len=np.array([r[4] for r in rows]),
        vec=np.array([r[5] for r in rows]).reshape(-1, 3),
        swing_in=np.array([r[6] for r in rows]).reshape(-1, 3),
        swing_out=np.array([r[7] for r in rows]).reshape(-1, 3),
    )


def _make_passing(
    rng: np.random.Generator, berths: int, start: float, seconds: float, traffic: float
) -> _Passing:
    """Vehicles passing in the lane: thinning of a Poisson process by local hour, vectorised."""
    peak = max(PASSING_PER_H) * traffic
    if peak <= 0:
        empty = np.zeros(0)
        return _Passing(
            np.zeros(0, dtype=np.int64), empty, empty, empty.reshape(0, 3), empty.reshape(0, 3)
        )
    count = rng.poisson(peak * seconds / 3600.0 * berths)
    at = rng.uniform(0, seconds, count)
    hour = (((start + at + LOCAL_OFFSET_S) // 3600) % 24).astype(np.int64)
    keep = rng.random(count) < np.array(PASSING_PER_H)[hour] * traffic / peak
    at = at[keep]
    n = at.size
    heavy = rng.random(n) < 0.12
    magnitude = np.where(
        heavy, rng.lognormal(math.log(15.0), 0.5, n), rng.lognormal(math.log(2.5), 0.5, n)
    )
    magnitude = np.clip(magnitude, 0.2, 80.0)
    vec = _unit(rng, n) * magnitude[:, None]
    lobe = _unit(rng, n) * (magnitude * rng.uniform(0, 0.5, n))[:, None]
    return _Passing(
        berth=rng.integers(0, berths, n),
        at=at,
        length=rng.uniform(1.0, 4.0, n),
        vec=vec,
        lobe=lobe,
    )


def _windows(
    starts: Array, lengths: Array, dt: float, i0: int, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Array]:
    """For windows [start, start+length) seconds: (window, sample index, u in [0, 1)) of every
    sample inside one, restricted to samples i0..i0+n-1."""
    first = np.ceil(starts / dt - 1e-9).astype(np.int64)
    last = np.ceil((starts + lengths) / dt - 1e-9).astype(np.int64)  # exclusive
    first_c = np.maximum(first, i0)
    last_c = np.minimum(last, i0 + n)
    counts = np.maximum(last_c - first_c, 0)
    total = int(counts.sum())
    window = np.repeat(np.arange(starts.size), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    index = first_c[window] + offsets
    u = (index * dt - starts[window]) / lengths[window]
    return window, index, np.clip(u, 0.0, 1.0)


def _smoothstep(u: Array) -> Array:
    return np.asarray(u * u * (3 - 2 * u), dtype=np.float64)


def render(plan: DayPlan, i0: int, n: int, first: int = 0, count: int | None = None) -> Array:
    """Raw samples (count, n, 3) in uT of berths first..first+count-1, samples i0..i0+n-1
    (sample i is taken at plan.start + i * interval_s). Deterministic for the same arguments."""
    count = len(plan.sensors) - first if count is None else count
    dt = plan.interval_s
    profiles = plan.sensors[first : first + count]
    rng = np.random.default_rng([plan.seed, 0x6D, i0, n, first, count])
    epoch = plan.start + (i0 + np.arange(n, dtype=np.float64)) * dt
    earth = np.array([p.earth_ut for p in profiles])
    coef = np.array([p.temp_coef_ut for p in profiles])
    swing = np.array([p.temp_swing_c for p in profiles])
    noise = np.array([p.noise_ut for p in profiles])
    out = np.empty((count, n, 3))
    out[:] = earth[:, None, :]
    out += (swing[:, None] * _daily(epoch)[None, :])[:, :, None] * coef[:, None, :]
    # White noise from the plan's bank of normal deviates, at a random place per sensor
    # (drawing fresh deviates for a day of a thousand sensors would take most of the time).
    bank = plan.noise_bank()
    at = rng.integers(0, bank.shape[0], count)
    out += bank[(at[:, None] + np.arange(n)[None, :]) % bank.shape[0]] * noise[:, None, None]

    # Spikes: single samples far off.
    hours = n * dt / 3600.0
    spikes = rng.poisson(np.array([p.spikes_per_h for p in profiles]) * hours)
    if spikes.sum():
        rows = np.repeat(np.arange(count), spikes)
        cols = rng.integers(0, n, rows.size)
        out[rows, cols] += _unit(rng, rows.size) * rng.uniform(20, 200, rows.size)[:, None]

    t_lo, t_hi = i0 * dt, (i0 + n) * dt
    src = plan.sources
    pick = (src.berth >= first) & (src.berth < first + count)
    pick &= (src.arrive <= t_hi) & (src.depart + src.depart_len >= t_lo)
    if pick.any():
        b = src.berth[pick] - first
        arrive, a_len = src.arrive[pick], src.arrive_len[pick]
        depart, d_len = src.depart[pick], src.depart_len[pick]
        vec = src.vec[pick]
        # Steady part, between the roll-overs: a step up and a step down, integrated.
        up = np.clip(np.ceil((arrive + a_len) / dt - 1e-9) - i0, 0, n).astype(np.int64)
        down = np.clip(np.ceil(np.minimum(depart, 1e18) / dt - 1e-9) - i0, 0, n).astype(np.int64)
        for row, lo, hi, v in zip(b.tolist(), up.tolist(), down.tolist(), vec, strict=True):
            if lo < hi:
                out[row, lo:hi] += v
        # Roll-overs: settle along a smoothstep while swinging (sin 2πu goes both ways).
        for starts, lengths, swings, rising in (
            (arrive, a_len, src.swing_in[pick], True),
            (depart, d_len, src.swing_out[pick], False),
        ):
            ok = np.isfinite(starts)
            idx_ok = np.flatnonzero(ok)
            window, index, u = _windows(starts[ok], lengths[ok], dt, i0, n)
            if window.size:
                w = idx_ok[window]
                ramp = _smoothstep(u) if rising else 1.0 - _smoothstep(u)
                value = vec[w] * ramp[:, None] + swings[w] * np.sin(2 * np.pi * u)[:, None]
                np.add.at(out, (b[w], index - i0), value)

    pas = plan.passing
    pick = (pas.berth >= first) & (pas.berth < first + count)
    pick &= (pas.at <= t_hi) & (pas.at + pas.length >= t_lo)
    if pick.any():
        window, index, u = _windows(pas.at[pick], pas.length[pick], dt, i0, n)
        if window.size:
            value = pas.vec[pick][window] * np.sin(np.pi * u)[:, None]
            value += pas.lobe[pick][window] * np.sin(2 * np.pi * u)[:, None]
            np.add.at(out, (pas.berth[pick][window] - first, index - i0), value)
    return out


def to_lsb(samples_ut: Array, scale_nt: int = 100) -> npt.NDArray[np.int64]:
    """Microtesla to the integer LSB of a SensorSamples message (saturating at int16)."""
    lsb = np.rint(samples_ut * (1000.0 / scale_nt))
    return np.clip(lsb, -32768, 32767).astype(np.int64)


def samples_message(
    serial: str, seq: int, t0: float, interval_s: float, samples_ut: Array, scale_nt: int = 100
) -> SensorSamples:
    xyz = [(int(x), int(y), int(z)) for x, y, z in to_lsb(samples_ut, scale_nt).tolist()]
    return SensorSamples(
        sensor=serial,
        seq=seq % 2**32,
        t0_ms=round(t0 * 1000),
        interval_ms=round(interval_s * 1000),
        scale_nt=scale_nt,
        xyz=xyz,
    )


# -- the MQTT publisher ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker {url!r}: expected mqtt://host[:port]")
        return cls(parts.hostname, parts.port or 1883)


class GeomagneticFleet:
    """Publishes a plan's sensors: a SensorSamples message per sensor every `batch` samples and
    a heartbeat every `heartbeat_s`, at `speed` x real time, QoS 1, at most `max_inflight`
    publishes awaiting their PUBACK at once. Survives broker restarts (backoff 0.5 s .. 30 s);
    a message whose publish failed is sent again after the reconnect."""

    def __init__(
        self,
        broker_url: str,
        tenant: str,
        plan: DayPlan,
        *,
        batch: int = 10,
        heartbeat_s: float = 300.0,
        speed: float = 1.0,
        max_inflight: int = 32,
        on_truth: Callable[[Truth], None] | None = None,
        client_id: str | None = None,
    ) -> None:
        if not 1 <= batch <= MAX_BATCH:
            raise ValueError(f"batch must be within 1..{MAX_BATCH}")
        if speed <= 0 or max_inflight < 1 or heartbeat_s <= 0:
            raise ValueError("speed, max_inflight and heartbeat_s must be positive")
        self.broker = Broker.parse(broker_url)
        self.tenant, self.plan, self.batch = tenant, plan, batch
        self.heartbeat_s, self.speed, self.max_inflight = heartbeat_s, speed, max_inflight
        self.on_truth = on_truth
        self.client_id = client_id or f"geomagnetic-{random.getrandbits(32):08x}"
        self.next_index = 0  # the next sample index to publish
        self.next_heartbeat = 0.0  # plan seconds
        self.seq = [0] * len(plan.sensors)
        self.published = 0
        self.connects = 0
        self.peak_inflight = 0  # most publishes awaiting a PUBACK at once
        self.publish_timeout_s = 5.0
        self._inflight = 0
        self._truth = plan.truth()
        self._truth_at = 0
        self._pending: list[tuple[str, bytes]] = []
        self._wall0 = 0.0

    def _plan_now(self) -> float:
        return (time.time() - self._wall0) * self.speed

    def _next_seq(self, berth: int) -> int:
        self.seq[berth] += 1
        return self.seq[berth] % 2**32

    def _due(self, now_s: float) -> list[tuple[str, bytes]]:
        """Messages whose time has come, in order (samples, then heartbeats)."""
        plan, dt = self.plan, self.plan.interval_s
        messages: list[tuple[str, bytes]] = []
        while (self.next_index + self.batch) * dt <= now_s and (
            self.next_index + self.batch <= plan.samples
        ):
            i0 = self.next_index
            chunk = render(plan, i0, self.batch)
            t0 = plan.start + i0 * dt
            for b, profile in enumerate(plan.sensors):
                msg = samples_message(profile.serial, self._next_seq(b), t0, dt, chunk[b])
                messages.append((sensor_topic(self.tenant, profile.serial, SAMPLES), encode(msg)))
            self.next_index += self.batch
        while self.next_heartbeat < plan.seconds and self.next_heartbeat <= now_s:
            at = plan.start + self.next_heartbeat
            for b, profile in enumerate(plan.sensors):
                drained = profile.battery_pct - 0.07 * self.next_heartbeat / 86_400
                beat = SensorHeartbeat(
                    sensor=profile.serial,
                    seq=self._next_seq(b),
                    at_ms=round(at * 1000),
                    battery_pct=max(0, min(100, int(drained))),
                    temperature_c=round(plan.temperature_c(b, at), 1),
                    rssi_dbm=-85 - (b * 7) % 20,
                )
                messages.append(
                    (sensor_topic(self.tenant, profile.serial, HEARTBEAT), encode(beat))
                )
            self.next_heartbeat += self.heartbeat_s
        while (
            self._truth_at < len(self._truth)
            and self._truth[self._truth_at].at <= plan.start + now_s
        ):
            if self.on_truth is not None:
                self.on_truth(self._truth[self._truth_at])
            self._truth_at += 1
        return messages

    async def run(self, until_s: float | None = None) -> None:
        """Publish until the plan (or `until_s` plan seconds) is over; cancel to stop."""
        import aiomqtt

        end = self.plan.seconds if until_s is None else min(until_s, self.plan.seconds)
        self._wall0 = self.plan.start if self.speed == 1.0 else time.time()
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    self.broker.host,
                    self.broker.port,
                    identifier=self.client_id,
                    max_inflight_messages=self.max_inflight,
                    max_queued_outgoing_messages=self.max_inflight * 4,
                ) as client:
                    # Up to max_inflight publishes await their PUBACK by design: no warning.
                    client.pending_calls_threshold = self.max_inflight + 1
                    self.connects += 1
                    backoff = 0.5
                    if await self._publish_until(client, end):
                        return
            except aiomqtt.MqttError as exc:
                log.warning(
                    "geomagnetic: broker %s: %s; retrying in %.1f s", self.broker, exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _publish_until(self, client: object, end: float) -> bool:
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        while True:
            now_s = self._plan_now()
            if not self._pending:
                self._pending = self._due(min(now_s, end))
            if self._pending:
                await self._send(client, self._pending)
                self._pending = []
                continue
            if now_s >= end or self.next_index + self.batch > self.plan.samples:
                return True
            step = self.batch * self.plan.interval_s
            wait = ((self.next_index + self.batch) * self.plan.interval_s - now_s) / self.speed
            await asyncio.sleep(min(max(wait, 0.0), step / self.speed, 1.0))

    async def _send(self, client: object, messages: list[tuple[str, bytes]]) -> None:
        """Publish with at most max_inflight awaiting a PUBACK; on failure the unsent and the
        failed messages stay in self._pending for the next connection."""
        import aiomqtt

        assert isinstance(client, aiomqtt.Client)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(messages)):
            queue.put_nowait(index)
        done = [False] * len(messages)

        async def worker() -> None:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                topic, payload = messages[index]
                self._inflight += 1
                self.peak_inflight = max(self.peak_inflight, self._inflight)
                try:
                    # A publish in flight when the link drops waits for its PUBACK until the
                    # timeout (aiomqtt does not fail it): keep that short, then reconnect.
                    await client.publish(topic, payload, qos=1, timeout=self.publish_timeout_s)
                finally:
                    self._inflight -= 1
                done[index] = True
                self.published += 1

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.max_inflight, len(messages))):
                    group.create_task(worker())
        except* aiomqtt.MqttError as errors:
            self._pending = [m for m, sent in zip(messages, done, strict=True) if not sent]
            raise errors.exceptions[0] from None


def _sensors(value: str) -> list[str]:
    if value.isdigit():
        return [sensor_serial(b) for b in range(int(value))]
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no sensors")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="simulated geomagnetic berth sensors over MQTT")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--sensors", type=_sensors, default=_sensors("4"), help="N or A,B,C")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10, help="samples per message")
    parser.add_argument("--heartbeat-s", type=float, default=300.0)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--max-inflight", type=int, default=32)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serials: list[str] = args.sensors
    plan = plan_street(
        len(serials),
        start=time.time(),
        seconds=args.hours * 3600,
        interval_s=args.interval_ms / 1000,
        seed=args.seed,
        serials=serials,
    )

    def show(truth: Truth) -> None:
        change = "arrived" if truth.occupied else "departed"
        print(json.dumps({"sensor": truth.sensor, "change": change, "at": truth.at}), flush=True)

    try:
        Broker.parse(args.broker)
    except ValueError as exc:
        parser.error(str(exc))
    fleet = GeomagneticFleet(
        args.broker,
        args.tenant,
        plan,
        batch=args.batch,
        heartbeat_s=args.heartbeat_s,
        speed=args.speed,
        max_inflight=args.max_inflight,
        on_truth=show,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(fleet.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
