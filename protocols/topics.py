"""MQTT topics and payloads of geomagnetic berth sensors (what the sensor firmware publishes
and what the edge subscribes to).

A sensor publishes, QoS 1, JSON:

- `wayside/{tenant}/sensor/{serial}/samples`: a batch of raw 3-axis magnetometer samples,
  taken every `interval_ms` from `t0_ms` (epoch ms), in LSB of `scale_nt` nanotesla each. A
  real node batches a few seconds of samples per uplink to save its battery.
- `wayside/{tenant}/sensor/{serial}/heartbeat`: battery, temperature and radio quality.

The edge subscribes to `wayside/{tenant}/sensor/+/+`. A payload that is not one of these is
refused by `parse_message` with PayloadError naming what is wrong, and changes nothing.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TOPIC_ROOT = "wayside"
SAMPLES = "samples"
HEARTBEAT = "heartbeat"
MAX_BATCH = 600  # samples in one message (10 minutes at 1 Hz)


class PayloadError(ValueError):
    """An MQTT message that is not a sensor message; the text says what is wrong."""


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorSamples(_Msg):
    sensor: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, description="per-sensor message counter (wraps at 2^32)")
    t0_ms: int = Field(ge=0, description="epoch ms of the first sample")
    interval_ms: int = Field(ge=10, le=60_000)
    scale_nt: int = Field(default=100, ge=1, description="nanotesla per LSB")
    xyz: list[tuple[int, int, int]] = Field(min_length=1, max_length=MAX_BATCH)


class SensorHeartbeat(_Msg):
    sensor: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0)
    at_ms: int = Field(ge=0)
    battery_pct: int = Field(ge=0, le=100)
    temperature_c: float = Field(ge=-60, le=125)
    rssi_dbm: int | None = Field(default=None, ge=-150, le=0)


SensorMessage = SensorSamples | SensorHeartbeat


def sensor_topic(tenant: str, serial: str, kind: str) -> str:
    return f"{TOPIC_ROOT}/{tenant}/sensor/{serial}/{kind}"


def subscription(tenant: str) -> str:
    """What an edge subscribes to: every sensor message of the tenant."""
    return f"{TOPIC_ROOT}/{tenant}/sensor/+/+"


def parse_message(topic: str, payload: bytes) -> SensorMessage:
    """The message on `topic`; PayloadError when the topic or payload is not a sensor's, or
    the serial in the payload is not the topic's."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != TOPIC_ROOT or parts[2] != "sensor":
        raise PayloadError(f"not a sensor topic: {topic!r}")
    serial, kind = parts[3], parts[4]
    model: type[SensorSamples] | type[SensorHeartbeat]
    if kind == SAMPLES:
        model = SensorSamples
    elif kind == HEARTBEAT:
        model = SensorHeartbeat
    else:
        raise PayloadError(f"unknown sensor message kind {kind!r} in {topic!r}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{topic}: not JSON ({exc})") from None
    try:
        message = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(payload)"
        raise PayloadError(f"{topic}: {where}: {first['msg']}") from None
    if message.sensor != serial:
        raise PayloadError(f"{topic}: payload is from sensor {message.sensor!r}")
    return message


def encode(message: SensorMessage) -> bytes:
    return message.model_dump_json().encode()
