"""Berth occupancy detection on simulated geomagnetic streams with ground truth: 1,000 berths
over one simulated day (accuracy), and samples per second through the edge's real path
(SensorSamples JSON parsed as received from MQTT, then the detector).

Figures: berth_detect_rate (true arrivals and departures detected within 30 s of the truth),
berth_false_rate (detected changes matching no true one, over all detected), and
berth_samples_per_s; the detection latency (truth -> confirming sample) and dating error are
printed. `WAYSIDE_BENCH_BERTHS` and `WAYSIDE_BENCH_BERTH_HOURS` shrink the run.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import numpy as np

from edge.engines.berth import BerthDetector, Occupancy
from firmware_sim.geomagnetic import (
    DayPlan,
    Truth,
    plan_street,
    render,
    samples_message,
    to_lsb,
)
from protocols.topics import SAMPLES, SensorSamples, encode, parse_message, sensor_topic

BERTHS = int(os.environ.get("WAYSIDE_BENCH_BERTHS", "1000"))
HOURS = int(os.environ.get("WAYSIDE_BENCH_BERTH_HOURS", "24"))
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, 08:00 in Shanghai
TOLERANCE_S = 30.0
UPLINK = 60  # samples per detector call in the accuracy run (a node's minute)
SEED = 2026


def match(
    truth: list[Truth], detected: list[Occupancy]
) -> tuple[int, int, list[float], list[float]]:
    """(true changes found, detected changes matching none, latencies s, dating errors s):
    each truth takes the nearest unused detection of its sensor and kind within 30 s."""
    pool: dict[tuple[str, bool], list[Occupancy]] = defaultdict(list)
    for change in detected:
        pool[(change.sensor, change.occupied)].append(change)
    used: set[int] = set()
    found, latencies, errors = 0, [], []
    for event in truth:
        candidates = [
            d
            for d in pool[(event.sensor, event.occupied)]
            if id(d) not in used and abs(d.at - event.at) <= TOLERANCE_S
        ]
        if not candidates:
            continue
        best = min(candidates, key=lambda d: abs(d.at - event.at))
        used.add(id(best))
        found += 1
        latencies.append(best.confirmed - event.at)
        errors.append(abs(best.at - event.at))
    return found, len(detected) - len(used), latencies, errors


def accuracy(plan: DayPlan) -> tuple[list[Occupancy], float]:
    """Every change the detector reports over the plan, fed a minute at a time."""
    detector = BerthDetector()
    names = [profile.serial for profile in plan.sensors]
    for name, parked in zip(names, plan.occupied_at_start, strict=True):
        detector.restore(name, parked)  # what the edge's store says at start-up
    events: list[Occupancy] = []
    spent = 0.0
    hour = int(3600 / plan.interval_s)
    for i0 in range(0, plan.samples, hour):
        n = min(hour, plan.samples - i0)
        chunk = to_lsb(render(plan, i0, n)) * 0.1  # what reaches the edge: 100 nT LSB
        started = time.perf_counter()
        for c in range(0, n, UPLINK):
            t0 = plan.start + (i0 + c) * plan.interval_s
            events.extend(detector.feed_many(names, t0, plan.interval_s, chunk[:, c : c + UPLINK]))
        spent += time.perf_counter() - started
    return events, spent


def throughput(plan: DayPlan, sensors: int, samples: int, per_message: int = 10) -> float:
    """Samples per second through parse_message + the detector, as edge/berths.py does it."""
    chunk = render(plan, 0, samples, 0, sensors)
    messages: list[tuple[str, bytes]] = []
    for c in range(0, samples, per_message):
        t0 = plan.start + c * plan.interval_s
        for b in range(sensors):
            serial = plan.sensors[b].serial
            message = samples_message(serial, c, t0, plan.interval_s, chunk[b, c : c + per_message])
            messages.append((sensor_topic("bench", serial, SAMPLES), encode(message)))
    detector = BerthDetector()
    # CPU seconds of this process: the edge's capacity, whatever else the machine runs.
    started = time.process_time()
    for topic, payload in messages:
        parsed = parse_message(topic, payload)
        if not isinstance(parsed, SensorSamples):
            raise RuntimeError(f"{topic}: not samples")
        xyz = np.asarray(parsed.xyz, dtype=np.float64) * (parsed.scale_nt / 1000.0)
        detector.feed(parsed.sensor, parsed.t0_ms / 1000, parsed.interval_ms / 1000, xyz)
    return sensors * samples / (time.process_time() - started)


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def run() -> dict[str, float]:
    started = time.perf_counter()
    plan = plan_street(BERTHS, start=START, seconds=HOURS * 3600.0, seed=SEED)
    detected, detect_s = accuracy(plan)
    # A change in the last minute cannot be confirmed yet: neither side counts it.
    end = plan.start + plan.seconds - 60.0
    truth = [event for event in plan.truth() if event.at < end]
    detected = [event for event in detected if event.at < end]
    found, false, latencies, errors = match(truth, detected)
    rate = throughput(plan, sensors=min(BERTHS, 100), samples=1800)
    arrivals = sum(1 for t in truth if t.occupied)
    print(
        f"bench_berth: {BERTHS} berths x {HOURS} h: {len(truth)} true changes"
        f" ({arrivals} arrivals), {len(detected)} detected, {found} found, {false} false;"
        f" {plan.passing.at.size} passing vehicles"
    )
    print(
        f"bench_berth: latency truth -> confirmed p50 {percentile(latencies, 50)} s,"
        f" p95 {percentile(latencies, 95)} s; dating error p50 {percentile(errors, 50)} s,"
        f" p95 {percentile(errors, 95)} s; feed_many {BERTHS * plan.samples / detect_s:,.0f}"
        f" samples/s; run {time.perf_counter() - started:.0f} s"
    )
    return {
        "berth_detect_rate": round(found / max(len(truth), 1), 5),
        "berth_false_rate": round(false / max(len(detected), 1), 5),
        "berth_samples_per_s": round(rate),
        "berth_latency_p50_s": percentile(latencies, 50),
        "berth_latency_p95_s": percentile(latencies, 95),
    }
