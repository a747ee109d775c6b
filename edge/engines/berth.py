"""Berth occupancy from raw geomagnetic samples: an adaptive baseline per sensor, the deviation
magnitude, thresholds with hysteresis, dwell times and a state machine (numpy, no I/O).

How a sensor's samples become arrivals and departures:

- Samples (n, 3) in microtesla are checked (NaN, infinite or absurd values are dropped, samples
  not newer than the last one seen are dropped: duplicates and late batches change nothing),
  then smoothed by a running median of `median_window` samples per axis, which removes the
  single-sample spikes of real magnetometers.
- The deviation is the vector distance of the smoothed field from the sensor's baseline, so a
  car is seen whatever the direction of its disturbance.
- Vacant: the baseline follows the field (time constant `vacant_tau_s`) with every sample below
  the high threshold, so temperature drift and a car in the next berth (a small, steady
  disturbance) are absorbed. Occupied: the baseline moves only with the slow changes of the
  occupied level (`occupied_tau_s`), which carries the same temperature drift; without this a
  long stay would end with a baseline a few microtesla off.
- A deviation above `high_ut` starts an arrival candidate, confirmed once it has stayed above for
  `hold_s` (short dips under `blip_s`, the roll-over of the car, are tolerated); falling back
  for `gap_s` cancels it (passing traffic: a transient of a few seconds). Departure is the
  mirror image with `low_ut`. Each change is dated at the start of its candidate (the moment
  of the arrival or departure), not at the confirmation.
- A new sensor calibrates over its first `calibration_s`. After an edge restart `restore()`
  says whether the berth was occupied: if so, and the detector has no baseline yet, the
  calibration learns the occupied level and a departure is a lasting move away from it (the
  vacant baseline is then learnt from what follows).

`feed` is the edge's path (one MQTT batch); `feed_many` processes many sensors sharing a
timeline at once (the benchmark's path); both run the same code and give the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

VACANT, ARRIVING, OCCUPIED, LEAVING = 0, 1, 2, 3
_NAN = math.nan


@dataclass(frozen=True, slots=True)
class Occupancy:
    sensor: str
    occupied: bool  # True: arrival, False: departure
    at: float  # epoch seconds of the sample where the change is dated (the change itself)
    confirmed: float = field(default=0.0, compare=False)  # epoch s of the confirming sample


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    high_ut: float = 7.0  # deviation above which a car may be present
    low_ut: float = 3.5  # deviation below which the berth may be vacant
    hold_s: float = 8.0  # how long a change must hold before it is confirmed
    blip_s: float = 2.0  # shorter contrary stretches do not restart the hold
    gap_s: float = 3.0  # a contrary stretch this long cancels a candidate
    max_pending_s: float = 120.0  # a candidate never confirmed within this is dropped
    median_window: int = 5  # samples of the running median (odd)
    vacant_tau_s: float = 600.0  # baseline time constant while vacant
    occupied_tau_s: float = 1800.0  # occupied level (and baseline) time constant
    calibration_s: float = 10.0  # samples a new sensor learns its reference from
    restart_gap_s: float = 60.0  # a longer silence restarts the running median
    max_abs_ut: float = 2000.0  # beyond any magnetometer's range: a broken sample

    def __post_init__(self) -> None:
        if not 0 < self.low_ut < self.high_ut:
            raise ValueError("DetectorConfig: need 0 < low_ut < high_ut")
        if self.median_window < 1 or self.median_window % 2 == 0:
            raise ValueError("DetectorConfig: median_window must be an odd number >= 1")
        if min(self.hold_s, self.blip_s, self.gap_s, self.calibration_s) < 0:
            raise ValueError("DetectorConfig: durations must not be negative")
        if self.vacant_tau_s <= 0 or self.occupied_tau_s <= 0:
            raise ValueError("DetectorConfig: time constants must be positive")


@dataclass(slots=True)
class _Calibration:
    """Samples of a sensor that has no reference yet."""

    times: list[float] = field(default_factory=list)
    rows: list[Array] = field(default_factory=list)


def _median3(a: Array, b: Array, c: Array) -> Array:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _running_median(extended: Array, width: int) -> Array:
    """Running median along axis 1 of (s, width - 1 + n, 3) -> (s, n, 3); widths 3 and 5 by
    min/max networks (several times faster than sorting strided windows), others by partition."""
    n = extended.shape[1] - width + 1
    if width == 1:
        return extended
    parts = [extended[:, i : i + n] for i in range(width)]
    if width == 3:
        return _median3(*parts)
    if width == 5:
        a, b, c, d, e = parts
        return _median3(
            e,
            np.maximum(np.minimum(a, b), np.minimum(c, d)),
            np.minimum(np.maximum(a, b), np.maximum(c, d)),
        )
    windows = np.lib.stride_tricks.sliding_window_view(extended, width, axis=1)
    return np.asarray(np.partition(windows, width // 2, axis=-1)[..., width // 2], dtype=np.float64)


class BerthDetector:
    """Occupancy of many berth sensors; state is kept in arrays indexed by sensor slot."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._slots: dict[str, int] = {}
        self._names: list[str] = []
        self._capacity = 0
        k = self.config.median_window - 1
        self._known: npt.NDArray[Any] = np.zeros(0, dtype=bool)  # has a reference (calibrated)
        self._anchored: npt.NDArray[Any] = np.zeros(0, dtype=bool)  # the vacant baseline is known
        self._state: npt.NDArray[Any] = np.zeros(0, dtype=np.int8)
        self._base: npt.NDArray[Any] = np.zeros((0, 3))
        self._level: npt.NDArray[Any] = np.zeros((0, 3))
        self._last_t: npt.NDArray[Any] = np.zeros(0)
        self._tail: npt.NDArray[Any] = np.zeros((0, k, 3))
        self._cand_t: npt.NDArray[Any] = np.zeros(0)
        self._good_since: npt.NDArray[Any] = np.zeros(0)
        self._bad_since: npt.NDArray[Any] = np.zeros(0)
        self._leave: npt.NDArray[Any] = np.zeros(0)
        self._away_since: npt.NDArray[Any] = np.zeros(0)
        self._calibrating: dict[int, _Calibration] = {}
        self._hint: dict[int, bool] = {}
        self._hint_base: dict[int, Array] = {}

    # -- the interface the edge runtime calls ------------------------------------------------

    def feed(
        self, sensor: str, t0: float, interval_s: float, samples: npt.ArrayLike
    ) -> list[Occupancy]:
        """The arrivals and departures the batch confirms (usually none). Samples are (n, 3)
        microtesla taken every `interval_s` from epoch second `t0`; bad samples are skipped."""
        if not (math.isfinite(t0) and math.isfinite(interval_s) and interval_s > 0):
            return []
        raw = np.asarray(samples, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != 3 or raw.shape[0] == 0:
            return []
        slot = self._slot(sensor)
        times = t0 + interval_s * np.arange(raw.shape[0], dtype=np.float64)
        # NaN makes the maximum NaN, which fails the comparison: one test for the usual case.
        sane = bool(np.abs(raw).max() <= self.config.max_abs_ut)
        if not sane or t0 <= self._last_t[slot] + 1e-6:
            keep = np.isfinite(raw).all(axis=1)
            keep &= (np.abs(np.where(np.isfinite(raw), raw, 0.0)) <= self.config.max_abs_ut).all(
                axis=1
            )
            keep &= times > self._last_t[slot] + 1e-6
            raw, times = raw[keep], times[keep]
            if raw.shape[0] == 0:
                return []
        if not self._known[slot]:
            raw, times = self._calibrate(slot, times, raw)
            if raw.shape[0] == 0:
                return []
        return self._run(np.array([slot]), times, interval_s, raw[None, :, :])

    def feed_many(
        self, sensors: list[str], t0: float, interval_s: float, samples: npt.ArrayLike
    ) -> list[Occupancy]:
        """`feed` for many sensors sharing one timeline: samples (len(sensors), n, 3)."""
        raw = np.asarray(samples, dtype=np.float64)
        if raw.ndim != 3 or raw.shape[0] != len(sensors) or raw.shape[2] != 3:
            raise ValueError(f"feed_many: samples of shape {raw.shape} for {len(sensors)} sensors")
        if raw.shape[1] == 0 or not (math.isfinite(t0) and interval_s > 0):
            return []
        slots = np.array([self._slot(name) for name in sensors], dtype=np.int64)
        sane = np.isfinite(raw).all(axis=(1, 2)) & (
            np.abs(np.nan_to_num(raw, nan=0.0)) <= self.config.max_abs_ut
        ).all(axis=(1, 2))
        fast = sane & self._known[slots] & (t0 > self._last_t[slots] + 1e-6)
        events: list[Occupancy] = []
        if fast.any():
            times = t0 + interval_s * np.arange(raw.shape[1], dtype=np.float64)
            events = self._run(slots[fast], times, interval_s, raw[fast])
        for index in np.flatnonzero(~fast):
            events.extend(self.feed(sensors[index], t0, interval_s, raw[index]))
        return events

    def occupied(self, sensor: str) -> bool:
        """The confirmed state (a pending arrival is not yet occupied, a pending departure is)."""
        slot = self._slots.get(sensor)
        if slot is None:
            return False
        if not self._known[slot]:
            return self._hint.get(slot, False)
        return int(self._state[slot]) in (OCCUPIED, LEAVING)

    def restore(
        self,
        sensor: str,
        occupied: bool,
        baseline: tuple[float, float, float] | None = None,
    ) -> None:
        """What the store says after a restart (or a failed commit): the berth is occupied or
        not. Pending candidates are dropped; the samples that follow correct a wrong hint with
        a confirmed change. `baseline` (what `baseline()` said before the restart, if the
        runtime kept it) lets a fresh detector also see a car that left during the restart."""
        slot = self._slot(sensor)
        if not self._known[slot]:
            self._hint[slot] = occupied
            if baseline is not None and np.isfinite(baseline).all() and len(baseline) == 3:
                self._hint_base[slot] = np.array(baseline, dtype=np.float64)
            return
        self._cand_t[slot] = self._good_since[slot] = _NAN
        self._bad_since[slot] = self._away_since[slot] = _NAN
        if occupied:
            if int(self._state[slot]) in (VACANT, ARRIVING):
                self._state[slot] = OCCUPIED
                self._level[slot] = self._current(slot)
                car = float(np.linalg.norm(self._level[slot] - self._base[slot]))
                self._leave[slot] = min(max(0.5 * car, self.config.low_ut), self.config.high_ut)
        else:
            if int(self._state[slot]) in (OCCUPIED, LEAVING):
                if not self._anchored[slot]:
                    self._base[slot] = self._level[slot]
                    self._anchored[slot] = True
            self._state[slot] = VACANT

    def baseline(self, sensor: str) -> tuple[float, float, float] | None:
        """The vacant baseline (uT) when known, for the device pages."""
        slot = self._slots.get(sensor)
        if slot is None or not self._known[slot] or not self._anchored[slot]:
            return None
        x, y, z = (float(v) for v in self._base[slot])
        return (x, y, z)

    # -- internals ---------------------------------------------------------------------------

    def _slot(self, sensor: str) -> int:
        slot = self._slots.get(sensor)
        if slot is not None:
            return slot
        slot = len(self._names)
        if slot >= self._capacity:
            self._grow(max(16, self._capacity * 2))
        self._slots[sensor] = slot
        self._names.append(sensor)
        return slot

    def _grow(self, capacity: int) -> None:
        extra = capacity - self._capacity
        k = self.config.median_window - 1

        def more(
            array: npt.NDArray[np.generic], fill: object, shape: tuple[int, ...] = ()
        ) -> npt.NDArray[np.generic]:
            pad = np.full((extra, *shape), fill, dtype=array.dtype)
            return np.concatenate([array, pad])

        self._known = more(self._known, False)
        self._anchored = more(self._anchored, False)
        self._state = more(self._state, VACANT)
        self._base = more(self._base, 0.0, (3,))
        self._level = more(self._level, 0.0, (3,))
        self._last_t = more(self._last_t, -math.inf)
        self._tail = more(self._tail, 0.0, (k, 3))
        self._cand_t = more(self._cand_t, _NAN)
        self._good_since = more(self._good_since, _NAN)
        self._bad_since = more(self._bad_since, _NAN)
        self._leave = more(self._leave, self.config.low_ut)
        self._away_since = more(self._away_since, _NAN)
        self._capacity = capacity

    def _current(self, slot: int) -> Array:
        """The smoothed field of the last samples seen."""
        tail = self._tail[slot]
        if tail.shape[0] == 0:
            return self._level[slot].copy()
        return np.asarray(np.median(tail, axis=0), dtype=np.float64)

    def _calibrate(self, slot: int, times: Array, raw: Array) -> tuple[Array, Array]:
        """Collect a new sensor's first samples; once `calibration_s` are in, the reference is
        their median and the samples after the calibration are returned for detection."""
        cal = self._calibrating.setdefault(slot, _Calibration())
        start = cal.times[0] if cal.times else float(times[0])
        inside = times < start + self.config.calibration_s
        cal.times.extend(float(t) for t in times[inside])
        cal.rows.extend(raw[inside])
        self._last_t[slot] = float(times[inside][-1]) if inside.any() else self._last_t[slot]
        if inside.all():
            return raw[:0], times[:0]
        reference = np.median(np.array(cal.rows), axis=0)
        del self._calibrating[slot]
        occupied = self._hint.pop(slot, False)
        known_base = self._hint_base.pop(slot, None)
        self._known[slot] = True
        self._tail[slot] = reference
        self._cand_t[slot] = self._good_since[slot] = _NAN
        self._bad_since[slot] = self._away_since[slot] = _NAN
        self._leave[slot] = self.config.low_ut
        if known_base is not None:
            # The vacant field from before the restart: the reference says what is there now.
            self._state[slot] = OCCUPIED if occupied else VACANT
            self._anchored[slot] = True
            self._base[slot] = known_base
            self._level[slot] = reference
            car = float(np.linalg.norm(reference - known_base))
            self._leave[slot] = min(max(0.5 * car, self.config.low_ut), self.config.high_ut)
        elif occupied:
            self._state[slot] = OCCUPIED
            self._anchored[slot] = False
            self._level[slot] = reference
        else:
            self._state[slot] = VACANT
            self._anchored[slot] = True
            self._base[slot] = reference
            self._level[slot] = reference
        return raw[~inside], times[~inside]

    def _run(
        self, slots: npt.NDArray[np.int64], times: Array, dt: float, raw: Array
    ) -> list[Occupancy]:
        """Detection over samples (s, n, 3) of calibrated sensors, all newer than the last."""
        cfg = self.config
        k = cfg.median_window - 1
        n = raw.shape[1]
        tail = self._tail[slots]
        restart = times[0] - self._last_t[slots] > cfg.restart_gap_s
        if restart.any():
            tail[restart] = raw[restart, :1, :]
        extended = np.concatenate([tail, raw], axis=1)
        smooth = _running_median(extended, k + 1)
        self._tail[slots] = extended[:, n:, :]
        self._last_t[slots] = times[-1]

        base = self._base[slots]
        level = self._level[slots]
        state = self._state[slots]
        anchored = self._anchored[slots]
        every_anchored = bool(anchored.all())
        ref = base if every_anchored else np.where(anchored[:, None], base, level)
        diff = smooth - ref[:, None, :]
        dev = np.sqrt((diff * diff).sum(axis=2))
        if not every_anchored:
            # Unanchored (occupied since before a restart): the car is where the level is, so
            # "car-like" is close to the level and "vacant-like" is far from it.
            far = np.where(dev >= cfg.high_ut, 0.0, cfg.high_ut)
            dev = np.where(anchored[:, None], dev, far)
        # Leaving is measured against the car's own signature: back below half of it (within
        # low..high), so a car next door that came during the stay does not hide a departure.
        leave = self._leave[slots]
        high = dev >= cfg.high_ut
        low = dev < leave[:, None]
        quiet_vacant = (state == VACANT) & ~high.any(axis=1)
        quiet_occupied = (state == OCCUPIED) & ~low.any(axis=1)
        events: list[Occupancy] = []
        for index in np.flatnonzero(~(quiet_vacant | quiet_occupied)):
            events.extend(
                self._step(
                    int(slots[index]), times, dt, smooth[index], dev[index], float(leave[index])
                )
            )
        # Baselines follow the field while nothing happens.
        span = n * dt
        if quiet_vacant.any():
            rows = np.flatnonzero(quiet_vacant)
            weight = 1.0 - math.exp(-span / cfg.vacant_tau_s)
            target = smooth[rows].mean(axis=1)
            self._base[slots[rows]] = base[rows] + weight * (target - base[rows])
        if quiet_occupied.any():
            rows = np.flatnonzero(quiet_occupied)
            # Everything but passing traffic: a car next door that comes or goes during the
            # stay moves the level, and with it the baseline.
            off = smooth[rows] - level[rows][:, None, :]
            steady = (off * off).sum(axis=2) < cfg.high_ut**2
            count = steady.sum(axis=1)
            weight = 1.0 - np.exp(-count * dt / cfg.occupied_tau_s)
            # The mean offset of the steady samples from the level (zero when there are none).
            mean_off = (off * steady[:, :, None]).sum(axis=1) / np.maximum(count, 1)[:, None]
            delta = weight[:, None] * mean_off
            self._level[slots[rows]] = level[rows] + delta
            moved = anchored[rows]
            self._base[slots[rows[moved]]] = base[rows[moved]] + delta[moved]
        return events

    def _step(
        self, slot: int, times: Array, dt: float, smooth: Array, dev: Array, leave: float
    ) -> list[Occupancy]:
        """The state machine, sample by sample, for one sensor whose batch is not quiet."""
        cfg = self.config
        state = int(self._state[slot])
        cand, good, bad, away = (
            float(self._cand_t[slot]),
            float(self._good_since[slot]),
            float(self._bad_since[slot]),
            float(self._away_since[slot]),
        )
        events: list[Occupancy] = []
        name = self._names[slot]
        devs = dev.tolist()
        for i, t in enumerate(times.tolist()):
            d = devs[i]
            if state == VACANT:
                if d < cfg.high_ut:
                    continue
                state, cand, good, bad, away = ARRIVING, t, t, _NAN, _NAN
            elif state == OCCUPIED:
                if d >= leave:
                    continue
                state, cand, good, bad, away = LEAVING, t, t, _NAN, _NAN
            arriving = state == ARRIVING
            if (d >= cfg.high_ut) if arriving else (d < leave):
                bad = away = _NAN
                if math.isnan(good):
                    good = t
                if t - good + dt < cfg.hold_s:
                    if t - cand > cfg.max_pending_s:
                        state, cand, good = (VACANT if arriving else OCCUPIED), _NAN, _NAN
                    continue
                events.append(Occupancy(name, arriving, cand, t))
                if arriving:
                    state = OCCUPIED
                    self._level[slot] = smooth[i]
                    car = float(np.sqrt(((smooth[i] - self._base[slot]) ** 2).sum()))
                    leave = min(max(0.5 * car, cfg.low_ut), cfg.high_ut)
                else:
                    state = VACANT
                    if not self._anchored[slot]:
                        self._anchored[slot] = True
                        self._base[slot] = smooth[i]
                        rest = smooth[i + 1 :] - smooth[i]
                        devs[i + 1 :] = np.sqrt((rest**2).sum(axis=1)).tolist()
                    leave = cfg.low_ut
                cand, good = _NAN, _NAN
                continue
            # Not the change: a stretch under blip_s is a wobble of the roll-over, a longer one
            # restarts the hold; back at the other side (vacant-like for an arrival, car-like
            # for a departure) for gap_s cancels the candidate (passing traffic).
            if math.isnan(bad):
                bad = t
            if t - bad + dt >= cfg.blip_s:
                good = _NAN
            other = d < cfg.low_ut if arriving else d >= max(1.5 * leave, cfg.high_ut * 0.75)
            if other:
                if math.isnan(away):
                    away = t
                if t - away + dt >= cfg.gap_s:
                    state, cand, good, bad, away = (
                        (VACANT if arriving else OCCUPIED),
                        _NAN,
                        _NAN,
                        _NAN,
                        _NAN,
                    )
                    continue
            else:
                away = _NAN
            if t - cand > cfg.max_pending_s:
                state, cand, good, bad, away = (
                    (VACANT if arriving else OCCUPIED),
                    _NAN,
                    _NAN,
                    _NAN,
                    _NAN,
                )
        self._state[slot] = state
        self._leave[slot] = leave
        self._cand_t[slot], self._good_since[slot] = cand, good
        self._bad_since[slot], self._away_since[slot] = bad, away
        return events
